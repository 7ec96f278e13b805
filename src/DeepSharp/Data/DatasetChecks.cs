namespace DeepSharp.Data;

internal static class DatasetChecks
{
    public static void Index(int index, int count, string name)
    {
        if ((uint)index >= (uint)count)
            throw new ArgumentOutOfRangeException(nameof(index), $"{name}: index {index} is out of range for a dataset of {count} examples");
    }

    /// <summary>Validated indices as the int64 tensor IndexSelect takes.</summary>
    public static Tensor IndexTensor(ReadOnlySpan<int> indices, int count, string name)
    {
        var idx = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            Index(indices[i], count, name);
            idx[i] = indices[i];
        }
        return Tensor.From(idx);
    }

    /// <summary>Batch from a dataset: its fast path when it has one, else Get per index and stack.</summary>
    public static (Tensor Input, Tensor Target) Batch(IDataset dataset, ReadOnlySpan<int> indices)
    {
        if (dataset is IBatchDataset batched) return batched.GetBatch(indices);
        if (indices.Length == 0) throw new ArgumentException("cannot build an empty batch from a dataset without a batch path");
        var inputs = new Tensor[indices.Length];
        var targets = new Tensor[indices.Length];
        for (int i = 0; i < indices.Length; i++) (inputs[i], targets[i]) = dataset.Get(indices[i]);
        return (Collate(inputs, "input", indices), Collate(targets, "target", indices));
    }

    private static Tensor Collate(Tensor[] items, string what, ReadOnlySpan<int> indices)
    {
        for (int i = 1; i < items.Length; i++)
            if (items[i].Shape != items[0].Shape || items[i].DType != items[0].DType)
                throw new InvalidOperationException($"collate: example {indices[i]} has {what} {items[i].DType.Name()} {Shapes.Format(items[i].Shape)} but example {indices[0]} has {items[0].DType.Name()} {Shapes.Format(items[0].Shape)}; all examples in a batch must match");
        return Tensor.Stack(items);
    }
}
