using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// Max pooling without room for winner indices (the inference plan's form) gives the values the recording form gives:
/// the 2x2 stride-2 fast path (a vector path on AVX-512, with row tails) and the generic windows, NaN included.
/// </summary>
public sealed class PoolingKernelTests
{
    [Theory]
    [InlineData(3, 28, 28, 2, 2)]  // LeNet's first pool: 14 windows a row, one masked vector
    [InlineData(2, 9, 70, 2, 2)]   // 35 windows a row: two full vectors and a tail; the odd last row and column unused
    [InlineData(2, 7, 7, 3, 2)]    // generic windows, overlapping
    [InlineData(1, 5, 6, 2, 1)]
    public void WithoutIndicesGivesTheValuesOfTheRecordingForm(int planes, int h, int w, int kernel, int stride)
    {
        int outH = PoolGeometry.OutputSize(h, kernel, stride, 0, 1, false), outW = PoolGeometry.OutputSize(w, kernel, stride, 0, 1, false);
        var g = new PoolGeometry(planes, h, w, outH, outW, kernel, kernel, stride, stride, 0, 0);
        var rng = new Random(7);
        var x = new float[planes * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        x[5] = float.NaN; // a NaN wins its windows, whichever form
        x[^3] = float.NaN;
        var recorded = new float[planes * outH * outW];
        var plain = new float[recorded.Length];
        var indices = new long[recorded.Length];
        Pooling.MaxForward<float>(x, recorded, indices, g, 0, planes);
        Pooling.MaxForward<float>(x, plain, [], g, 0, planes);
        Assert.Equal(recorded.Select(BitConverter.SingleToInt32Bits), plain.Select(BitConverter.SingleToInt32Bits));
        Assert.Contains(plain, float.IsNaN);
        for (int o = 0; o < recorded.Length; o++)
        {
            int plane = o / (outH * outW);
            float winner = x[plane * h * w + (int)indices[o]];
            Assert.True(BitConverter.SingleToInt32Bits(winner) == BitConverter.SingleToInt32Bits(recorded[o]), $"output {o}");
        }
    }

    /// <summary>
    /// The max-pool backward of non-overlapping 2x2 windows (written once per input position on AVX-512) equals the
    /// scatter's definition bit for bit: zeros, then each window's gradient added at its winner (a -0 gradient lands as
    /// +0), with row tails, windows past a vector of sixteen and the odd last row and column that no window covers.
    /// </summary>
    [Theory]
    [InlineData(3, 28, 28)]
    [InlineData(2, 14, 14)]
    [InlineData(2, 9, 70)]
    [InlineData(1, 5, 3)]
    public void MaxBackwardOf2x2WindowsIsTheScatter(int planes, int h, int w)
    {
        int outH = h / 2, outW = w / 2;
        var g = new PoolGeometry(planes, h, w, outH, outW, 2, 2, 2, 2, 0, 0);
        var rng = new Random(5);
        var x = new float[planes * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        x[4] = float.NaN;
        var y = new float[planes * outH * outW];
        var indices = new long[y.Length];
        Pooling.MaxForward<float>(x, y, indices, g, 0, planes);
        var gy = new float[y.Length];
        for (int i = 0; i < gy.Length; i++) gy[i] = (float)(rng.NextDouble() * 2 - 1);
        gy[1] = -0f;
        var expected = new float[x.Length];
        for (int o = 0; o < gy.Length; o++) expected[o / (outH * outW) * h * w + (int)indices[o]] += gy[o];
        var gx = Enumerable.Repeat(float.NaN, x.Length).ToArray(); // every position must be written
        Pooling.MaxBackward<float>(gy, indices, gx, g, 0, planes);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), gx.Select(BitConverter.SingleToInt32Bits));
    }
}
