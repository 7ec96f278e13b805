namespace DeepSharp.Data;

/// <summary>The examples of another dataset at the given indices, in that order (no copy).</summary>
public sealed class Subset : IBatchDataset
{
    private readonly int[] _indices;

    /// <summary>The examples of <paramref name="dataset"/> at <paramref name="indices"/>, in that order (PyTorch's <c>Subset</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the dataset.</exception>
    public Subset(IDataset dataset, ReadOnlySpan<int> indices)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        foreach (int i in indices) DatasetChecks.Index(i, dataset.Count, nameof(Subset));
        Dataset = dataset;
        _indices = indices.ToArray();
    }

    /// <summary>The underlying dataset.</summary>
    public IDataset Dataset { get; }

    /// <summary>Indices into <see cref="Dataset"/>.</summary>
    public ReadOnlySpan<int> Indices => _indices;

    /// <inheritdoc/>
    public int Count => _indices.Length;

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) Get(int index)
    {
        DatasetChecks.Index(index, Count, nameof(Subset));
        return Dataset.Get(_indices[index]);
    }

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices)
    {
        var mapped = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            DatasetChecks.Index(indices[i], Count, nameof(Subset));
            mapped[i] = _indices[indices[i]];
        }
        return DatasetChecks.Batch(Dataset, mapped);
    }
}
