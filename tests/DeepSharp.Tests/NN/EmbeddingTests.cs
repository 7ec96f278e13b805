using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

public sealed class EmbeddingTests
{
    [Fact]
    public void InitIsStandardNormalWithAZeroPaddingRow()
    {
        var e = new Embedding(500, 20, paddingIdx: 3, generator: new Generator(1));
        var w = e.Weight.ToArray<float>();
        Assert.All(w.AsSpan(3 * 20, 20).ToArray(), v => Assert.Equal(0f, v));
        double mean = w.Average(), std = Math.Sqrt(w.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(std, 0.95, 1.05);
        Assert.Equal(["weight"], e.StateDict().Keys);
        Assert.Equal("Embedding(500, 20, padding_idx=3)", e.ToString());
        Assert.Equal(4, new Embedding(5, 2, paddingIdx: -1).PaddingIdx); // negative counts from the end
    }

    [Fact]
    public void LooksUpRowsForIndicesOfAnyShape()
    {
        var e = new Embedding(4, 3, generator: new Generator(2));
        var idx = Tensor.From(new long[] { 3, 0, 3, 1, 2, 0 }, 2, 3);
        var y = e.Forward(idx);
        Assert.Equal([2, 3, 3], y.ShapeArray);
        var w = e.Weight.ToArray<float>();
        var yv = y.ToArray<float>();
        long[] flat = [3, 0, 3, 1, 2, 0];
        for (int i = 0; i < flat.Length; i++)
            for (int d = 0; d < 3; d++) Assert.Equal(w[flat[i] * 3 + d], yv[i * 3 + d]);

        Assert.Equal([3], e.Forward(Tensor.From(new long[] { 2 }, 1).Reshape()).ShapeArray); // a 0-d index gives one vector
        Assert.Equal([0, 5, 3], e.Forward(Tensor.Zeros([0, 5], DType.Int64)).ShapeArray);
        Assert.Equal(y.ToArray<float>(), Functional.Embedding(idx, e.Weight).ToArray<float>());
    }

    [Fact]
    public void RepeatedRowsAccumulateAndThePaddingRowGetsNoGradient()
    {
        var e = new Embedding(5, 2, paddingIdx: 1, generator: new Generator(3));
        var idx = Tensor.From(new long[] { 1, 4, 1, 4, 4, 0 }, 6);
        e.Forward(idx).Sum().Backward();
        var g = e.Weight.Grad!.ToArray<float>();
        float[] expected = [1, 1, 0, 0, 0, 0, 0, 0, 3, 3]; // row 0 once, row 1 padding, row 4 three times
        Assert.Equal(expected, g);

        // The padding row is a constant: an optimizer step leaves it where it was.
        var before = e.Weight.Select(0, 1).ToArray<float>();
        using (DeepSharp.Autograd.NoGrad()) e.Weight.SubInPlace(e.Weight.Grad! * 0.5);
        Assert.Equal(before, e.Weight.Select(0, 1).ToArray<float>());
    }

    [Fact]
    public void FromPretrainedCopiesAndFreezes()
    {
        var table = Tensor.Randn([6, 4], new Generator(4));
        var frozen = Embedding.FromPretrained(table);
        Assert.False(frozen.Weight.RequiresGrad);
        Assert.Equal(table.ToArray<float>(), frozen.Weight.ToArray<float>());
        Assert.NotSame(table, frozen.Weight);
        Assert.False(frozen.Forward(Tensor.From(new long[] { 1, 2 }, 2)).RequiresGrad);
        var trainable = Embedding.FromPretrained(table, freeze: false, paddingIdx: 0);
        Assert.True(trainable.Weight.RequiresGrad);
        Assert.Equal(table.Select(0, 0).ToArray<float>(), trainable.Weight.Select(0, 0).ToArray<float>()); // kept as given
    }

    [Fact]
    public void BadIndicesFailWithAClearMessage()
    {
        var e = new Embedding(7, 3);
        var tooBig = Assert.Throws<ArgumentOutOfRangeException>(() => e.Forward(Tensor.From(new long[] { 0, 7 }, 2)));
        Assert.Contains("index 7 is out of range", tooBig.Message, StringComparison.Ordinal);
        Assert.Contains("[0, 6]", tooBig.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.Forward(Tensor.From(new long[] { -1 }, 1)));
        var floats = Assert.Throws<ArgumentException>(() => e.Forward(Tensor.Zeros(2, 3)));
        Assert.Contains("int64", floats.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Embedding(4, 2, paddingIdx: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Embedding(4, 2, paddingIdx: -5));
        Assert.Throws<ArgumentException>(() => Functional.Embedding(Tensor.Zeros([2], DType.Int64), Tensor.Zeros(3)));
    }
}
