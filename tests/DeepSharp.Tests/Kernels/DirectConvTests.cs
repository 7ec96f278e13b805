namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The direct float32 convolution (few taps, stride 1) against the same convolution in float64, which runs
/// through im2col: outputs, weight and bias gradients over paddings, odd widths (vector tails) and channel
/// counts that leave a partial block of four, at every vector width.
/// </summary>
public class DirectConvTests
{
    [Theory]
    [InlineData(1, 6, 5, 2, 28, 28)]   // LeNet-5's first layer
    [InlineData(1, 32, 3, 1, 28, 28)]  // the cnn model's first layer
    [InlineData(2, 3, 3, 0, 9, 11)]
    [InlineData(1, 5, 5, 2, 40, 7)]    // three 16-column chunks, last one partial
    [InlineData(3, 1, 3, 1, 12, 17)]
    [InlineData(1, 13, 3, 1, 10, 9)]   // a block of eight (four with 16 registers) and a partial one of five (one)
    [InlineData(2, 7, 3, 1, 8, 20)]    // seven channels: one partial block on every register file
    public void MatchesTheIm2ColPathInFloat64(int inChannels, int outChannels, int kernel, int padding, int height, int width) =>
        KernelCases.AtEveryWidth(_ => Check(inChannels, outChannels, kernel, padding, height, width));

    private static void Check(int inChannels, int outChannels, int kernel, int padding, int height, int width)
    {
        var gen = new Generator(11);
        var x = Tensor.Randn([3, inChannels, height, width], gen);
        var w = Tensor.Randn([outChannels, inChannels, kernel, kernel], gen).SetRequiresGrad();
        var b = Tensor.Randn([outChannels], gen).SetRequiresGrad();
        var w64 = w.Detach().To(DType.Float64).SetRequiresGrad();
        var b64 = b.Detach().To(DType.Float64).SetRequiresGrad();
        var y = Tensor.Conv2d(x, w, b, 1, padding);
        var y64 = Tensor.Conv2d(x.To(DType.Float64), w64, b64, 1, padding);
        var upstream = Tensor.Randn(y.ShapeArray, gen);
        (y * upstream).Sum().Backward();
        (y64 * upstream.To(DType.Float64)).Sum().Backward();
        AssertClose(y64, y, "output");
        AssertClose(w64.Grad!, w.Grad!, "weight gradient");
        AssertClose(b64.Grad!, b.Grad!, "bias gradient");
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) => KernelCases.AssertClose(expected, actual, what, 1e-4, 1e-4);
}
