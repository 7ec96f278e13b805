using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Statistics and per-channel affine passes for batch, layer and group normalisation. A tensor is
/// viewed as [N, C, S] (S = spatial size); rows of length S are contiguous, so every pass is a
/// vectorised span operation per (n, c) row. Statistics accumulate in double; batch norm's float32 sums (moments and
/// gradient sums) first in float lanes over runs of a row, each run then added in double.
/// </summary>
internal static class Normalization
{
    /// <summary>
    /// Per-channel mean and biased variance over N and S (two passes, for accuracy), each pass's row sums over the pool
    /// (<see cref="ImagePairs"/>) and each channel's rows then added in order, so the result does not depend on the
    /// thread count. float32 rows sum in float lanes (<see cref="CenteredRuns"/>): first their deviations from the
    /// channel's first element (a constant channel then has exactly that value as mean and zero variance), then the
    /// squared deviations from the mean rounded to float, less the square of that rounding. float64 rows (and float32
    /// ones without SIMD) sum in double, exactly for any realistic count of float32 values (a rounded mean's error would
    /// pass through 1/sqrt(eps) ~ 316 into the output and the gradients).
    /// </summary>
    public static unsafe void ChannelMoments<T>(ReadOnlySpan<T> x, int n, int c, int s, Span<double> mean, Span<double> variance)
        where T : unmanaged, INumber<T>
    {
        CheckChannels(x.Length, x.Length, n, c, s, mean.Length, variance.Length);
        if (s == 1 && typeof(T) == typeof(float))
        {
            Columns.Moments(MemoryMarshal.Cast<T, float>(x), n, c, mean, variance);
            return;
        }
        double count = (double)n * s;
        if (count == 0)
        {
            mean[..c].Clear();
            variance[..c].Clear();
            return;
        }
        bool floatRuns = typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated;
        var buffer = System.Buffers.ArrayPool<double>.Shared.Rent(n * c + c);
        try
        {
            fixed (T* px = x)
            fixed (double* pm = mean, pr = buffer)
            {
                T* xs = px;
                double* means = pm, rows = pr, centers = pr + n * c;
                for (int ch = 0; ch < c; ch++) centers[ch] = floatRuns ? *(float*)Row(xs, 0, c, ch, s) : 0;
                ImagePairs(n, c, s, (r0, r1, ch) => (rows[r0], rows[r1]) = floatRuns
                    ? CenteredRuns((float*)xs + r0 * s, (float*)xs + r1 * s, s, (float)centers[ch], squares: false)
                    : WidenedSums(xs + r0 * s, xs + r1 * s, s));
                for (int ch = 0; ch < c; ch++) means[ch] = centers[ch] + SumOfRows(rows, n, c, ch) / count;
                ImagePairs(n, c, s, (r0, r1, ch) => (rows[r0], rows[r1]) = floatRuns
                    ? CenteredRuns((float*)xs + r0 * s, (float*)xs + r1 * s, s, (float)means[ch], squares: true)
                    : SquaredDeviations(xs + r0 * s, means[ch], xs + r1 * s, means[ch], s));
                for (int ch = 0; ch < c; ch++)
                {
                    double sq = SumOfRows(rows, n, c, ch), offset = (float)means[ch] - means[ch];
                    variance[ch] = floatRuns ? Math.Max(sq / count - offset * offset, 0) : sq / count;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// rowPair(r, r', channel) for the (n, c) rows r of an [N, C, S] tensor and r' of the next image (r again for an odd
    /// batch's last image), shared out over the pool two images at a time, channel after channel: both rows then stream
    /// on from the previous channel's. (Channel by channel, a channel's rows lie C S elements apart and the prefetchers
    /// restarted at every row: the gradient sums ran 1.3-1.6x the input gradient's pass, which reads more.)
    /// </summary>
    private static void ImagePairs(int n, int c, int s, Action<long, long, int> rowPair) =>
        ForRowRanges((n + 1) / 2, 2 * c * s, (p0, p1) =>
        {
            for (int i = 2 * p0; i < Math.Min(2 * p1, n); i += 2)
                for (int ch = 0; ch < c; ch++)
                    rowPair((long)i * c + ch, (long)Math.Min(i + 1, n - 1) * c + ch, ch);
        });

    /// <summary>A channel's row sums added in batch order, as one thread summing the channel alone would.</summary>
    private static unsafe double SumOfRows(double* rows, int n, int c, int ch)
    {
        double total = 0;
        for (int i = 0; i < n; i++) total += rows[(long)i * c + ch];
        return total;
    }

    /// <summary>
    /// The batch-norm passes for float32 [N, C] inputs (S = 1, batch norm over features): a channel is then a column, and
    /// the row passes ran one-element rows, a call per element (250 µs for the cnn's [64, 256] layer, forward and backward,
    /// where the arithmetic takes a few). These run across channels, a vector of channels at a time, single-threaded (a
    /// batch of features is small). Every element goes through the operations of the row passes' scalar tails, in the
    /// same order, and a channel's sums add its rows in order: the results are the same bits.
    /// </summary>
    private static unsafe class Columns
    {
        private static readonly int Lanes = Vector128<double>.Count * 2; // four channels: one float Vector128, widened to two double ones

        public static void Moments(ReadOnlySpan<float> x, int n, int c, Span<double> mean, Span<double> variance)
        {
            double count = n;
            fixed (float* px = x)
            fixed (double* pm = mean, pv = variance)
            {
                int ch = 0;
                if (Vector128.IsHardwareAccelerated)
                    for (; ch + Lanes <= c; ch += Lanes)
                    {
                        Vector128<double> lo = default, hi = default;
                        for (int i = 0; i < n; i++)
                        {
                            var (l, h) = Vector128.Widen(Vector128.Load(px + (long)i * c + ch));
                            lo += l;
                            hi += h;
                        }
                        Vector128<double> vc = Vector128.Create(count), mlo = count > 0 ? lo / vc : default, mhi = count > 0 ? hi / vc : default;
                        Vector128<double> qlo = default, qhi = default;
                        for (int i = 0; i < n; i++)
                        {
                            var (l, h) = Vector128.Widen(Vector128.Load(px + (long)i * c + ch));
                            var (dl, dh) = (l - mlo, h - mhi);
                            qlo += dl * dl;
                            qhi += dh * dh;
                        }
                        mlo.Store(pm + ch);
                        mhi.Store(pm + ch + Lanes / 2);
                        (count > 0 ? qlo / vc : default).Store(pv + ch);
                        (count > 0 ? qhi / vc : default).Store(pv + ch + Lanes / 2);
                    }
                for (; ch < c; ch++)
                {
                    double sum = 0;
                    for (int i = 0; i < n; i++) sum += px[(long)i * c + ch];
                    double m = count > 0 ? sum / count : 0, sq = 0;
                    for (int i = 0; i < n; i++)
                    {
                        double d = px[(long)i * c + ch] - m;
                        sq += d * d;
                    }
                    pm[ch] = m;
                    pv[ch] = count > 0 ? sq / count : 0;
                }
            }
        }

        public static void Affine(ReadOnlySpan<float> x, Span<float> y, int n, int c, ReadOnlySpan<double> center, ReadOnlySpan<double> scale,
            ReadOnlySpan<double> shift, bool relu)
        {
            var (tc, ts, th) = (Floats(center, c), Floats(scale, c), Floats(shift, c));
            fixed (float* px = x, py = y, pc = tc, ps = ts, ph = th)
                for (int i = 0; i < n; i++)
                {
                    float* xi = px + (long)i * c, yi = py + (long)i * c;
                    int ch = 0;
                    if (Vector.IsHardwareAccelerated)
                        for (; ch + Vector<float>.Count <= c; ch += Vector<float>.Count)
                        {
                            var v = (Vector.Load(xi + ch) - Vector.Load(pc + ch)) * Vector.Load(ps + ch) + Vector.Load(ph + ch);
                            Vector.Store(relu ? Vector.ConditionalSelect(Vector.LessThanOrEqual(v, Vector<float>.Zero), Vector<float>.Zero, v) : v, yi + ch);
                        }
                    for (; ch < c; ch++)
                    {
                        float v = (xi[ch] - pc[ch]) * ps[ch] + ph[ch];
                        yi[ch] = relu && v <= 0 ? 0 : v;
                    }
                }
        }

        public static void GradSums(ReadOnlySpan<float> g, ReadOnlySpan<float> x, int n, int c, ReadOnlySpan<double> center, Span<double> sumG,
            Span<double> sumGXc, ReadOnlySpan<double> reluScale, ReadOnlySpan<double> reluShift)
        {
            bool relu = !reluScale.IsEmpty;
            var (tc, ts, th) = (Floats(center, c), relu ? Floats(reluScale, c) : null, relu ? Floats(reluShift, c) : null);
            fixed (float* pg = g, px = x, pc = tc, ps = ts, ph = th)
            fixed (double* pcd = center, pa = sumG, pb = sumGXc)
            {
                int ch = 0;
                if (Vector128.IsHardwareAccelerated)
                    for (; ch + Lanes <= c; ch += Lanes)
                    {
                        Vector128<double> mlo = Vector128.Load(pcd + ch), mhi = Vector128.Load(pcd + ch + Lanes / 2);
                        Vector128<double> alo = default, ahi = default, blo = default, bhi = default;
                        for (int i = 0; i < n; i++)
                        {
                            var gv = Vector128.Load(pg + (long)i * c + ch);
                            var xv = Vector128.Load(px + (long)i * c + ch);
                            if (relu) gv = Vector128.ConditionalSelect(Blocks(xv, pc + ch, ps + ch, ph + ch), Vector128<float>.Zero, gv);
                            var (gl, gh) = Vector128.Widen(gv);
                            var (xl, xh) = Vector128.Widen(xv);
                            alo += gl;
                            ahi += gh;
                            blo += gl * (xl - mlo);
                            bhi += gh * (xh - mhi);
                        }
                        alo.Store(pa + ch);
                        ahi.Store(pa + ch + Lanes / 2);
                        blo.Store(pb + ch);
                        bhi.Store(pb + ch + Lanes / 2);
                    }
                for (; ch < c; ch++)
                {
                    double a = 0, b = 0;
                    for (int i = 0; i < n; i++)
                    {
                        float xj = px[(long)i * c + ch], gj = relu && new ReluMask<float>(pc[ch], ps[ch], ph[ch]).Blocks(xj) ? 0 : pg[(long)i * c + ch];
                        a += gj;
                        b += gj * ((double)xj - pcd[ch]);
                    }
                    pa[ch] = a;
                    pb[ch] = b;
                }
            }
        }

        public static void Linear(ReadOnlySpan<float> g, ReadOnlySpan<float> x, Span<float> dx, int n, int c, ReadOnlySpan<double> a,
            ReadOnlySpan<double> b, ReadOnlySpan<double> center, ReadOnlySpan<double> k, ReadOnlySpan<double> reluScale, ReadOnlySpan<double> reluShift)
        {
            bool relu = !reluScale.IsEmpty;
            var (ta, tb, tc, tk) = (Floats(a, c), Floats(b, c), Floats(center, c), Floats(k, c));
            var (ts, th) = relu ? (Floats(reluScale, c), Floats(reluShift, c)) : (null, null);
            fixed (float* pg = g, px = x, pd = dx, pa = ta, pb = tb, pc = tc, pk = tk, ps = ts, ph = th)
                for (int i = 0; i < n; i++)
                {
                    float* gi = pg + (long)i * c, xi = px + (long)i * c, di = pd + (long)i * c;
                    int ch = 0;
                    if (Vector.IsHardwareAccelerated)
                        for (; ch + Vector<float>.Count <= c; ch += Vector<float>.Count)
                        {
                            var gv = Vector.Load(gi + ch);
                            var xv = Vector.Load(xi + ch);
                            if (relu)
                                gv = Vector.ConditionalSelect(Vector.LessThanOrEqual((xv - Vector.Load(pc + ch)) * Vector.Load(ps + ch) + Vector.Load(ph + ch),
                                    Vector<float>.Zero), Vector<float>.Zero, gv);
                            Vector.Store(gv * Vector.Load(pa + ch) + (xv - Vector.Load(pc + ch)) * Vector.Load(pb + ch) + Vector.Load(pk + ch), di + ch);
                        }
                    for (; ch < c; ch++)
                    {
                        float gj = relu && new ReluMask<float>(pc[ch], ps[ch], ph[ch]).Blocks(xi[ch]) ? 0 : gi[ch];
                        di[ch] = gj * pa[ch] + (xi[ch] - pc[ch]) * pb[ch] + pk[ch];
                    }
                }
        }

        /// <summary>The fused ReLU's mask for four channels: its output (x - center) * scale + shift was &lt;= 0.</summary>
        private static Vector128<float> Blocks(Vector128<float> x, float* center, float* scale, float* shift) =>
            Vector128.LessThanOrEqual((x - Vector128.Load(center)) * Vector128.Load(scale) + Vector128.Load(shift), Vector128<float>.Zero);

        /// <summary>Per-channel coefficients rounded to float, as the row passes round them.</summary>
        private static float[] Floats(ReadOnlySpan<double> values, int c)
        {
            var f = new float[c];
            for (int i = 0; i < c; i++) f[i] = (float)values[i];
            return f;
        }
    }

    private static void CheckChannels(int xLength, int otherLength, int n, int c, int s, int statsA, int statsB)
    {
        long need = (long)n * c * s;
        if (n < 0 || c < 0 || s < 0 || xLength < need || otherLength < need || statsA < c || statsB < c)
            throw new ArgumentException($"normalization kernel: [{n}, {c}, {s}] needs {need} elements and {c} statistics per channel");
    }

    /// <summary>
    /// Sums of x - center, or of (x - center)^2, over two float32 rows, in float lanes over runs of at most
    /// <see cref="FloatRun"/> elements, each run's lanes then added in double.
    /// </summary>
    private static unsafe (double, double) CenteredRuns(float* row0, float* row1, int n, float center, bool squares)
    {
        int lanes = Vector256<float>.Count, whole = n - n % lanes, j = 0;
        double sum0 = 0, sum1 = 0;
        var vc = Vector256.Create(center);
        while (j < n)
        {
            int end = Math.Min(whole, j + FloatRun);
            Vector256<float> a = default, b = default;
            for (; j < end; j += lanes)
                AddDeviations(Vector256.Load(row0 + j) - vc, Vector256.Load(row1 + j) - vc, squares, ref a, ref b);
            if (j == whole && j < n) // the last, partial vector: its lanes past the row are masked to 0
            {
                var inside = Simd256<float>.FirstLanes(n - j);
                AddDeviations((Simd256<float>.LoadFirst(row0 + j, n - j) - vc) & inside, (Simd256<float>.LoadFirst(row1 + j, n - j) - vc) & inside,
                    squares, ref a, ref b);
                j = n;
            }
            sum0 += WidenedSum(a);
            sum1 += WidenedSum(b);
        }
        return (sum0, sum1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddDeviations(Vector256<float> d0, Vector256<float> d1, bool squares, ref Vector256<float> a, ref Vector256<float> b)
    {
        a = squares ? Vector256.FusedMultiplyAdd(d0, d0, a) : a + d0;
        b = squares ? Vector256.FusedMultiplyAdd(d1, d1, b) : b + d1;
    }

    /// <summary>Row <paramref name="i"/> of channel <paramref name="ch"/> in an [N, C, S] tensor.</summary>
    private static unsafe T* Row<T>(T* x, int i, int c, int ch, int s) where T : unmanaged => x + ((long)i * c + ch) * s;

    // The row passes below work on two rows side by side: each row is summed exactly as it would be alone (its own
    // accumulators, the same order), but the two rows' additions are independent, so twice as many are in flight and
    // the loops stop waiting on the adder's latency. A caller with an odd row count passes its last row twice and
    // keeps one result.

    /// <summary>Sums of two rows' elements in double precision (float32 widened before adding), vectorised.</summary>
    private static unsafe (double, double) WidenedSums<T>(T* row0, T* row1, int n) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double))
            return (double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(row0, n))),
                double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(row1, n))));
        int j = 0;
        double sum0 = 0, sum1 = 0;
        float* v0 = (float*)row0, v1 = (float*)row1;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> a0 = default, a1 = default, b0 = default, b1 = default;
            for (; j + Vector256<float>.Count <= n; j += Vector256<float>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(v0 + j));
                a0 += lo;
                a1 += hi;
                (lo, hi) = Vector256.Widen(Vector256.Load(v1 + j));
                b0 += lo;
                b1 += hi;
            }
            sum0 = Vector256.Sum(a0 + a1);
            sum1 = Vector256.Sum(b0 + b1);
        }
        for (int k = j; k < n; k++) sum0 += v0[k];
        for (int k = j; k < n; k++) sum1 += v1[k];
        return (sum0, sum1);
    }

    /// <summary>
    /// (sum g, sum g * (x - m)) of two rows, one pass over each: centred, so no cancellation between sum(g x) and m sum(g).
    /// float32 rows sum in float lanes over runs of at most <see cref="FloatRun"/> elements (the last vector masked),
    /// each run's lanes then added in double: a cascade, each run within float rounding of its terms, as PyTorch's float
    /// accumulation (summing in double converted every element and made this pass compute-bound); x is centred on m
    /// rounded to float, and the exact centre restored as (m_f - m) sum g. float64 rows add in double element by
    /// element. With a ReLU <paramref name="mask"/>, g counts as 0 where the fused forward's output was &lt;= 0, exactly
    /// as the unfused ReLU's zeroed gradient sums.
    /// </summary>
    private static unsafe (double SumG, double SumGXc, double SumG1, double SumGXc1) SumsAndCenteredDots<T>(T* g0, T* x0, T* g1, T* x1, int n,
        double m, ReluMask<T>? mask) where T : unmanaged, INumber<T>
    {
        int j = 0;
        double sumG0 = 0, sum0 = 0, sumG1 = 0, sum1 = 0;
        if (Vector256.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            float* gs0 = (float*)g0, xs0 = (float*)x0, gs1 = (float*)g1, xs1 = (float*)x1;
            float mf = (float)m;
            var vm = Vector256.Create(mf);
            var (vc, vs, vh) = mask is { } k ? (Vector256.Create(float.CreateTruncating(k.Center)), Vector256.Create(float.CreateTruncating(k.Scale)),
                Vector256.Create(float.CreateTruncating(k.Shift))) : default;
            bool masked = mask is not null;
            int lanes = Vector256<float>.Count, whole = n - n % lanes;
            while (j < n)
            {
                int end = Math.Min(whole, j + FloatRun);
                Vector256<float> s0 = default, a0 = default, t0 = default, b0 = default;
                for (; j < end; j += lanes)
                    AddCentered(Vector256.Load(gs0 + j), Vector256.Load(xs0 + j), Vector256.Load(gs1 + j), Vector256.Load(xs1 + j), vm,
                        masked, vc, vs, vh, ref s0, ref a0, ref t0, ref b0);
                if (j == whole && j < n) // the last, partial vector (a 196-element row ends with 4): g loads as 0 past the row, adding nothing
                {
                    AddCentered(Simd256<float>.LoadFirst(gs0 + j, n - j), Simd256<float>.LoadFirst(xs0 + j, n - j), Simd256<float>.LoadFirst(gs1 + j, n - j),
                        Simd256<float>.LoadFirst(xs1 + j, n - j), vm, masked, vc, vs, vh, ref s0, ref a0, ref t0, ref b0);
                    j = n;
                }
                sumG0 += WidenedSum(s0);
                sum0 += WidenedSum(a0);
                sumG1 += WidenedSum(t0);
                sum1 += WidenedSum(b0);
            }
            double shift = (double)mf - m;
            return (sumG0, sum0 + shift * sumG0, sumG1, sum1 + shift * sumG1);
        }
        // float64 rows (and float32 ones without SIMD) in order, masked or not alike, so the fused op sums exactly as the two ops do.
        CenteredTail(g0, x0, j, n, m, mask, ref sumG0, ref sum0);
        CenteredTail(g1, x1, j, n, m, mask, ref sumG1, ref sum1);
        return (sumG0, sum0, sumG1, sum1);
    }

    /// <summary>One vector of each of two rows into their sums of g and g (x - m) (g zeroed where the fused ReLU blocked it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddCentered(Vector256<float> gv, Vector256<float> xv, Vector256<float> gw, Vector256<float> xw, Vector256<float> m,
        bool masked, Vector256<float> center, Vector256<float> scale, Vector256<float> shift,
        ref Vector256<float> sumG0, ref Vector256<float> sum0, ref Vector256<float> sumG1, ref Vector256<float> sum1)
    {
        if (masked)
        {
            gv = Vector256.AndNot(gv, Vector256.LessThanOrEqual((xv - center) * scale + shift, Vector256<float>.Zero));
            gw = Vector256.AndNot(gw, Vector256.LessThanOrEqual((xw - center) * scale + shift, Vector256<float>.Zero));
        }
        sumG0 += gv;
        sum0 = Vector256.FusedMultiplyAdd(gv, xv - m, sum0);
        sumG1 += gw;
        sum1 = Vector256.FusedMultiplyAdd(gw, xw - m, sum1);
    }

    /// <summary>Elements a float lane sum runs over before it is added in double (128 per lane).</summary>
    private const int FloatRun = 1024;

    /// <summary>The lanes' sum in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double WidenedSum(Vector256<float> v)
    {
        var (lo, hi) = Vector256.Widen(v);
        return Vector256.Sum(lo + hi);
    }

    private static unsafe void CenteredTail<T>(T* g, T* x, int j, int n, double m, ReluMask<T>? mask, ref double sumG, ref double sum)
        where T : unmanaged, INumber<T>
    {
        for (; j < n; j++)
        {
            T gj = mask is { } k && k.Blocks(x[j]) ? T.Zero : g[j];
            sumG += double.CreateTruncating(gj);
            sum += double.CreateTruncating(gj) * (double.CreateTruncating(x[j]) - m);
        }
    }

    /// <summary>
    /// The ReLU fused after a batch norm, for its backward: the forward's output was (x - Center) * Scale + Shift, in T,
    /// through ReLU, and the gradient passes where that was &gt; 0 (or NaN). Recomputed from x with the forward's exact
    /// operations (<see cref="AffineRow"/>) instead of reading the saved output: one activation-sized read less in each
    /// of the backward's two passes, which are memory-bound.
    /// </summary>
    internal readonly record struct ReluMask<T>(T Center, T Scale, T Shift) where T : unmanaged, INumber<T>
    {
        public bool Blocks(T x) => (x - Center) * Scale + Shift <= T.Zero;
    }

    /// <summary>
    /// y = (x - center) * scale + shift over one row, in T, rounding after each operation as separate passes would; with
    /// <paramref name="relu"/>, then y &lt;= 0 becomes +0 (NaN stays: ReLU's max(y, 0)).
    /// </summary>
    private static unsafe void AffineRow<T>(T* x, T* y, int n, T center, T scale, T shift, bool relu) where T : unmanaged, INumber<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> vc = new(center), vs = new(scale), vh = new(shift);
            if (relu)
                for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
                {
                    var v = (Vector.Load(x + j) - vc) * vs + vh;
                    Vector.Store(Vector.ConditionalSelect(Vector.LessThanOrEqual(v, Vector<T>.Zero), Vector<T>.Zero, v), y + j);
                }
            else
                for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
                    Vector.Store((Vector.Load(x + j) - vc) * vs + vh, y + j);
        }
        for (; j < n; j++)
        {
            T v = (x[j] - center) * scale + shift;
            y[j] = relu && v <= T.Zero ? T.Zero : v;
        }
    }

    /// <summary>
    /// d = g * a + (x - center) * b + k over one row (the batch-norm input gradient), rounding after each operation; with
    /// a ReLU <paramref name="mask"/>, g is 0 where the fused forward's output was &lt;= 0.
    /// </summary>
    private static unsafe void LinearRow<T>(T* g, T* x, T* d, int n, T a, T b, T center, T k, ReluMask<T>? mask) where T : unmanaged, INumber<T>
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> va = new(a), vb = new(b), vc = new(center), vk = new(k);
            var (mc, ms, mh) = mask is { } m ? (new Vector<T>(m.Center), new Vector<T>(m.Scale), new Vector<T>(m.Shift)) : default;
            bool masked = mask is not null;
            for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            {
                var gv = Vector.Load(g + j);
                var xv = Vector.Load(x + j);
                if (masked) gv = Vector.ConditionalSelect(Vector.LessThanOrEqual((xv - mc) * ms + mh, Vector<T>.Zero), Vector<T>.Zero, gv);
                Vector.Store(gv * va + (xv - vc) * vb + vk, d + j);
            }
        }
        for (; j < n; j++)
        {
            T gj = mask is { } m && m.Blocks(x[j]) ? T.Zero : g[j];
            d[j] = gj * a + (x[j] - center) * b + k;
        }
    }

    /// <summary>Sums of (x - m)^2 of two rows in double precision (two-pass variance: no cancellation), vectorised.</summary>
    private static unsafe (double, double) SquaredDeviations<T>(T* row0, double m0, T* row1, double m1, int n) where T : unmanaged, INumber<T>
    {
        int j = 0;
        double sq0 = 0, sq1 = 0;
        if (Vector512.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            float* v0 = (float*)row0, v1 = (float*)row1;
            Vector512<double> vm0 = Vector512.Create(m0), vm1 = Vector512.Create(m1);
            Vector512<double> a0 = default, a1 = default, b0 = default, b1 = default;
            for (; j + Vector512<float>.Count <= n; j += Vector512<float>.Count)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(v0 + j));
                var d0 = lo - vm0;
                var d1 = hi - vm0;
                a0 = Vector512.FusedMultiplyAdd(d0, d0, a0);
                a1 = Vector512.FusedMultiplyAdd(d1, d1, a1);
                (lo, hi) = Vector512.Widen(Vector512.Load(v1 + j));
                d0 = lo - vm1;
                d1 = hi - vm1;
                b0 = Vector512.FusedMultiplyAdd(d0, d0, b0);
                b1 = Vector512.FusedMultiplyAdd(d1, d1, b1);
            }
            sq0 = Vector512.Sum(a0 + a1);
            sq1 = Vector512.Sum(b0 + b1);
        }
        else if (Vector512.IsHardwareAccelerated && typeof(T) == typeof(double))
        {
            double* v0 = (double*)row0, v1 = (double*)row1;
            Vector512<double> vm0 = Vector512.Create(m0), vm1 = Vector512.Create(m1);
            Vector512<double> a0 = default, b0 = default;
            for (; j + Vector512<double>.Count <= n; j += Vector512<double>.Count)
            {
                var d = Vector512.Load(v0 + j) - vm0;
                a0 = Vector512.FusedMultiplyAdd(d, d, a0);
                d = Vector512.Load(v1 + j) - vm1;
                b0 = Vector512.FusedMultiplyAdd(d, d, b0);
            }
            sq0 = Vector512.Sum(a0);
            sq1 = Vector512.Sum(b0);
        }
        for (int k = j; k < n; k++)
        {
            double d = double.CreateTruncating(row0[k]) - m0;
            sq0 += d * d;
        }
        for (int k = j; k < n; k++)
        {
            double d = double.CreateTruncating(row1[k]) - m1;
            sq1 += d * d;
        }
        return (sq0, sq1);
    }

    /// <summary>
    /// y[n, c, :] = (x[n, c, :] - center[c]) * scale[c] + shift[c]. Centred first: the folded form x * scale + (shift -
    /// center * scale) cancels two large terms when scale is large (a near-constant channel: scale ~ 1/sqrt(eps)).
    /// The (n, c) rows are split over the worker pool. With <paramref name="relu"/>, y = max(y, 0) in the same pass (the
    /// fused batch norm + ReLU; NaN stays NaN, as ReLU's max does).
    /// </summary>
    public static unsafe void ChannelAffine<T>(ReadOnlySpan<T> x, Span<T> y, int n, int c, int s, ReadOnlySpan<double> center,
        ReadOnlySpan<double> scale, ReadOnlySpan<double> shift, bool relu = false) where T : unmanaged, INumber<T>
    {
        CheckChannels(x.Length, y.Length, n, c, s, center.Length, Math.Min(scale.Length, shift.Length));
        if (s == 1 && typeof(T) == typeof(float))
        {
            Columns.Affine(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), n, c, center, scale, shift, relu);
            return;
        }
        fixed (T* px = x, py = y)
        fixed (double* pc = center, pscale = scale, pshift = shift)
        {
            T* xs = px, ys = py;
            double* centers = pc, scales = pscale, shifts = pshift;
            ForRowRanges(n * c, s, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    int ch = r % c;
                    AffineRow(xs + (long)r * s, ys + (long)r * s, s, T.CreateTruncating(centers[ch]), T.CreateTruncating(scales[ch]),
                        T.CreateTruncating(shifts[ch]), relu);
                }
            });
        }
    }

    /// <summary>
    /// sumG[c] = sum g, sumGXc[c] = sum g * (x - center[c]) over N and S, in double: each row's sums over the pool
    /// (<see cref="ImagePairs"/>), then each channel's rows added in order (the result does not depend on the thread count). With <paramref name="reluScale"/> and <paramref name="reluShift"/> (the
    /// fused batch norm + ReLU, whose forward was <see cref="ChannelAffine"/> of x with center, these and relu), g is
    /// first passed through ReLU's backward: 0 where that output was &lt;= 0 (<see cref="ReluMask{T}"/>).
    /// </summary>
    public static unsafe void ChannelGradSums<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> center,
        Span<double> sumG, Span<double> sumGXc, ReadOnlySpan<double> reluScale = default, ReadOnlySpan<double> reluShift = default)
        where T : unmanaged, INumber<T>
    {
        CheckChannels(g.Length, x.Length, n, c, s, Math.Min(center.Length, sumG.Length), sumGXc.Length);
        bool relu = CheckRelu(reluScale, reluShift, c);
        if (s == 1 && typeof(T) == typeof(float))
        {
            Columns.GradSums(MemoryMarshal.Cast<T, float>(g), MemoryMarshal.Cast<T, float>(x), n, c, center, sumG, sumGXc, relu ? reluScale : default, reluShift);
            return;
        }
        var buffer = System.Buffers.ArrayPool<double>.Shared.Rent(2 * n * c);
        try
        {
            fixed (T* pg = g, px = x)
            fixed (double* pc = center, pscale = reluScale, pshift = reluShift, pr = buffer)
            {
                T* gs = pg, xs = px;
                double* centers = pc, scales = pscale, shifts = pshift, sums = pr, dots = pr + n * c;
                ImagePairs(n, c, s, (r0, r1, ch) =>
                    (sums[r0], dots[r0], sums[r1], dots[r1]) = SumsAndCenteredDots(gs + r0 * s, xs + r0 * s, gs + r1 * s, xs + r1 * s, s,
                        centers[ch], relu ? Mask<T>(centers, scales, shifts, ch) : null));
                for (int ch = 0; ch < c; ch++)
                {
                    sumG[ch] = SumOfRows(sums, n, c, ch);
                    sumGXc[ch] = SumOfRows(dots, n, c, ch);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// dx[n, c, :] = a[c] * g + b[c] * (x - center[c]) + k[c]: the batch-norm input gradient, x centred first; (n, c) rows
    /// split over the pool. With <paramref name="reluScale"/> and <paramref name="reluShift"/>, g is 0 where the fused
    /// forward's output was &lt;= 0 (as in <see cref="ChannelGradSums"/>).
    /// </summary>
    public static unsafe void ChannelLinear<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, Span<T> dx, int n, int c, int s,
        ReadOnlySpan<double> a, ReadOnlySpan<double> b, ReadOnlySpan<double> center, ReadOnlySpan<double> k,
        ReadOnlySpan<double> reluScale = default, ReadOnlySpan<double> reluShift = default)
        where T : unmanaged, INumber<T>
    {
        CheckChannels(g.Length, Math.Min(x.Length, dx.Length), n, c, s, Math.Min(a.Length, b.Length), Math.Min(center.Length, k.Length));
        bool relu = CheckRelu(reluScale, reluShift, c);
        if (s == 1 && typeof(T) == typeof(float))
        {
            Columns.Linear(MemoryMarshal.Cast<T, float>(g), MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(dx), n, c, a, b, center, k,
                relu ? reluScale : default, reluShift);
            return;
        }
        fixed (T* pg = g, px = x, pd = dx)
        fixed (double* pa = a, pb = b, pc = center, pk = k, pscale = reluScale, pshift = reluShift)
        {
            T* gs = pg, xs = px, ds = pd;
            double* aa = pa, bb = pb, centers = pc, kk = pk, scales = pscale, shifts = pshift;
            ForRowRanges(n * c, 2 * s, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    int ch = r % c;
                    LinearRow(gs + (long)r * s, xs + (long)r * s, ds + (long)r * s, s,
                        T.CreateTruncating(aa[ch]), T.CreateTruncating(bb[ch]), T.CreateTruncating(centers[ch]), T.CreateTruncating(kk[ch]),
                        relu ? Mask<T>(centers, scales, shifts, ch) : null);
                }
            });
        }
    }

    private static unsafe ReluMask<T> Mask<T>(double* centers, double* scales, double* shifts, int ch) where T : unmanaged, INumber<T> =>
        new(T.CreateTruncating(centers[ch]), T.CreateTruncating(scales[ch]), T.CreateTruncating(shifts[ch]));

    private static bool CheckRelu(ReadOnlySpan<double> scale, ReadOnlySpan<double> shift, int channels)
    {
        if (scale.IsEmpty && shift.IsEmpty) return false;
        if (scale.Length < channels || shift.Length < channels)
            throw new ArgumentException($"normalization kernel: the fused ReLU needs a scale and a shift per channel ({channels}), got {scale.Length} and {shift.Length}");
        return true;
    }

    // Layer- and batch-norm passes cost a few cycles per element: from 16k elements (two 128-wide rows per 1k) a
    // second thread pays for its hand-off.
    private const long ParallelMinElements = 1 << 14;

    /// <summary>
    /// Layer norm of contiguous rows of length n: y = (x - mean) invStd gamma + beta, gamma and beta per column
    /// (pass empty spans for none). Rows are split over the worker pool.
    /// </summary>
    public static unsafe void LayerNormForward<T>(ReadOnlySpan<T> x, Span<T> y, int rows, int n, ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckRows(x.Length, y.Length, rows, n, mean.Length, invStd.Length);
        if (!gamma.IsEmpty && gamma.Length < n || !beta.IsEmpty && beta.Length < n)
            throw new ArgumentException("LayerNormForward: gamma and beta need one value per column");
        fixed (T* px = x, py = y, pg = gamma, pb = beta)
        fixed (double* pm = mean, ps = invStd)
        {
            T* cx = px, cy = py, cg = gamma.IsEmpty ? null : pg, cb = beta.IsEmpty ? null : pb;
            double* cm = pm, cs = ps;
            ForRowRanges(rows, n, (r0, r1) =>
            {
                for (int r = r0; r < r1; r++)
                {
                    var xr = new ReadOnlySpan<T>(cx + (long)r * n, n);
                    var yr = new Span<T>(cy + (long)r * n, n);
                    TensorPrimitives.Subtract(xr, T.CreateTruncating(cm[r]), yr); // centred first: no cancellation
                    TensorPrimitives.Multiply(yr, T.CreateTruncating(cs[r]), yr);
                    if (cg != null && cb != null) TensorPrimitives.MultiplyAdd(yr, new ReadOnlySpan<T>(cg, n), new ReadOnlySpan<T>(cb, n), yr);
                    else if (cg != null) TensorPrimitives.Multiply(yr, new ReadOnlySpan<T>(cg, n), yr);
                    else if (cb != null) TensorPrimitives.Add(yr, new ReadOnlySpan<T>(cb, n), yr);
                }
            });
        }
    }

    /// <summary>
    /// Gradients of <see cref="LayerNormForward{T}"/>: dx = invStd (gh - mean(gh) - xhat mean(gh xhat)) with
    /// gh = g gamma; dGamma += sum over rows of g xhat and dBeta += sum of g when given. Row sums are vector sums in T
    /// (as PyTorch's float kernel); the column sums over rows go into double every <see cref="FlushRows"/> rows, one
    /// partial sum per part of the rows.
    /// </summary>
    public static unsafe void LayerNormBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx, int rows, int n, ReadOnlySpan<double> mean,
        ReadOnlySpan<double> invStd, ReadOnlySpan<double> gamma, Span<double> dGamma, Span<double> dBeta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckRows(x.Length, dx.Length, rows, n, mean.Length, invStd.Length);
        if (g.Length < x.Length) throw new ArgumentException("LayerNormBackward: the gradient is shorter than the input");
        bool wantGamma = !dGamma.IsEmpty, wantBeta = !dBeta.IsEmpty;
        T[]? gammaT = gamma.IsEmpty ? null : new T[n];
        for (int j = 0; gammaT is not null && j < n; j++) gammaT[j] = T.CreateTruncating(gamma[j]);
        int parts = WorkerPool.Parts((long)rows * n, ParallelMinElements);
        var partGamma = wantGamma ? new double[parts * n] : null;
        var partBeta = wantBeta ? new double[parts * n] : null;
        fixed (T* px = x, pg = g, pdx = dx)
        fixed (double* pm = mean, ps = invStd)
        {
            T* cx = px, cg = pg, cdx = pdx;
            double* cm = pm, cs = ps;
            ForRowRanges(rows, n, parts, (part, r0, r1) =>
                LayerNormBackwardRows(cx, cg, cdx, r0, r1, n, cm, cs, gammaT,
                    partGamma is null ? default : partGamma.AsSpan(part * n, n), partBeta is null ? default : partBeta.AsSpan(part * n, n)));
        }
        for (int part = 0; part < parts; part++)
        {
            if (partGamma is not null) TensorPrimitives.Add(dGamma[..n], partGamma.AsSpan(part * n, n), dGamma[..n]);
            if (partBeta is not null) TensorPrimitives.Add(dBeta[..n], partBeta.AsSpan(part * n, n), dBeta[..n]);
        }
    }

    private const int FlushRows = 32;

    private static unsafe void LayerNormBackwardRows<T>(T* x, T* g, T* dx, int r0, int r1, int n, double* mean, double* invStd,
        T[]? gamma, Span<double> dGamma, Span<double> dBeta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xhat = new T[n];
        var gh = gamma is null ? null : new T[n];
        var accGamma = dGamma.IsEmpty ? null : new T[n];
        var accBeta = dBeta.IsEmpty ? null : new T[n];
        for (int r = r0; r < r1; r++)
        {
            var gr = new ReadOnlySpan<T>(g + (long)r * n, n);
            T s = T.CreateTruncating(invStd[r]);
            TensorPrimitives.Subtract(new ReadOnlySpan<T>(x + (long)r * n, n), T.CreateTruncating(mean[r]), xhat);
            TensorPrimitives.Multiply(xhat, s, xhat);
            ReadOnlySpan<T> ghr = gr;
            if (gh is not null)
            {
                TensorPrimitives.Multiply(gr, gamma, gh);
                ghr = gh;
            }
            T meanGh = TensorPrimitives.Sum(ghr) / T.CreateTruncating(n);
            T meanGhX = TensorPrimitives.Dot(ghr, xhat) / T.CreateTruncating(n);
            if (accGamma is not null) TensorPrimitives.MultiplyAdd(gr, xhat, accGamma, accGamma);
            if (accBeta is not null) TensorPrimitives.Add(accBeta, gr, accBeta);
            var dr = new Span<T>(dx + (long)r * n, n);
            TensorPrimitives.MultiplyAdd(xhat, -meanGhX, ghr, dr); // gh - xhat mean(gh xhat)
            TensorPrimitives.Subtract(dr, meanGh, dr);
            TensorPrimitives.Multiply(dr, s, dr);
            if ((r - r0) % FlushRows == FlushRows - 1 || r == r1 - 1)
            {
                Flush(accGamma, dGamma);
                Flush(accBeta, dBeta);
            }
        }
    }

    private static void Flush<T>(T[]? acc, Span<double> total) where T : unmanaged, INumber<T>
    {
        if (acc is null) return;
        for (int j = 0; j < acc.Length; j++) total[j] += double.CreateTruncating(acc[j]);
        Array.Clear(acc);
    }

    /// <summary>Mean and 1/sqrt(biased variance + eps) of each contiguous row (double sums, two passes); rows split over the worker pool.</summary>
    public static unsafe void RowStats<T>(ReadOnlySpan<T> x, int rows, int length, double eps, Span<double> mean, Span<double> invStd)
        where T : unmanaged, INumber<T>
    {
        CheckRows(x.Length, x.Length, rows, length, mean.Length, invStd.Length);
        fixed (T* px = x)
        fixed (double* pm = mean, ps = invStd)
        {
            T* cx = px;
            double* cm = pm, cs = ps;
            ForRowRanges(rows, length, (r0, r1) =>
            {
                for (int r = r0; r < r1; r += 2)
                {
                    T* first = cx + (long)r * length, second = cx + (long)Math.Min(r + 1, r1 - 1) * length;
                    var (sum0, sum1) = WidenedSums(first, second, length);
                    double m0 = length > 0 ? sum0 / length : 0, m1 = length > 0 ? sum1 / length : 0;
                    var (sq0, sq1) = SquaredDeviations(first, m0, second, m1, length);
                    cm[r] = m0;
                    cs[r] = 1 / Math.Sqrt((length > 0 ? sq0 / length : 0) + eps);
                    if (r + 1 < r1)
                    {
                        cm[r + 1] = m1;
                        cs[r + 1] = 1 / Math.Sqrt((length > 0 ? sq1 / length : 0) + eps);
                    }
                }
            });
        }
    }

    private static void CheckRows(int xLength, int yLength, int rows, int n, int meanLength, int invStdLength)
    {
        long need = (long)rows * n;
        if (rows < 0 || n < 0 || xLength < need || yLength < need || meanLength < rows || invStdLength < rows)
            throw new ArgumentException($"normalization kernel: {rows} rows of {n} need {need} elements and {rows} statistics");
    }

    private static void ForRowRanges(int rows, int n, Action<int, int> body) =>
        ForRowRanges(rows, n, WorkerPool.Parts((long)rows * n, ParallelMinElements), (_, r0, r1) => body(r0, r1));

    // Rows split into `parts` contiguous ranges, one per thread; small jobs run inline.
    private static void ForRowRanges(int rows, int n, int parts, Action<int, int, int> body)
    {
        if (parts <= 1)
        {
            body(0, 0, rows);
            return;
        }
        WorkerPool.For(parts, part =>
        {
            var (r0, r1) = WorkerPool.Range(part, parts, rows, 1);
            body(part, r0, r1);
        }, wakeSleepers: (long)rows * n >= 1 << 18);
    }
}
