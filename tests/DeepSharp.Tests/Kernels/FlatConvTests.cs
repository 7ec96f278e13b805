using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The flat-layout direct convolution (stride 1, many input channels) against the same convolution in float64,
/// which runs through im2col: output, input, weight and bias gradients, over paddings from none to kernel - 1,
/// odd and tiny planes (positions that end mid-tile), channel counts that leave partial register blocks, chunks of
/// several images and batch 0 and 1, at every vector width; strided layers (phase planes) likewise.
/// </summary>
public class FlatConvTests
{
    [Theory]
    [InlineData(5, 16, 16, 3, 3, 1, 1, 28, 28)]  // ResNet-20's first stage
    [InlineData(3, 32, 32, 3, 3, 1, 1, 14, 14)]
    [InlineData(9, 64, 64, 3, 3, 1, 1, 7, 7)]    // several images per chunk
    [InlineData(1, 16, 16, 3, 3, 1, 1, 28, 28)]  // batch 1: output channels split over the pool
    [InlineData(0, 16, 8, 3, 3, 1, 1, 5, 5)]     // empty batch
    [InlineData(3, 6, 16, 5, 5, 0, 0, 14, 14)]   // LeNet-5's second layer: no padding
    [InlineData(2, 7, 5, 3, 3, 1, 1, 9, 11)]     // partial blocks of output and input channels
    [InlineData(2, 5, 6, 5, 5, 2, 2, 6, 13)]
    [InlineData(3, 9, 7, 2, 3, 1, 0, 8, 5)]      // non-square kernel, padding only in height
    [InlineData(2, 4, 4, 3, 3, 2, 2, 3, 3)]      // padding kernel - 1 on a 3x3 plane: outputs bigger than the input
    [InlineData(2, 18, 3, 1, 3, 0, 1, 1, 4)]     // one-row input (a conv1d)
    [InlineData(9, 48, 8, 3, 3, 1, 1, 24, 24)]   // the weight gradient over several chunks of images
    public void MatchesTheIm2ColPathInFloat64(int batch, int inChannels, int outChannels, int kh, int kw, int padH, int padW, int height, int width)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, kh, kw, 1, 1, padH, padW, 1, 1, 1);
        if (SimdWidth.Hardware >= 128) Assert.True(FlatConv.Applies<float>(g)); // without SIMD every width is the scalar im2col path
        KernelCases.AtEveryWidth(_ => Check(batch, inChannels, outChannels, kh, kw, padH, padW, height, width));
    }

    [Theory]
    [InlineData(5, 16, 32, 3, 3, 2, 2, 1, 1, 28, 28)]  // ResNet-20's stride-2 3x3 layers
    [InlineData(3, 32, 64, 3, 3, 2, 2, 1, 1, 14, 14)]
    [InlineData(4, 16, 32, 1, 1, 2, 2, 0, 0, 28, 28)]  // its 1x1 shortcuts: one phase plane
    [InlineData(3, 32, 64, 1, 1, 2, 2, 0, 0, 7, 7)]    // odd plane
    [InlineData(1, 16, 16, 3, 3, 2, 2, 1, 1, 28, 28)]  // batch 1: output channels split over the pool
    [InlineData(0, 16, 8, 3, 3, 2, 2, 1, 1, 5, 5)]     // empty batch
    [InlineData(2, 7, 5, 3, 3, 2, 2, 1, 1, 9, 11)]     // odd sizes, partial channel blocks
    [InlineData(2, 6, 9, 5, 5, 2, 2, 2, 2, 13, 10)]
    [InlineData(2, 5, 6, 3, 3, 2, 1, 1, 0, 9, 8)]      // stride in height only, padding in height only
    [InlineData(3, 4, 7, 3, 4, 3, 3, 2, 1, 11, 12)]    // stride 3, non-square kernel: phases a tap never reads
    [InlineData(9, 48, 8, 3, 3, 2, 2, 1, 1, 24, 24)]   // several chunks of images
    [InlineData(2, 5, 6, 3, 3, 2, 2, 1, 1, 5, 3)]      // rows shorter than a vector (the stride-2 gathers load masked)
    [InlineData(2, 4, 5, 3, 3, 2, 2, 1, 1, 4, 71)]     // rows of several vectors, odd width
    public void StridedForwardMatchesFloat64(int batch, int inChannels, int outChannels, int kh, int kw, int strideH, int strideW,
        int padH, int padW, int height, int width)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, kh, kw, strideH, strideW, padH, padW, 1, 1, 1);
        if (SimdWidth.Hardware >= 128) Assert.True(FlatConv.Applies<float>(g));
        KernelCases.AtEveryWidth(_ => Check(batch, inChannels, outChannels, kh, kw, padH, padW, height, width, strideH, strideW));
    }

    [Theory]
    [InlineData(3, 16, 16, 3, 1, 1, 28, 28, true, true, true)]     // ResNet-20's block: flat in, flat out, residual added in the tiles
    [InlineData(1, 16, 16, 3, 1, 1, 28, 28, true, true, true)]     // batch 1, two tiles of channels: positions split over the pool
    [InlineData(1, 16, 8, 3, 1, 1, 9, 13, true, true, true)]       // ... one tile, shares ending mid-row
    [InlineData(1, 8, 16, 3, 1, 1, 4, 3, true, true, true)]        // ... fewer positions than a share: one share is empty
    [InlineData(1, 16, 32, 3, 1, 1, 14, 14, true, true, true)]     // batch 1, four tiles: output channels split
    [InlineData(0, 16, 8, 3, 1, 1, 5, 5, true, true, false)]       // empty batch
    [InlineData(9, 64, 64, 3, 1, 1, 7, 7, true, true, true)]       // several images per chunk: chunks end mid-vector
    [InlineData(2, 7, 5, 3, 1, 1, 9, 11, false, true, false)]      // NCHW in, flat out; partial channel blocks
    [InlineData(2, 7, 5, 3, 1, 1, 9, 11, true, false, true)]       // flat in, NCHW out, flat residual
    [InlineData(2, 6, 9, 5, 1, 2, 6, 13, true, true, true)]        // 5x5, padding 2
    [InlineData(3, 16, 32, 3, 2, 1, 28, 28, true, true, false)]    // stride 2 from flat into flat
    [InlineData(3, 16, 32, 1, 2, 0, 28, 28, true, true, true)]     // the 1x1 shortcut: its layout widened to the output's
    [InlineData(2, 5, 6, 3, 2, 1, 9, 7, false, true, true)]        // odd planes, NCHW in
    [InlineData(2, 5, 6, 3, 2, 1, 9, 7, true, false, false)]       // strided, flat in, NCHW out
    public void FlatValuesMatchFloat64(int batch, int inChannels, int outChannels, int k, int stride, int pad, int height, int width,
        bool flatIn, bool flatOut, bool residual)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, k, k, stride, stride, pad, pad, 1, 1, 1);
        var (x, w, b, r, expected) = ResidualReluCase(g, new Generator(23), residual);
        // A flat input as a same-padded stride-1 layer reads it (pad 1 for a strided reader); the output as a 3x3 layer would.
        var xs = new FlatShape(inChannels, height, width, stride == 1 ? pad : 1, stride == 1 ? pad : 1);
        var natural = stride == 1 ? new FlatLayout(g, 1, 1).RowStride - g.OutW : 1;
        var ys = new FlatShape(outChannels, g.OutH, g.OutW, natural, natural);
        KernelCases.AtEveryWidth(vectorWidth =>
        {
            if (vectorWidth == 0) return; // the flat kernel needs vectors
            Assert.True(FlatConv.AppliesForward<float>(g));
            int lanes = vectorWidth / 32;
            float[] xIn = flatIn ? ToFlat(x, xs, batch) : x;
            float[] rIn = residual && (flatOut || flatIn) ? ToFlat(r, ys, batch) : r; // a flat residual whenever anything is flat
            bool flatResidual = residual && (flatOut || flatIn);
            var y = new float[flatOut ? ys.Floats(batch) : Math.Max(expected.Length, 1)];
            Array.Fill(y, float.NaN); // every float of a flat output is written: values, borders and slack
            unsafe
            {
                fixed (float* pw = w, pb = b, px = xIn, pr = rIn, py = y)
                {
                    var packed = FlatConv.PackWeights(pw, g);
                    fixed (float* pk = packed)
                        FlatConv.ForwardPacked(px, pk, pb, py, g, relu: true, residual ? pr : null, flatIn ? xs : null, flatOut ? ys : null, flatResidual ? ys : null);
                }
            }
            var layout = ys.Layout(batch, lanes);
            for (int n = 0; n < batch; n++)
                for (int o = 0; o < outChannels; o++)
                    for (int i = 0; i < g.OutH; i++)
                        for (int j = 0; j < g.OutW; j++)
                        {
                            int e = ((n * outChannels + o) * g.OutH + i) * g.OutW + j;
                            float actual = flatOut ? y[o * layout.ChannelLength + layout.Origin + (n * layout.ImageRows + i) * layout.RowStride + j] : y[e];
                            Assert.True(Math.Abs(expected[e] - actual) <= 1e-3 + 1e-4 * Math.Abs(expected[e]), $"width {vectorWidth}, y[{n}, {o}, {i}, {j}]: {actual} vs {expected[e]}");
                        }
            if (!flatOut) return;
            // Everything else in the output channels is zero: the borders a following layer reads as padding.
            var content = new HashSet<int>();
            for (int o = 0; o < outChannels; o++)
                for (int n = 0; n < batch; n++)
                    for (int i = 0; i < g.OutH; i++)
                        for (int j = 0; j < g.OutW; j++)
                            content.Add(o * layout.ChannelLength + layout.Origin + (n * layout.ImageRows + i) * layout.RowStride + j);
            for (int at = 0; at < outChannels * layout.ChannelLength; at++)
                if (!content.Contains(at)) Assert.True(y[at] == 0, $"width {vectorWidth}, border float {at}: {y[at]}");
        });
    }

    /// <summary>Random x, w, bias and residual for <paramref name="g"/> (square stride and padding), and relu(conv + bias (+ residual)) in float64.</summary>
    internal static (float[] X, float[] W, float[] Bias, float[] Residual, double[] Expected) ResidualReluCase(in ConvGeometry g, Generator gen, bool residual)
    {
        int batch = g.Batch, c = g.InChannels, o = g.OutChannels, k = g.KernelH;
        float[] x = Tensor.Randn([batch, c, g.InH, g.InW], gen).ToArray<float>(), w = Tensor.Randn([o, c, k, k], gen).ToArray<float>();
        float[] b = Tensor.Randn([o], gen).ToArray<float>(), r = Tensor.Randn([batch, o, g.OutH, g.OutW], gen).ToArray<float>();
        var y64 = Tensor.Conv2d(Tensor.From(x, batch, c, g.InH, g.InW).To(DType.Float64), Tensor.From(w, o, c, k, k).To(DType.Float64),
            Tensor.From(b, o).To(DType.Float64), g.StrideH, g.PadH);
        if (residual) y64 += Tensor.From(r, batch, o, g.OutH, g.OutW).To(DType.Float64);
        return (x, w, b, r, y64.Relu().ToArray<double>());
    }

    internal static unsafe float[] ToFlat(float[] nchw, FlatShape shape, int batch)
    {
        var flat = new float[Math.Max(shape.Floats(batch), 1)];
        Array.Fill(flat, float.NaN); // laying out writes every float a reader may touch
        fixed (float* px = nchw, pf = flat) FlatConv.ToFlat(px, pf, shape, batch);
        for (int i = 0; i < shape.Channels * shape.Layout(batch, SimdWidth.Current / 32).ChannelLength; i++) Assert.False(float.IsNaN(flat[i]));
        return flat;
    }

    [Fact]
    public void FusedBiasAndReluMatchTheReference()
    {
        var g = new ConvGeometry(3, 16, 10, 9, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        var gen = new Generator(5);
        float[] x = Tensor.Randn([3, 16, 10, 9], gen).ToArray<float>(), w = Tensor.Randn([12, 16, 3, 3], gen).ToArray<float>();
        float[] b = Tensor.Randn([12], gen).ToArray<float>();
        var expected = Tensor.Conv2d(Tensor.From(x, 3, 16, 10, 9).To(DType.Float64), Tensor.From(w, 12, 16, 3, 3).To(DType.Float64),
            Tensor.From(b, 12).To(DType.Float64), 1, 1).Relu().ToArray<double>();
        KernelCases.AtEveryWidth(width =>
        {
            if (width == 0) return; // the flat kernel needs vectors
            var y = new float[expected.Length];
            unsafe
            {
                fixed (float* px = x, pw = w, pb = b, py = y) FlatConv.Forward(px, pw, pb, py, g, relu: true);
            }
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(expected[i] - y[i]) <= 1e-4 + 1e-4 * Math.Abs(expected[i]), $"width {width}, y[{i}]: {y[i]} vs {expected[i]}");
        });
    }

    [Fact]
    public void WeightGradientIsTheSameOnOneAndTwoThreads()
    {
        var gen = new Generator(8);
        var x = Tensor.Randn([11, 16, 14, 14], gen);
        var w = Tensor.Randn([16, 16, 3, 3], gen);
        var upstream = Tensor.Randn([11, 16, 14, 14], gen);
        float[] Grad(int threads)
        {
            int saved = Compute.Threads;
            Compute.Threads = threads;
            try
            {
                var wg = w.Detach().SetRequiresGrad();
                (Tensor.Conv2d(x, wg, null, 1, 1) * upstream).Sum().Backward();
                return wg.Grad!.ToArray<float>();
            }
            finally { Compute.Threads = saved; }
        }
        Assert.Equal(Grad(1), Grad(2));
    }

    /// <summary>Output, input, weight and bias gradients of a convolution against the same in float64 (im2col).</summary>
    internal static void Check(int batch, int inChannels, int outChannels, int kh, int kw, int padH, int padW, int height, int width,
        int strideH = 1, int strideW = 1)
    {
        var gen = new Generator(17);
        var x = Tensor.Randn([batch, inChannels, height, width], gen).SetRequiresGrad();
        var w = Tensor.Randn([outChannels, inChannels, kh, kw], gen).SetRequiresGrad();
        var b = Tensor.Randn([outChannels], gen).SetRequiresGrad();
        var x64 = x.Detach().To(DType.Float64).SetRequiresGrad();
        var w64 = w.Detach().To(DType.Float64).SetRequiresGrad();
        var b64 = b.Detach().To(DType.Float64).SetRequiresGrad();
        var y = Tensor.Conv2d(x, w, b, (strideH, strideW), (padH, padW));
        var y64 = Tensor.Conv2d(x64, w64, b64, (strideH, strideW), (padH, padW));
        var upstream = Tensor.Randn(y.ShapeArray, gen);
        (y * upstream).Sum().Backward();
        (y64 * upstream.To(DType.Float64)).Sum().Backward();
        AssertClose(y64, y, "output");
        AssertClose(x64.Grad!, x.Grad!, "input gradient");
        AssertClose(w64.Grad!, w.Grad!, "weight gradient");
        AssertClose(b64.Grad!, b.Grad!, "bias gradient");
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) => KernelCases.AssertClose(expected, actual, what, 1e-3, 1e-4);
}
