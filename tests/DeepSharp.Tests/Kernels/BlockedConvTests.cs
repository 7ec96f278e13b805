using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The channel-blocked convolution of the inference plan against the same convolution in float64: blocked and flat
/// inputs, strides 1 and 2, 1x1 to 3x3 kernels with and without padding, rows longer than a tile (cut into uneven
/// tiles), padding skipped at every edge, one and two vectors of output channels per tile, a blocked residual and the ReLU, batch 0 and 1, at every
/// vector width; the output's ring of zeros, and the same bits on one thread as on two.
/// </summary>
public class BlockedConvTests
{
    [Theory]
    [InlineData(3, 32, 32, 3, 1, 1, 14, 14, false, true)]  // ResNet-20's 32-channel block: blocked in, residual
    [InlineData(2, 64, 64, 3, 1, 1, 7, 7, false, true)]    // its 64-channel block
    [InlineData(3, 16, 16, 3, 1, 1, 28, 28, false, true)]  // its 16-channel block: one vector per tile with 16 lanes
    [InlineData(3, 16, 32, 3, 2, 1, 28, 28, true, false)]  // the stride-2 layer reading a flat input
    [InlineData(3, 16, 32, 1, 2, 0, 28, 28, true, true)]   // the 1x1 projection shortcut, adding the residual
    [InlineData(2, 32, 64, 3, 2, 1, 14, 14, false, false)] // stride 2 from blocked
    [InlineData(2, 32, 64, 1, 2, 0, 7, 7, false, true)]    // odd plane, 1x1 stride 2
    [InlineData(2, 16, 48, 3, 1, 1, 9, 31, false, true)]   // three blocks with 16 lanes: one vector per tile; two tiles per row
    [InlineData(1, 32, 32, 3, 1, 1, 3, 60, true, true)]    // batch 1, long rows: uneven tiles, rows split over the pool
    [InlineData(1, 32, 32, 3, 1, 1, 1, 1, false, true)]    // a one-pixel image: every tap but the centre reads the ring
    [InlineData(0, 16, 32, 3, 1, 1, 5, 5, false, true)]    // empty batch
    [InlineData(2, 32, 32, 1, 1, 0, 6, 5, false, false)]   // 1x1 stride 1
    [InlineData(2, 16, 32, 3, 1, 0, 8, 9, true, true)]     // no padding
    [InlineData(2, 16, 32, 2, 2, 0, 8, 9, false, true)]    // 2x2 stride 2
    [InlineData(2, 16, 32, 3, 2, 1, 9, 13, true, true)]    // stride 2 on odd sizes: the last position's right column reads the padding
    [InlineData(2, 16, 16, 2, 1, 1, 5, 6, false, false)]   // 2x2 with padding: the first position's left and the last one's right column
    [InlineData(1, 16, 32, 3, 1, 1, 2, 2, false, true)]    // two rows of two: every tile is both edges
    public void MatchesFloat64(int batch, int inChannels, int outChannels, int k, int stride, int pad, int height, int width, bool flatIn, bool residual)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, k, k, stride, stride, pad, pad, 1, 1, 1);
        var (x, w, b, r, expected) = FlatConvTests.ResidualReluCase(g, new Generator(31), residual);
        var xb = new BlockedShape(inChannels, height, width);
        var xf = new FlatShape(inChannels, height, width, 1, 1);
        var ys = new BlockedShape(outChannels, g.OutH, g.OutW);
        KernelCases.AtEveryWidth(vectorWidth =>
        {
            if (vectorWidth == 0) return; // the blocked kernel needs vectors
            Assert.True(BlockedConv.Applies(g), $"width {vectorWidth}");
            float[] input = flatIn ? FlatConvTests.ToFlat(x, xf, batch) : Blocked(x, xb, batch), add = Blocked(r, ys, batch);
            float[] Run(int threads)
            {
                var y = new float[Math.Max(ys.Floats(batch), 1)];
                Array.Fill(y, float.NaN); // every float of the output is written: values and ring
                int saved = Compute.Threads;
                Compute.Threads = threads;
                try
                {
                    unsafe
                    {
                        fixed (float* pw = w, pb = b, px = input, pr = add, py = y)
                        {
                            var packed = BlockedConv.PackWeights(pw, g);
                            fixed (float* pk = packed)
                                BlockedConv.Forward(px, flatIn ? null : xb, flatIn ? xf : null, pk, pb, py, ys, g, relu: true, residual ? pr : null);
                        }
                    }
                }
                finally { Compute.Threads = saved; }
                return y;
            }
            var actual = Run(2);
            Assert.Equal(actual, Run(1));
            int lanes = vectorWidth / 32;
            var inside = new HashSet<long>();
            for (int n = 0; n < batch; n++)
                for (int o = 0; o < outChannels; o++)
                    for (int i = 0; i < g.OutH; i++)
                        for (int j = 0; j < g.OutW; j++)
                        {
                            int e = ((n * outChannels + o) * g.OutH + i) * g.OutW + j;
                            long at = ys.Offset(n, o, i, j, lanes);
                            inside.Add(at);
                            Assert.True(Math.Abs(expected[e] - actual[at]) <= 1e-3 + 1e-4 * Math.Abs(expected[e]), $"width {vectorWidth}, y[{n}, {o}, {i}, {j}]: {actual[at]} vs {expected[e]}");
                        }
            for (long at = 0; at < ys.Floats(batch); at++)
                if (!inside.Contains(at)) Assert.True(actual[at] == 0, $"width {vectorWidth}, ring float {at}: {actual[at]}");
        });
    }

    [Fact]
    public void LayoutConversionsRoundTrip()
    {
        var shape = new BlockedShape(32, 5, 7);
        var x = Tensor.Randn([3, 32, 5, 7], new Generator(4)).ToArray<float>();
        KernelCases.AtEveryWidth(vectorWidth =>
        {
            if (vectorWidth == 0) return;
            var blocked = Blocked(x, shape, 3);
            var back = new float[x.Length];
            unsafe
            {
                fixed (float* pb = blocked, py = back) BlockedConv.FromBlocked(pb, py, shape, 3);
            }
            Assert.Equal(x, back);
            Assert.Equal(x[(2 * 32 + 17) * 35 + 4 * 7 + 6], blocked[shape.Offset(2, 17, 4, 6, vectorWidth / 32)]);
        });
    }

    private static unsafe float[] Blocked(float[] nchw, BlockedShape shape, int batch)
    {
        var blocked = new float[Math.Max(shape.Floats(batch), 1)];
        Array.Fill(blocked, float.NaN); // laying out writes every float, the ring as zeros
        fixed (float* px = nchw, pb = blocked) BlockedConv.ToBlocked(px, pb, shape, batch);
        for (long i = 0; i < shape.Floats(batch); i++) Assert.False(float.IsNaN(blocked[i]));
        return blocked;
    }
}
