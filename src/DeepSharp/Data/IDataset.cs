namespace DeepSharp.Data;

/// <summary>A finite, indexable collection of (input, target) examples.</summary>
public interface IDataset
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>Example <paramref name="index"/> (0 &lt;= index &lt; Count), without a batch dimension.</summary>
    (Tensor Input, Tensor Target) Get(int index);
}

/// <summary>
/// A dataset that can build a whole batch at once (for in-memory tensors: one IndexSelect per batch
/// instead of Count small copies and a stack). The result must equal stacking Get(i) for each index.
/// </summary>
public interface IBatchDataset : IDataset
{
    /// <summary>The examples at <paramref name="indices"/>, stacked along a new dim 0 (equal to stacking <see cref="IDataset.Get"/> for each index).</summary>
    (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices);
}
