using DeepSharp.Kernels;

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

    [Theory]
    [InlineData(1, 16, 28, 28, 3)] // ResNet-20's first layer, on the 64 images of a batch split over the pool
    [InlineData(3, 32, 9, 11, 1)]
    [InlineData(2, 16, 8, 20, 0)]
    public void WritesTheBlockedLayoutAsItIsLaidOutAfterwards(int inChannels, int outChannels, int height, int width, int batch)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var gen = new Generator(5);
        var x = Tensor.Randn([Math.Max(batch, 1), inChannels, height, width], gen).ToArray<float>();
        var w = Tensor.Randn([outChannels, inChannels, 3, 3], gen).ToArray<float>();
        var b = Tensor.Randn([outChannels], gen).ToArray<float>();
        var shape = new BlockedShape(outChannels, g.OutH, g.OutW);
        KernelCases.AtEveryWidth(vectorWidth =>
        {
            if (!DirectConv.Applies<float>(g)) return; // no vectors
            var nchw = new float[Math.Max(batch, 1) * outChannels * g.P];
            var expected = new float[Math.Max(shape.Floats(batch), 1)];
            var actual = new float[expected.Length];
            Array.Fill(actual, float.NaN); // every float is written, the ring as zeros
            unsafe
            {
                fixed (float* px = x, pw = w, pb = b, py = nchw, pe = expected, pa = actual)
                {
                    DirectConv.Forward(px, pw, pb, py, g, relu: true);
                    BlockedConv.ToBlocked(py, pe, shape, batch);
                    DirectConv.Forward(px, pw, pb, pa, g, relu: true, shape);
                }
            }
            Assert.Equal(expected.AsSpan(0, (int)shape.Floats(batch)).ToArray(), actual.AsSpan(0, (int)shape.Floats(batch)).ToArray());
        });
    }

    [Theory]
    [InlineData(1, 6, 5, 2, 28, 28, 2, 2, 3)] // LeNet-5's first layer and its pooling, over a batch split over the pool
    [InlineData(2, 5, 3, 1, 9, 11, 3, 2, 1)]  // overlapping 3x3 windows, stride 2 on odd sizes
    [InlineData(1, 8, 3, 0, 12, 10, 2, 2, 0)]
    public void PoolsEachImageAsThePoolingStepWould(int inChannels, int outChannels, int kernel, int padding, int height, int width, int window, int stride, int batch)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, kernel, kernel, 1, 1, padding, padding, 1, 1, 1);
        var gen = new Generator(8);
        var x = Tensor.Randn([Math.Max(batch, 1), inChannels, height, width], gen).ToArray<float>();
        var w = Tensor.Randn([outChannels, inChannels, kernel, kernel], gen).ToArray<float>();
        var b = Tensor.Randn([outChannels], gen).ToArray<float>();
        int ph = (g.OutH - window) / stride + 1, pw = (g.OutW - window) / stride + 1;
        var pool = new PoolGeometry(outChannels, g.OutH, g.OutW, ph, pw, window, window, stride, stride, 0, 0);
        KernelCases.AtEveryWidth(_ =>
        {
            if (!DirectConv.Applies<float>(g)) return; // no vectors
            var conv = new float[Math.Max(batch, 1) * outChannels * g.P];
            var expected = new float[Math.Max(batch, 1) * outChannels * ph * pw];
            var actual = new float[expected.Length];
            Array.Fill(actual, float.NaN);
            unsafe
            {
                fixed (float* px = x, pw_ = w, pb = b, pc = conv, pa = actual)
                {
                    DirectConv.Forward(px, pw_, pb, pc, g, relu: true);
                    DirectConv.Forward(px, pw_, pb, pa, g, relu: true, maxPool: pool);
                }
            }
            Pooling.MaxForward<float>(conv, expected, [], pool with { Planes = batch * outChannels }, 0, batch * outChannels);
            Assert.Equal(expected.AsSpan(0, batch * outChannels * ph * pw).ToArray(), actual.AsSpan(0, batch * outChannels * ph * pw).ToArray());
        });
    }

    [Fact]
    public void RefusesABlockedOutputOfAnotherShape()
    {
        var g = new ConvGeometry(1, 1, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        if (!DirectConv.Applies<float>(g)) return;
        var ex = Assert.Throws<ArgumentException>(() =>
        {
            unsafe
            {
                var buffer = new float[16 * 14 * 14 * 2];
                fixed (float* p = buffer) DirectConv.Forward(p, p, null, p, g, false, new BlockedShape(16, 10, 12));
            }
        });
        Assert.Contains("does not hold 16 channels of 12x12", ex.Message);
        ex = Assert.Throws<ArgumentException>(() =>
        {
            unsafe
            {
                var buffer = new float[16 * 14 * 14 * 2];
                fixed (float* p = buffer) DirectConv.Forward(p, p, null, p, g, false, maxPool: new PoolGeometry(16, 11, 12, 5, 6, 2, 2, 2, 2, 0, 0));
            }
        });
        Assert.Contains("a max pool over 16 planes of 11x12 does not follow 16 channels of 12x12", ex.Message);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) => KernelCases.AssertClose(expected, actual, what, 1e-4, 1e-4);
}
