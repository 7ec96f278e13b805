using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// Batch-norm statistics and gradient sums, and layer-norm row statistics, against float64 sums written out element by
/// element. The kernels sum two rows side by side; odd row counts (the last row alone), rows shorter than a vector and
/// rows with a tail must each come out as that row's own sum. Each instruction-set leg of CI runs these on its paths.
/// </summary>
[Collection("WorkerPool")]
public sealed class NormalizationKernelTests
{
    private static readonly (int N, int C, int S)[] Shapes = [(0, 2, 5), (1, 3, 17), (2, 1, 8), (3, 2, 33), (5, 3, 7), (4, 2, 1), (7, 1, 100), (3, 2, 1100)];

    private static float[] Values(int length, int seed, double offset)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() * 2 - 1 + offset)).ToArray();
    }

    private static double Close(double expected) => 1e-12 * (1 + Math.Abs(expected));

    /// <summary>The error bound of float lane sums over runs of at most 128 terms a lane, for terms of total magnitude <paramref name="magnitude"/>.</summary>
    private static double FloatSums(double magnitude) => 130 * 6e-8 * magnitude + 1e-12;

    [Fact]
    public void ChannelMomentsMatchFloat64()
    {
        foreach (var (n, c, s) in Shapes)
        {
            var x = Values(n * c * s, n + 10 * s, 0.3);
            var mean = new double[c];
            var variance = new double[c];
            Normalization.ChannelMoments<float>(x, n, c, s, mean, variance);
            var xd = x.Select(v => (double)v).ToArray();
            var meanD = new double[c];
            var varianceD = new double[c];
            Normalization.ChannelMoments<double>(xd, n, c, s, meanD, varianceD);
            for (int ch = 0; ch < c; ch++)
            {
                var values = Enumerable.Range(0, n).SelectMany(i => Enumerable.Range(0, s).Select(j => (double)x[(i * c + ch) * s + j])).ToArray();
                double m = values.Length > 0 ? values.Sum() / values.Length : 0;
                double v = values.Length > 0 ? values.Sum(e => (e - m) * (e - m)) / values.Length : 0;
                // float32 sums deviations (from the first element, then from the mean) in float lanes over runs; float64 in double.
                double first = values.Length > 0 ? values[0] : 0, count = Math.Max(values.Length, 1);
                double meanBound = FloatSums(values.Sum(e => Math.Abs(e - first))) / count, varianceBound = FloatSums(v * count) / count + 2 * meanBound * meanBound;
                Assert.True(Math.Abs(mean[ch] - m) <= meanBound && Math.Abs(meanD[ch] - m) <= Close(m), $"[{n},{c},{s}] mean of {ch}: {mean[ch]}, {meanD[ch]} vs {m}");
                Assert.True(Math.Abs(variance[ch] - v) <= varianceBound && Math.Abs(varianceD[ch] - v) <= Close(v), $"[{n},{c},{s}] variance of {ch}: {variance[ch]}, {varianceD[ch]} vs {v}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChannelGradSumsMatchFloat64(bool relu)
    {
        foreach (var (n, c, s) in Shapes)
        {
            var x = Values(n * c * s, 3 * n + s, 0.1);
            var g = Values(n * c * s, 5 * n + s, 0);
            var center = Enumerable.Range(0, c).Select(ch => 0.05 * ch).ToArray();
            var scale = Enumerable.Range(0, c).Select(ch => 1.5 - 0.25 * ch).ToArray();
            var shift = Enumerable.Range(0, c).Select(ch => 0.1 * ch - 0.05).ToArray();
            var sumG = new double[c];
            var sumGX = new double[c];
            Normalization.ChannelGradSums<float>(g, x, n, c, s, center, sumG, sumGX, relu ? scale : default, relu ? shift : default);
            for (int ch = 0; ch < c; ch++)
            {
                double a = 0, b = 0, absA = 0, absB = 0;
                float fc = (float)center[ch], fs = (float)scale[ch], fh = (float)shift[ch];
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < s; j++)
                    {
                        int at = (i * c + ch) * s + j;
                        if (relu && (x[at] - fc) * fs + fh <= 0) continue; // the forward's output in float, as the fused op computed it
                        a += g[at];
                        b += g[at] * ((double)x[at] - center[ch]);
                        absA += Math.Abs(g[at]);
                        absB += Math.Abs(g[at] * ((double)x[at] - center[ch]));
                    }
                // float32 rows sum in float lanes over runs (then in double): within float rounding of the terms' magnitudes.
                Assert.True(Math.Abs(sumG[ch] - a) <= FloatSums(absA), $"[{n},{c},{s}] sum g of {ch}: {sumG[ch]} vs {a}");
                Assert.True(Math.Abs(sumGX[ch] - b) <= FloatSums(absB), $"[{n},{c},{s}] sum g (x - m) of {ch}: {sumGX[ch]} vs {b}");
            }
        }
    }

    /// <summary>
    /// The moments and gradient sums share image pairs out over the pool and then add each channel's rows in order: the
    /// same bits on one, two and three threads, for odd and even batches (the last image alone) large enough to be split.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChannelSumsDoNotDependOnTheThreadCount(bool relu)
    {
        int saved = WorkerPool.Threads;
        try
        {
            foreach (var (n, c, s) in new[] { (9, 3, 1100), (16, 5, 196), (7, 2, 1500) })
            {
                var x = Values(n * c * s, n + s, 0.1);
                var g = Values(n * c * s, 2 * n + s, 0);
                var center = Enumerable.Range(0, c).Select(ch => 0.05 * ch).ToArray();
                var scale = Enumerable.Range(0, c).Select(ch => 1.5 - 0.25 * ch).ToArray();
                var shift = Enumerable.Range(0, c).Select(ch => 0.1 * ch - 0.05).ToArray();
                double[]? first = null;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    WorkerPool.Threads = threads;
                    var sumG = new double[c];
                    var sumGX = new double[c];
                    Normalization.ChannelGradSums<float>(g, x, n, c, s, center, sumG, sumGX, relu ? scale : default, relu ? shift : default);
                    var (mean, variance) = (new double[c], new double[c]);
                    Normalization.ChannelMoments<float>(x, n, c, s, mean, variance);
                    var sums = sumG.Concat(sumGX).Concat(mean).Concat(variance).ToArray();
                    first ??= sums;
                    Assert.Equal(first.Select(BitConverter.DoubleToInt64Bits), sums.Select(BitConverter.DoubleToInt64Bits));
                }
            }
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    /// <summary>
    /// [N, C] inputs (S = 1, batch norm over features) take the column passes, a vector of channels at a time: bit for bit
    /// the row passes' one-element rows, i.e. each channel's rows summed in order in double and each element's affine and
    /// linear map in float, with and without the fused ReLU, for channel counts with and without a vector tail.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FeatureColumnsMatchTheRowPassesBitForBit(bool relu)
    {
        foreach (var (n, c) in new[] { (0, 5), (1, 4), (3, 37), (8, 13), (64, 256), (5, 3) })
        {
            var x = Values(n * c, 7 * n + c, 0.2);
            var g = Values(n * c, 11 * n + c, 0);
            if (n > 0) for (int i = 0; i < n; i++) x[i * c] = 0.75f; // a constant channel
            var mean = new double[c];
            var variance = new double[c];
            Normalization.ChannelMoments<float>(x, n, c, 1, mean, variance);
            var center = mean;
            var scale = Enumerable.Range(0, c).Select(ch => 1.25 - 0.01 * ch).ToArray();
            var shift = Enumerable.Range(0, c).Select(ch => 0.02 * ch - 0.1).ToArray();
            var y = new float[n * c];
            Normalization.ChannelAffine<float>(x, y, n, c, 1, center, scale, shift, relu);
            var sumG = new double[c];
            var sumGX = new double[c];
            Normalization.ChannelGradSums<float>(g, x, n, c, 1, center, sumG, sumGX, relu ? scale : default, relu ? shift : default);
            var (a, b, k) = (scale, shift.Select(v => -v).ToArray(), Enumerable.Range(0, c).Select(ch => 0.003 * ch).ToArray());
            var dx = new float[n * c];
            Normalization.ChannelLinear<float>(g, x, dx, n, c, 1, a, b, center, k, relu ? scale : default, relu ? shift : default);
            for (int ch = 0; ch < c; ch++)
            {
                double sum = 0, sq = 0, sg = 0, sgx = 0;
                for (int i = 0; i < n; i++) sum += x[i * c + ch];
                double m = n > 0 ? sum / n : 0;
                for (int i = 0; i < n; i++)
                {
                    double d = x[i * c + ch] - m;
                    sq += d * d;
                }
                Assert.Equal(m, mean[ch]);
                Assert.Equal(n > 0 ? sq / n : 0, variance[ch]);
                float fc = (float)center[ch], fs = (float)scale[ch], fh = (float)shift[ch], fa = (float)a[ch], fb = (float)b[ch], fk = (float)k[ch];
                for (int i = 0; i < n; i++)
                {
                    int at = i * c + ch;
                    float v = (x[at] - fc) * fs + fh;
                    Assert.Equal(relu && v <= 0 ? 0 : v, y[at]);
                    float gj = relu && v <= 0 ? 0 : g[at];
                    sg += gj;
                    sgx += gj * ((double)x[at] - center[ch]);
                    Assert.Equal(gj * fa + (x[at] - fc) * fb + fk, dx[at]);
                }
                Assert.Equal(sg, sumG[ch]);
                Assert.Equal(sgx, sumGX[ch]);
            }
        }
    }

    [Fact]
    public void RowStatsOfOddRowCountsMatchFloat64()
    {
        foreach (var (rows, length) in new[] { (1, 9), (3, 16), (5, 33), (2, 1) })
        {
            var x = Values(rows * length, rows * 7 + length, 0);
            for (int i = 0; i < x.Length; i++) x[i] += i / length; // rows with different means
            var mean = new double[rows];
            var invStd = new double[rows];
            WorkerPoolTests.WithThreads(1, () => Normalization.RowStats<float>(x, rows, length, 1e-5, mean, invStd));
            for (int r = 0; r < rows; r++)
            {
                var row = x.Skip(r * length).Take(length).Select(v => (double)v).ToArray();
                double m = row.Average(), v = row.Sum(e => (e - m) * (e - m)) / length, inv = 1 / Math.Sqrt(v + 1e-5);
                Assert.True(Math.Abs(mean[r] - m) <= Close(m), $"{rows}x{length} row {r} mean {mean[r]} vs {m}");
                Assert.True(Math.Abs(invStd[r] - inv) <= Close(inv), $"{rows}x{length} row {r} 1/std {invStd[r]} vs {inv}");
            }
        }
    }
}
