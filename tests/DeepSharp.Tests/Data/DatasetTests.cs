using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

public sealed class DatasetTests
{
    /// <summary>n examples: input [2] = (i, -i), target i.</summary>
    internal static TensorDataset Range(int n)
    {
        var x = new float[n * 2];
        for (int i = 0; i < n; i++) (x[2 * i], x[2 * i + 1]) = (i, -i);
        return new TensorDataset(Tensor.From(x, n, 2), Tensor.Arange(n));
    }

    [Fact]
    public void TensorDatasetGetsRowsAndBatches()
    {
        var ds = Range(5);
        Assert.Equal(5, ds.Count);
        var (x, y) = ds.Get(3);
        Assert.Equal([3f, -3f], x.ToArray<float>());
        Assert.Equal(0, y.Rank);
        Assert.Equal(3L, y.Item<long>());
        var (bx, by) = ds.GetBatch([4, 0, 4]);
        Assert.Equal([3, 2], bx.Shape.ToArray());
        Assert.Equal([4L, 0, 4], by.ToArray<long>());
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Get(5));
        Assert.Contains("index -1 is out of range for a dataset of 5", Assert.Throws<ArgumentOutOfRangeException>(() => ds.GetBatch([0, -1])).Message);
        var e = Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros(3, 2), Tensor.Zeros(4)));
        Assert.Contains("inputs have 3 examples (shape [3, 2]) but targets have 4", e.Message);
    }

    [Fact]
    public void SubsetMapsIndices()
    {
        var sub = new Subset(Range(10), [7, 2, 5]);
        Assert.Equal(3, sub.Count);
        Assert.Equal(2L, sub.Get(1).Target.Item<long>());
        Assert.Equal([5L, 7], sub.GetBatch([2, 0]).Target.ToArray<long>());
        Assert.Throws<ArgumentOutOfRangeException>(() => new Subset(Range(3), [3]));
    }

    [Fact]
    public void RandomSplitByLengthsIsADisjointReproduciblePartition()
    {
        var ds = Range(20);
        var a = Datasets.RandomSplit(ds, [15, 5], new Generator(3));
        var b = Datasets.RandomSplit(ds, [15, 5], new Generator(3));
        Assert.Equal([15, 5], a.Select(s => s.Count));
        Assert.Equal(a[0].Indices.ToArray(), b[0].Indices.ToArray());
        Assert.Equal(Enumerable.Range(0, 20), a.SelectMany(s => s.Indices.ToArray()).Order());
        Assert.NotEqual(Enumerable.Range(0, 15), a[0].Indices.ToArray()); // actually shuffled
        Assert.NotEqual(a[0].Indices.ToArray(), Datasets.RandomSplit(ds, [15, 5], new Generator(4))[0].Indices.ToArray());
        Assert.Contains("add up to 19 but the dataset has 20", Assert.Throws<ArgumentException>(() => Datasets.RandomSplit(ds, [15, 4])).Message);
    }

    [Fact]
    public void RandomSplitByFractionsDealsTheRemainderLikePyTorch()
    {
        var ds = Range(10);
        Assert.Equal([4, 3, 3], Datasets.RandomSplit(ds, [0.33, 0.33, 0.34], new Generator(1)).Select(s => s.Count));
        Assert.Equal([8, 2], Datasets.RandomSplit(ds, [0.8, 0.2], new Generator(1)).Select(s => s.Count));
        Assert.Contains("add up to 0.9", Assert.Throws<ArgumentException>(() => Datasets.RandomSplit(ds, [0.5, 0.4])).Message);
    }
}
