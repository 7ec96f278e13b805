namespace DeepSharp.Data;

/// <summary>
/// Examples are the rows (dim 0) of an input tensor and a target tensor of equal length, like
/// PyTorch's TensorDataset. Get returns views; batches are gathered with IndexSelect.
/// </summary>
public sealed class TensorDataset : IBatchDataset
{
    /// <summary>Pairs the rows of <paramref name="inputs"/> with those of <paramref name="targets"/> (PyTorch's <c>TensorDataset</c>).</summary>
    /// <exception cref="ArgumentException">A tensor is a scalar, or their first dimensions differ.</exception>
    public TensorDataset(Tensor inputs, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.Rank == 0 || targets.Rank == 0)
            throw new ArgumentException($"TensorDataset: inputs and targets need a leading example dimension, got shapes {ShapeText(inputs)} and {ShapeText(targets)}");
        if (inputs.Size(0) != targets.Size(0))
            throw new ArgumentException($"TensorDataset: inputs have {inputs.Size(0)} examples (shape {ShapeText(inputs)}) but targets have {targets.Size(0)} (shape {ShapeText(targets)})");
        Inputs = inputs;
        Targets = targets;
    }

    /// <summary>Inputs, one example per index of dim 0.</summary>
    public Tensor Inputs { get; }

    /// <summary>Targets, one per index of dim 0.</summary>
    public Tensor Targets { get; }

    /// <inheritdoc/>
    public int Count => Inputs.Size(0);

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) Get(int index)
    {
        DatasetChecks.Index(index, Count, nameof(TensorDataset));
        return (Inputs[index], Targets[index]);
    }

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices)
    {
        var index = DatasetChecks.IndexTensor(indices, Count, nameof(TensorDataset));
        return (Inputs.IndexSelect(0, index), Targets.IndexSelect(0, index));
    }

    private static string ShapeText(Tensor t) => Shapes.Format(t.Shape);
}
