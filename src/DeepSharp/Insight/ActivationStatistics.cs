using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;
using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>Which limits a layer's outputs can saturate at.</summary>
public enum SaturationKind
{
    /// <summary>Not a squashing activation: saturation is not reported.</summary>
    None,

    /// <summary>Sigmoid: outputs in (0, 1); saturated within <see cref="ActivationStatistics.SaturationMargin"/> of 0 or 1.</summary>
    Sigmoid,

    /// <summary>Tanh: outputs in (-1, 1); saturated within the margin of -1 or 1.</summary>
    Tanh,
}

/// <summary>
/// Statistics of one layer's output on one recorded batch. <see cref="Std"/> is the population
/// standard deviation; <see cref="ZeroFraction"/> counts exact zeros (dead ReLUs);
/// <see cref="Saturation"/> is null unless the layer is a sigmoid or tanh. The histogram has fixed
/// bins over [<see cref="HistogramMin"/>, <see cref="HistogramMax"/>]; values outside fall into the end bins.
/// </summary>
public sealed record ActivationSummary(
    string Layer,
    string Type,
    int[] Shape,
    double Mean,
    double Std,
    double ZeroFraction,
    double? Saturation,
    double Min,
    double Max,
    long NonFinite,
    double HistogramMin,
    double HistogramMax,
    long[] Counts);

/// <summary>Computes <see cref="ActivationSummary"/> values with one or two span passes over the activations.</summary>
public static class ActivationStatistics
{
    /// <summary>A sigmoid output within 0.02 of 0 or 1 (a tanh output within 0.02 of -1 or 1) counts as saturated.</summary>
    public const double SaturationMargin = 0.02;

    /// <summary>
    /// Saturation is detected by module type: <see cref="Sigmoid"/> and <see cref="Tanh"/> modules (or
    /// any module whose TypeName is "Sigmoid"/"Tanh"). Other layers are not judged by their value range,
    /// because a ReLU or linear output that happens to lie in [0, 1] is not a saturating unit.
    /// </summary>
    public static SaturationKind Detect(Module module) => module switch
    {
        Sigmoid => SaturationKind.Sigmoid,
        Tanh => SaturationKind.Tanh,
        _ => module.TypeName switch
        {
            "Sigmoid" => SaturationKind.Sigmoid,
            "Tanh" => SaturationKind.Tanh,
            _ => SaturationKind.None,
        },
    };

    /// <summary>The natural histogram range of a saturating layer ([0, 1] or [-1, 1]); null for others.</summary>
    public static (double Min, double Max)? NaturalRange(SaturationKind kind) => kind switch
    {
        SaturationKind.Sigmoid => (0, 1),
        SaturationKind.Tanh => (-1, 1),
        _ => null,
    };

