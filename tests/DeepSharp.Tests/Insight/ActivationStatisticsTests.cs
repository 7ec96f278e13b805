using DeepSharp.Insight;

namespace DeepSharp.Tests.Insight;

/// <summary>The float32 fast path of the activation statistics (SIMD moments, vectorised histogram) against a scalar reference, over many lengths.</summary>
public sealed class ActivationStatisticsTests
{
    /// <summary>The histogram the statistics promise: bin = clamp((v - lo) * scale, 0, bins - 1) truncated, in float32 as the kernel computes it.</summary>
    private static long[] ReferenceCounts(float[] values, double lo, double hi, int bins)
    {
        var counts = new long[bins];
        float scale = hi > lo ? (float)(bins / (hi - lo)) : 0, offset = (float)lo;
        foreach (float v in values)
        {
            float position = (v - offset) * scale;
            counts[position <= 0 ? 0 : position >= bins - 1 ? bins - 1 : (int)position]++;
        }
        return counts;
    }

    public static TheoryData<int> Lengths => [.. Enumerable.Range(0, 70), 255, 256, 257, 1000, 4097, 65_537];

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Float32StatisticsMatchTheScalarReference(int n)
    {
        var g = new Generator((ulong)n + 1);
        // A ReLU-like mix: half exact zeros, the rest spread, some values exactly on bin edges.
        var values = Tensor.Randn([n], g).ToArray<float>().Select((v, i) => i % 2 == 0 ? 0f : i % 7 == 0 ? MathF.Round(v * 4) / 4 : v).ToArray();
        foreach (var (range, bins) in new[] { (((double, double)?)null, 32), ((-1.0, 1.0), 8), ((0.0, 0.0), 4) })
        {
            var s = ActivationStatistics.Compute("layer", "ReLU", Tensor.From(values, n), SaturationKind.None, bins, range);
            Assert.Equal(ReferenceCounts(values, s.HistogramMin, s.HistogramMax, bins), s.Counts);
            Assert.Equal(n, s.Counts.Sum());
            if (n == 0) continue;
            Assert.Equal(values.Average(v => (double)v), s.Mean, 5);
            Assert.Equal(values.Count(v => v == 0) / (double)n, s.ZeroFraction, 12);
            Assert.Equal(values.Min(), s.Min);
            Assert.Equal(values.Max(), s.Max);
            if (range is null) Assert.Equal(ActivationStatistics.AutoRange(values.Min(), values.Max()), (s.HistogramMin, s.HistogramMax));
        }
    }

    [Fact]
    public void NonFiniteValuesTakeTheGenericPathAndAreCounted()
    {
        float[] values = [1, float.NaN, -2, float.PositiveInfinity, 0, 3, float.NegativeInfinity, 0.5f, 0.25f];
        var s = ActivationStatistics.Compute("layer", "Linear", Tensor.From(values, values.Length), SaturationKind.None, 4);
        Assert.Equal(3, s.NonFinite);
        Assert.Equal(-2, s.Min);
        Assert.Equal(3, s.Max);
        Assert.Equal(values.Length - 1, s.Counts.Sum()); // NaN has no bin; the infinities go to the end bins
    }
}
