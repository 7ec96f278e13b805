using DeepSharp.NN;

namespace DeepSharp.Tests.Tensors;

// Regression (issue 11): [10, 20].expand(2, 4).add_(1) gave [11, 21] and copy_ into an expanded view kept the last
// row. Writes into a tensor whose elements share memory are refused as PyTorch refuses them.
public sealed class InPlaceOverlapTests
{
    private static Tensor Base() => Tensor.From([10f, 20f], 2, 1);

    public static TheoryData<string> Writes => new(InPlaceWrites.Keys);

    private static readonly Dictionary<string, Action<Tensor>> InPlaceWrites = new()
    {
        ["add_ tensor"] = t => t.AddInPlace(Tensor.Ones(2, 4)),
        ["sub_ tensor"] = t => t.SubInPlace(Tensor.Ones(4)),
        ["mul_ tensor"] = t => t.MulInPlace(Tensor.Full([2, 4], 2)),
        ["div_ tensor"] = t => t.DivInPlace(Tensor.Full([2, 4], 2)),
        ["add_ scalar"] = t => t.AddInPlace(1),
        ["sub_ scalar"] = t => t.SubInPlace(1),
        ["mul_ scalar"] = t => t.MulInPlace(2),
        ["div_ scalar"] = t => t.DivInPlace(2),
        ["clamp_"] = t => t.ClampInPlace(0, 15),
        ["relu_"] = t => t.ReluInPlace(),
        ["copy_"] = t => t.CopyFrom(Tensor.Arange(8).Float().Reshape(2, 4)),
        ["copy_ broadcast"] = t => t.CopyFrom(Tensor.From([1f, 2f, 3f, 4f])),
        ["init uniform_"] = t => Init.Uniform(t, 0, 1, new Generator(1)),
        ["init normal_"] = t => Init.Normal(t, 0, 1, new Generator(1)),
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public void WritesIntoAnExpandedViewAreRefused(string name)
    {
        var x = Base();
        var ex = Assert.Throws<InvalidOperationException>(() => InPlaceWrites[name](x.Expand(2, 4)));
        Assert.Contains("more than one element of the written-to tensor refers to a single memory location", ex.Message);
        Assert.Contains("Clone()", ex.Message);
        Assert.Equal([10.0, 20.0], x.ToDoubleArray()); // nothing was written
    }

    [Fact]
    public void TheMessageNamesTheExpandedDimension()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(3).Expand(2, 3).AddInPlace(1));
        Assert.Contains("add_", ex.Message);
        Assert.Contains("float32 [2, 3] with strides [0, 1]: dimension 0 is expanded", ex.Message);
    }

    [Fact]
    public void WritesIntoAnExpandedViewAreRefusedUnderNoGradAndWhenRecording()
    {
        using (DeepSharp.Autograd.NoGrad())
            Assert.Throws<InvalidOperationException>(() => Base().Expand(2, 4).MulInPlace(3));
        var leaf = Tensor.Ones(3).SetRequiresGrad();
        var y = leaf * 2; // a non-leaf with history
        var ex = Assert.Throws<InvalidOperationException>(() => y.Expand(2, 3).AddInPlace(1));
        Assert.Contains("more than one element", ex.Message);
    }

    [Fact]
    public void FillAndZeroOfAnExpandedViewWriteTheSameValueEverywhereAndAreAllowed()
    {
        // As PyTorch (fill is idempotent): the base simply holds the value.
        var x = Base();
        x.Expand(2, 4).Fill(7);
        Assert.Equal([7.0, 7.0], x.ToDoubleArray());
        x.Expand(2, 4).Zero();
        Assert.Equal([0.0, 0.0], x.ToDoubleArray());
    }

    [Fact]
    public void SizeOneExpandsAndOrdinaryStridedViewsStillWork()
    {
        var x = Tensor.Arange(6).Float().Reshape(2, 3);
        x.Unsqueeze(0).Expand(1, 2, 3).AddInPlace(1);           // stride 0 on a size-1 dim: no sharing
        x.T().MulInPlace(2);                                      // strided, no overlap
        x.Narrow(1, 1, 2).CopyFrom(Tensor.Zeros(2, 2));
        Assert.Equal([2.0, 0, 0, 8, 0, 0], x.ToDoubleArray());
    }

    [Fact]
    public void InputsThatPartlyOverlapTheWrittenTensorAreRefused()
    {
        var x = Tensor.Arange(6).Float();
        foreach (var write in new Action[]
                 {
                     () => x.Narrow(0, 1, 5).AddInPlace(x.Narrow(0, 0, 5)),
                     () => x.Narrow(0, 0, 5).MulInPlace(x.Narrow(0, 1, 5)),
                     () => x.Narrow(0, 1, 5).CopyFrom(x.Narrow(0, 0, 5)),
                     () => x.AddInPlace(x.Narrow(0, 0, 1)),
                 })
        {
            var ex = Assert.Throws<InvalidOperationException>(write);
            Assert.Contains("some elements of the input tensor and the written-to tensor refer to a single memory location", ex.Message);
        }
        Assert.Equal([0.0, 1, 2, 3, 4, 5], x.ToDoubleArray());
        x.AddInPlace(x);                                          // the same elements: fine
        x.Narrow(0, 0, 3).CopyFrom(x.Narrow(0, 3, 3));         // disjoint: fine
        Assert.Equal([6.0, 8, 10, 6, 8, 10], x.ToDoubleArray());
    }
}