    /// <summary>
    /// Statistics of <paramref name="output"/> (float32 or float64, any shape). The histogram spans
    /// <paramref name="range"/> when given, else this batch's [min, max] widened by 5% on each side.
    /// </summary>
    public static ActivationSummary Compute(string layer, string type, Tensor output, SaturationKind saturation, int bins, (double Min, double Max)? range = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!output.IsFloatingPoint) throw new ArgumentException($"activation statistics for layer '{layer}': expected a float tensor, got {output.DType.Name()} {Shapes.Format(output.ShapeArray)}");
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"activation statistics: bins must be positive, got {bins}");
        var data = output.ContiguousData();
        var counts = new long[bins];
        // float32 (every layer of a float32 model): one SIMD pass for the moments, min and max (which fix the histogram
        // range), then one pass for the histogram. Non-finite values, and float64, take the generic path: range first,
        // then everything in one scalar pass.
        double lo, hi;
        MomentSums moments;
        if (data.DType == DType.Float32 && MomentsSingle(data.ReadSpan<float>(), saturation) is { } fast)
        {
            (lo, hi) = range ?? AutoRange(fast.Min, fast.Max);
            HistogramSingle(data.ReadSpan<float>(), lo, hi, counts);
            moments = fast;
        }
        else if (data.DType == DType.Float32)
        {
            (lo, hi) = range ?? AutoRange(data.ReadSpan<float>());
            moments = Scan(data.ReadSpan<float>(), saturation, lo, hi, counts);
        }
        else
        {
            (lo, hi) = range ?? AutoRange(data.ReadSpan<double>());
            moments = Scan(data.ReadSpan<double>(), saturation, lo, hi, counts);
        }
        Tensor.KeepAlive(output, data);
        long finite = data.Numel - moments.NonFinite;
        double mean = finite > 0 ? moments.Sum / finite : double.NaN;
        double variance = finite > 0 ? Math.Max(moments.SumSquares / finite - mean * mean, 0) : double.NaN;
        double n = Math.Max(data.Numel, 1);
        return new ActivationSummary(layer, type, (int[])output.ShapeArray.Clone(), mean, Math.Sqrt(variance), moments.Zeros / n,
            saturation == SaturationKind.None ? null : moments.Saturated / n,
            finite > 0 ? moments.Min : double.NaN, finite > 0 ? moments.Max : double.NaN, moments.NonFinite, lo, hi, counts);
    }

    private static (double Min, double Max) AutoRange<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (values.IsEmpty) return (0, 1);
        double min = double.CreateTruncating(TensorPrimitives.MinNumber(values)), max = double.CreateTruncating(TensorPrimitives.MaxNumber(values));
        if (double.IsFinite(min) && double.IsFinite(max)) return AutoRange(min, max);
        // Infinities present: range over the finite values (a rare, slow path).
        min = double.PositiveInfinity;
        max = double.NegativeInfinity;
        foreach (var v in values)
        {
            double d = double.CreateTruncating(v);
            if (!double.IsFinite(d)) continue;
            min = Math.Min(min, d);
            max = Math.Max(max, d);
        }
        return AutoRange(min, max);
    }

    /// <summary>
    /// Spreads a histogram over [<paramref name="min"/>, <paramref name="max"/>] onto <paramref name="bins"/>
    /// bins over [<paramref name="lo"/>, <paramref name="hi"/>], each source bin's count split by overlap
    /// (values assumed uniform within a bin); counts outside the new range go to the end bins. Used to put
    /// histograms recorded with different ranges on one common axis.
    /// </summary>
    public static double[] Rebin(long[] counts, double min, double max, double lo, double hi, int bins)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"rebin: bins must be positive, got {bins}");
        var result = new double[bins];
        if (counts.Length == 0 || !(hi > lo)) return result;
        double width = (max - min) / counts.Length, target = (hi - lo) / bins;
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0) continue;
            double a = min + i * width, b = a + width;
            if (!(width > 0))
            {
                result[Math.Clamp((int)((a - lo) / target), 0, bins - 1)] += counts[i];
                continue;
            }
            // Clamp the source bin into [lo, hi] so that out-of-range mass lands in the end bins.
            double ca = Math.Clamp(a, lo, hi), cb = Math.Clamp(b, lo, hi);
            if (cb - ca <= 0)
            {
                result[b <= lo ? 0 : bins - 1] += counts[i];
                continue;
            }
            double scale = counts[i] / (b - a);
            result[0] += Math.Max(0, Math.Min(b, lo) - a) * scale;
            result[bins - 1] += Math.Max(0, b - Math.Max(a, hi)) * scale;
            int first = Math.Clamp((int)((ca - lo) / target), 0, bins - 1), last = Math.Clamp((int)((cb - lo) / target), 0, bins - 1);
            for (int k = first; k <= last; k++)
            {
                double overlap = Math.Min(cb, lo + (k + 1) * target) - Math.Max(ca, lo + k * target);
                if (overlap > 0) result[k] += overlap * scale;
            }
        }
        return result;
    }

    /// <summary>A histogram range around [min, max] with a 5% margin (±0.5 around a constant).</summary>
    public static (double Min, double Max) AutoRange(double min, double max)
    {
        if (!double.IsFinite(min) || !double.IsFinite(max)) return (0, 1);
        double span = max - min;
        return span > 0 ? (min - 0.05 * span, max + 0.05 * span) : (min - 0.5, max + 0.5);
    }

    private readonly record struct MomentSums(double Sum, double SumSquares, long Zeros, long Saturated, long NonFinite, double Min, double Max);

    /// <summary>
    /// The float32 fast path of <see cref="Scan{T}"/> without the histogram: moments, zeros, saturation, min and max
    /// with SIMD (float partial sums over chunks of 4096 values, added up in double). Null when a NaN or infinity
    /// makes the sums non-finite: the generic path then does the work.
    /// </summary>
    private static MomentSums? MomentsSingle(ReadOnlySpan<float> values, SaturationKind saturation)
    {
        int n = values.Length, width = Vector<float>.Count, i = 0;
        double sum = 0, sumSquares = 0;
        long zeros = 0, saturated = 0;
        var min = new Vector<float>(float.PositiveInfinity);
        var max = new Vector<float>(float.NegativeInfinity);
        bool checkSaturation = saturation != SaturationKind.None;
        var satLo = new Vector<float>((float)(saturation == SaturationKind.Tanh ? -1 + SaturationMargin : SaturationMargin));
        var satHi = new Vector<float>((float)(1 - SaturationMargin));
        while (n - i >= width)
        {
            int end = Math.Min(i + 4096, n - (n - i) % width);
            Vector<float> s = Vector<float>.Zero, sq = Vector<float>.Zero;
            Vector<int> z = Vector<int>.Zero, sat = Vector<int>.Zero;
            for (; i < end; i += width)
            {
                var v = new Vector<float>(values.Slice(i, width));
                s += v;
                sq += v * v;
                z -= Vector.Equals(v, Vector<float>.Zero); // true lanes are -1
                min = Vector.Min(min, v);
                max = Vector.Max(max, v);
                if (checkSaturation) sat -= Vector.LessThanOrEqual(v, satLo) | Vector.GreaterThanOrEqual(v, satHi);
            }
            for (int k = 0; k < width; k++)
            {
                sum += s[k];
                sumSquares += sq[k];
            }
            zeros += Vector.Sum(z);
            saturated += Vector.Sum(sat);
        }
        double vmin = double.PositiveInfinity, vmax = double.NegativeInfinity;
        for (int k = 0; k < width; k++)
        {
            vmin = Math.Min(vmin, min[k]);
            vmax = Math.Max(vmax, max[k]);
        }
        double tailLo = satLo[0], tailHi = satHi[0];
        for (; i < n; i++)
        {
            double v = values[i];
            sum += v;
            sumSquares += v * v;
            if (v == 0) zeros++;
            vmin = Math.Min(vmin, v);
            vmax = Math.Max(vmax, v);
            if (checkSaturation && (v <= tailLo || v >= tailHi)) saturated++;
        }
        if (!double.IsFinite(sum) || !double.IsFinite(sumSquares)) return null;
        if (values.IsEmpty) (vmin, vmax) = (double.NaN, double.NaN); // AutoRange gives (0, 1), as for the generic path
        return new MomentSums(sum, sumSquares, zeros, saturated, 0, vmin, vmax);
    }

    /// <summary>
    /// Histogram of finite float values. The bin of each value, clamp((v - lo) * scale, 0, last) truncated, is computed
    /// a vector at a time (the same float operations as the scalar tail, so the counts do not depend on the vector
    /// width), and each vector lane counts into its own sub-histogram: runs of equal values (a ReLU's zeros) would
    /// otherwise serialise on one counter's load-increment-store.
    /// </summary>
    private static void HistogramSingle(ReadOnlySpan<float> values, double lo, double hi, long[] counts)
    {
        int bins = counts.Length, last = bins - 1;
        float scale = hi > lo ? (float)(bins / (hi - lo)) : 0, offset = (float)lo;
        int lanes = Math.Max(Vector<int>.Count, 4);
        var sub = lanes * bins <= 4096 ? stackalloc int[lanes * bins] : new int[lanes * bins];
        sub.Clear();
        int j = 0, width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var vOffset = new Vector<float>(offset);
            var vScale = new Vector<float>(scale);
            var vLast = new Vector<float>(last);
            // Lane k counts into sub[k * bins + bin]: adding k * bins to the bins in the vector addresses the lane's histogram.
            var laneBase = Vector<int>.Indices * bins;
            Span<int> index = stackalloc int[Vector<int>.Count];
            ref int histogram = ref MemoryMarshal.GetReference(sub);
            for (; j + width <= values.Length; j += width)
            {
                var position = Vector.Min(Vector.Max((new Vector<float>(values.Slice(j, width)) - vOffset) * vScale, Vector<float>.Zero), vLast);
                (Vector.ConvertToInt32(position) + laneBase).CopyTo(index);
                foreach (int i in index) Unsafe.Add(ref histogram, i)++; // i < lanes * bins: clamped above
            }
        }
        for (; j + 4 <= values.Length; j += 4)
        {
            sub[Bin(values[j])]++;
            sub[bins + Bin(values[j + 1])]++;
            sub[2 * bins + Bin(values[j + 2])]++;
            sub[3 * bins + Bin(values[j + 3])]++;
        }
        for (; j < values.Length; j++) sub[Bin(values[j])]++;
        for (int k = 0; k < lanes; k++)
            for (int b = 0; b < bins; b++) counts[b] += sub[k * bins + b];

        int Bin(float v)
        {
            float position = (v - offset) * scale;
            return position <= 0 ? 0 : position >= last ? last : (int)position;
        }
    }

    /// <summary>One pass: sums, exact zeros, saturated values, non-finite values, min, max and the histogram over [lo, hi].</summary>
    private static MomentSums Scan<T>(ReadOnlySpan<T> values, SaturationKind saturation, double lo, double hi, long[] counts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0, sumSquares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
        long zeros = 0, saturated = 0, nonFinite = 0;
        double satLo = saturation == SaturationKind.Tanh ? -1 + SaturationMargin : SaturationMargin;
        double satHi = 1 - SaturationMargin;
        bool checkSaturation = saturation != SaturationKind.None;
        int last = counts.Length - 1;
        double scale = hi > lo ? counts.Length / (hi - lo) : 0;
        for (int i = 0; i < values.Length; i++)
        {
            double v = double.CreateTruncating(values[i]);
            if (!double.IsFinite(v))
            {
                nonFinite++;
                if (!double.IsNaN(v)) counts[v > 0 ? last : 0]++;
                continue;
            }
            sum += v;
            sumSquares += v * v;
            if (v == 0) zeros++;
            if (v < min) min = v;
            if (v > max) max = v;
            if (checkSaturation && (v <= satLo || v >= satHi)) saturated++;
            double position = (v - lo) * scale;
            counts[position <= 0 ? 0 : position >= last ? last : (int)position]++;
        }
        return new MomentSums(sum, sumSquares, zeros, saturated, nonFinite, min, max);
    }
}
