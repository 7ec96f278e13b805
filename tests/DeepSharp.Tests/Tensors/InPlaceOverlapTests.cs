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
        ["add_ tensor"] = t => t.Add_(Tensor.Ones(2, 4)),
        ["sub_ tensor"] = t => t.Sub_(Tensor.Ones(4)),
        ["mul_ tensor"] = t => t.Mul_(Tensor.Full([2, 4], 2)),
        ["div_ tensor"] = t => t.Div_(Tensor.Full([2, 4], 2)),
        ["add_ scalar"] = t => t.Add_(1),
        ["sub_ scalar"] = t => t.Sub_(1),
        ["mul_ scalar"] = t => t.Mul_(2),
        ["div_ scalar"] = t => t.Div_(2),
        ["clamp_"] = t => t.Clamp_(0, 15),
        ["relu_"] = t => t.Relu_(),
        ["copy_"] = t => t.Copy_(Tensor.Arange(8).Float().Reshape(2, 4)),
        ["copy_ broadcast"] = t => t.Copy_(Tensor.From([1f, 2f, 3f, 4f])),
        ["init uniform_"] = t => Init.Uniform_(t, 0, 1, new Generator(1)),
        ["init normal_"] = t => Init.Normal_(t, 0, 1, new Generator(1)),
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
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(3).Expand(2, 3).Add_(1));
        Assert.Contains("add_", ex.Message);
        Assert.Contains("float32 [2, 3] with strides [0, 1]: dimension 0 is expanded", ex.Message);
    }

    [Fact]
    public void WritesIntoAnExpandedViewAreRefusedUnderNoGradAndWhenRecording()
    {
        using (DeepSharp.Autograd.NoGrad())
            Assert.Throws<InvalidOperationException>(() => Base().Expand(2, 4).Mul_(3));
        var leaf = Tensor.Ones(3).RequiresGrad_();
        var y = leaf * 2; // a non-leaf with history
        var ex = Assert.Throws<InvalidOperationException>(() => y.Expand(2, 3).Add_(1));
        Assert.Contains("more than one element", ex.Message);
    }

    [Fact]
    public void FillAndZeroOfAnExpandedViewWriteTheSameValueEverywhereAndAreAllowed()
    {
        // As PyTorch (fill is idempotent): the base simply holds the value.
        var x = Base();
        x.Expand(2, 4).Fill_(7);
        Assert.Equal([7.0, 7.0], x.ToDoubleArray());
        x.Expand(2, 4).Zero_();
        Assert.Equal([0.0, 0.0], x.ToDoubleArray());
    }

    [Fact]
    public void SizeOneExpandsAndOrdinaryStridedViewsStillWork()
    {
        var x = Tensor.Arange(6).Float().Reshape(2, 3);
        x.Unsqueeze(0).Expand(1, 2, 3).Add_(1);           // stride 0 on a size-1 dim: no sharing
        x.T().Mul_(2);                                      // strided, no overlap
        x.Narrow(1, 1, 2).Copy_(Tensor.Zeros(2, 2));
        Assert.Equal([2.0, 0, 0, 8, 0, 0], x.ToDoubleArray());
    }

    [Fact]
    public void InputsThatPartlyOverlapTheWrittenTensorAreRefused()
    {
        var x = Tensor.Arange(6).Float();
        foreach (var write in new Action[]
                 {
                     () => x.Narrow(0, 1, 5).Add_(x.Narrow(0, 0, 5)),
                     () => x.Narrow(0, 0, 5).Mul_(x.Narrow(0, 1, 5)),
                     () => x.Narrow(0, 1, 5).Copy_(x.Narrow(0, 0, 5)),
                     () => x.Add_(x.Narrow(0, 0, 1)),
                 })
        {
            var ex = Assert.Throws<InvalidOperationException>(write);
            Assert.Contains("some elements of the input tensor and the written-to tensor refer to a single memory location", ex.Message);
        }
        Assert.Equal([0.0, 1, 2, 3, 4, 5], x.ToDoubleArray());
        x.Add_(x);                                          // the same elements: fine
        x.Narrow(0, 0, 3).Copy_(x.Narrow(0, 3, 3));         // disjoint: fine
        Assert.Equal([6.0, 8, 10, 6, 8, 10], x.ToDoubleArray());
    }
}
