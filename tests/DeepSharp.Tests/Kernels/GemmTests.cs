using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

[Collection("WorkerPool")]
public sealed unsafe class GemmTests
{
    // m x n x k. Covers the unpacked path (tiny, GEMV-like, few rows), packed edge tiles and, with k > KC,
    // m > MC and n > NC, every blocking loop of the packed path.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 7, 13, 5 }, { 1, 300, 1 }, { 300, 1, 300 }, { 17, 33, 65 }, { 64, 784, 256 },
        { 1000, 1, 1000 }, { 129, 257, 31 }, { 0, 5, 3 }, { 5, 0, 3 }, { 5, 3, 0 }, { 4, 70, 90 },
        { 37, 45, 1100 }, { 400, 40, 20 }, { 13, 4100, 3 }, { 96, 64, 8 }, { 1, 1, 1000 },
        { 300, 3, 500 }, { 64, 10, 128 }, { 200, 15, 301 }, { 50, 2, 2000 },
    };

    private static readonly (double Alpha, double Beta)[] Scalars = [(1, 0), (0.5, -2)];

    private sealed class Problem
    {
        public required int M, N, K;
        public required double[] A, B, C0; // logical op(A) m x k, op(B) k x n, C m x n, row-major
        public readonly Dictionary<(double, double), double[]> Ref = [];
        public readonly Dictionary<(double, double), double[]> Bound = [];
    }

    private static Problem Make(int m, int n, int k, int seed, (double Alpha, double Beta)[]? scalars = null)
    {
        var rng = new Random(seed);
        double Next() => Math.Round(rng.NextDouble() * 4 - 2, 3);
        var p = new Problem
        {
            M = m, N = n, K = k,
            A = Enumerable.Range(0, m * k).Select(_ => Next()).ToArray(),
            B = Enumerable.Range(0, k * n).Select(_ => Next()).ToArray(),
            C0 = Enumerable.Range(0, m * n).Select(_ => Next()).ToArray(),
        };
        foreach (var (alpha, beta) in scalars ?? Scalars)
        {
            var r = new double[m * n];
            var bound = new double[m * n];
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double s = 0, abs = 0;
                    for (int q = 0; q < k; q++)
                    {
                        double t = p.A[i * k + q] * p.B[q * n + j];
                        s += t;
                        abs += Math.Abs(t);
                    }
                    double c0 = beta == 0 ? 0 : beta * p.C0[i * n + j];
                    r[i * n + j] = alpha * s + c0;
                    bound[i * n + j] = Math.Abs(alpha) * abs + Math.Abs(c0);
                }
            }
            p.Ref[(alpha, beta)] = r;
            p.Bound[(alpha, beta)] = bound;
        }
        return p;
    }

    // Stores logical rows x cols matrix X (row-major) as X or X^T with row stride ld, padding filled with pad.
    private static T[] Store<T>(double[] x, int rows, int cols, bool trans, int ld, T pad, Func<double, T> conv)
    {
        int storedRows = trans ? cols : rows;
        var s = new T[Math.Max(1, storedRows * ld)];
        Array.Fill(s, pad);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                s[trans ? j * ld + i : i * ld + j] = conv(x[i * cols + j]);
        return s;
    }

    private static void Check(Problem p, double alpha, double beta, Func<int, double> got, double eps, string what)
    {
        double[] r = p.Ref[(alpha, beta)], bound = p.Bound[(alpha, beta)];
        // Rounding in a k-term sum grows like sqrt(k) in practice (k in the worst case).
        double factor = eps * (4 * Math.Sqrt(p.K) + 8);
        for (int e = 0; e < r.Length; e++)
        {
            double g = got(e);
            double tol = factor * bound[e] + 1e-30;
            if (!(Math.Abs(g - r[e]) <= tol))
                Assert.Fail($"{what}: C[{e / p.N},{e % p.N}] = {g}, expected {r[e]} (tol {tol:G3})");
        }
    }

    private static void RunSgemm(Problem p, bool ta, bool tb, double alpha, double beta, int pad, bool nanC, int threads)
    {
        int m = p.M, n = p.N, k = p.K;
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        lda = Math.Max(lda, 1); ldb = Math.Max(ldb, 1); ldc = Math.Max(ldc, 1);
        float[] a = Store(p.A, m, k, ta, lda, float.NaN, v => (float)v);
        float[] b = Store(p.B, k, n, tb, ldb, float.NaN, v => (float)v);
        float[] c = Store(p.C0, m, n, false, ldc, -777f, v => nanC ? float.NaN : (float)v);
        int saved = WorkerPool.Threads;
        WorkerPool.Threads = threads;
        try
        {
            Gemm.Sgemm(ta, tb, m, n, k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc);
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
        string what = $"sgemm {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta} pad={pad} T={threads}";
        Check(p, alpha, beta, e => c[e / n * ldc + e % n], Math.Pow(2, -23), what);
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(c[i * ldc + j] == -777f, $"{what}: padding C[{i},{j}] was overwritten");
    }

    /// <summary>
    /// B packed once (an inference weight) at every vector width, used by products of every shape (the packed kernel
    /// reads the panels; few rows, tiny and narrow products take the unpacked paths), on one and two threads; and B
    /// packed at this machine's widest width, then used at every other (the unpacked paths).
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void PrepackedBMatchesReference(int m, int n, int k)
    {
        (double, double)[] scalars = [(1, 0), (1, 1)];
        Problem p = Make(m, n, k, m * 1000 + n * 10 + k, scalars);
        foreach (bool tb in new[] { false, true })
        {
            PackedB native = Pack(p, tb);
            KernelCases.AtEveryWidth(width =>
            {
                PackedB here = Pack(p, tb);
                foreach (var (_, beta) in scalars)
                {
                    RunPrepacked(p, tb, here, beta, threads: 1, $"width {width}");
                    RunPrepacked(p, tb, here, beta, threads: 2, $"width {width}");
                    RunPrepacked(p, tb, native, beta, threads: 1, $"packed at {native.Width}, run at {width}");
                }
            });
        }
    }

    private static PackedB Pack(Problem p, bool tb)
    {
        int ldb = Math.Max(tb ? p.K : p.N, 1);
        float[] b = Store(p.B, p.K, p.N, tb, ldb, float.NaN, v => (float)v);
        fixed (float* pb = b) return Gemm.PackB(tb, p.N, p.K, pb, ldb);
    }

    private static void RunPrepacked(Problem p, bool tb, PackedB packed, double beta, int threads, string how)
    {
        int m = p.M, n = p.N, k = p.K;
        int lda = Math.Max(k, 1), ldb = Math.Max(tb ? k : n, 1), ldc = Math.Max(n, 1);
        float[] a = Store(p.A, m, k, false, lda, float.NaN, v => (float)v);
        float[] b = Store(p.B, k, n, tb, ldb, float.NaN, v => (float)v);
        float[] c = Store(p.C0, m, n, false, ldc, -777f, v => (float)v);
        int saved = WorkerPool.Threads;
        WorkerPool.Threads = threads;
        try
        {
            fixed (float* pa = a, pb = b, pc = c) Gemm.Sgemm(m, pa, lda, packed, pb, ldb, (float)beta, pc, ldc);
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
        Check(p, 1, beta, e => c[e / n * ldc + e % n], Math.Pow(2, -23), $"prepacked sgemm {m}x{n}x{k} tb={tb} beta={beta} T={threads} {how}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SgemmMatchesReference(int m, int n, int k)
    {
        Problem p = Make(m, n, k, m * 1000 + n * 10 + k);
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (var (alpha, beta) in Scalars)
        {
            RunSgemm(p, ta, tb, alpha, beta, pad: 0, nanC: false, threads: 1);
            RunSgemm(p, ta, tb, alpha, beta, pad: 3, nanC: false, threads: 2);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BetaZeroIgnoresNaNInC(int m, int n, int k)
    {
        Problem p = Make(m, n, k, 7);
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            RunSgemm(p, ta, tb, 1, 0, pad: 1, nanC: true, threads: 2);
            RunSgemm(p, ta, tb, 1, 0, pad: 0, nanC: true, threads: 1);
        }
    }

    [Theory]
    [InlineData(7, 13, 5)]
    [InlineData(17, 33, 65)]
    [InlineData(129, 257, 31)]
    [InlineData(64, 100, 700)]
    [InlineData(3, 50, 40)]
    [InlineData(200, 1, 20)]
    [InlineData(5, 3, 0)]
    public void DgemmMatchesReference(int m, int n, int k)
    {
        Problem p = Make(m, n, k, 11);
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (var (alpha, beta) in Scalars)
        foreach (int threads in new[] { 1, 2 })
        {
            int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 2, ldc = n + 2;
            double[] a = Store(p.A, m, k, ta, lda, double.NaN, v => v);
            double[] b = Store(p.B, k, n, tb, ldb, double.NaN, v => v);
            double[] c = Store(p.C0, m, n, false, ldc, -777.0, v => beta == 0 ? double.NaN : v);
            int saved = WorkerPool.Threads;
            WorkerPool.Threads = threads;
            try
            {
                Gemm.Dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            }
            finally
            {
                WorkerPool.Threads = saved;
            }
            Check(p, alpha, beta, e => c[e / n * ldc + e % n], Math.Pow(2, -52),
                $"dgemm {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta} T={threads}");
        }
    }

    [Fact]
    public void AlphaZeroScalesCWithoutReadingAOrB()
    {
        float[] a = [float.NaN, float.NaN, float.NaN, float.NaN];
        float[] c = [1, 2, 3, 4];
        Gemm.Sgemm(false, false, 2, 2, 2, 0f, a, 2, a, 2, 3f, c, 2);
        Assert.Equal([3f, 6f, 9f, 12f], c);
        float[] d = [float.NaN, float.NaN, float.NaN, float.NaN];
        Gemm.Sgemm(false, false, 2, 2, 2, 0f, a, 2, a, 2, 0f, d, 2);
        Assert.Equal([0f, 0f, 0f, 0f], d);
    }

    [Fact]
    public void EmptyProductsLeaveCAlone()
    {
        float[] c = [5, 6, 7];
        Gemm.Sgemm(false, false, 0, 3, 4, 1f, [], 4, new float[12], 3, 0f, c, 3);
        Gemm.Sgemm(false, false, 1, 0, 4, 1f, new float[4], 4, [], 1, 0f, c, 1);
        Assert.Equal([5f, 6f, 7f], c);
    }

    [Theory]
    [InlineData(5, 7, 3, 4)]      // small: parallel across the batch
    [InlineData(40, 70, 50, 3)]
    [InlineData(260, 256, 256, 2)] // large: parallel inside each product
    public void BatchedMatchesSingleCalls(int m, int n, int k, int count)
    {
        foreach (bool broadcastA in new[] { false, true })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            var rng = new Random(count * 31 + m);
            int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 1, ldc = n + 1;
            long sa = broadcastA ? 0 : (long)(ta ? k : m) * lda, sb = (long)(tb ? n : k) * ldb + 5, sc = (long)m * ldc + 3;
            float[] a = new float[Math.Max(1, (broadcastA ? 1 : count) * (ta ? k : m) * lda + 10)];
            float[] b = new float[count * sb + 10];
            float[] c = new float[count * sc + 10];
            for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() - 0.5);
            for (int i = 0; i < b.Length; i++) b[i] = (float)(rng.NextDouble() - 0.5);
            for (int i = 0; i < c.Length; i++) c[i] = (float)(rng.NextDouble() - 0.5);
            float[] expected = (float[])c.Clone();
            for (int t = 0; t < count; t++)
            {
                Gemm.Sgemm(ta, tb, m, n, k, 0.5f, a.AsSpan((int)(t * sa)), lda, b.AsSpan((int)(t * sb)), ldb, -1f,
                    expected.AsSpan((int)(t * sc)), ldc);
            }
            int saved = WorkerPool.Threads;
            WorkerPool.Threads = 2;
            try
            {
                fixed (float* pa = a, pb = b, pc = c)
                    Gemm.SgemmBatched(count, ta, tb, m, n, k, 0.5f, pa, lda, sa, pb, ldb, sb, -1f, pc, ldc, sc);
            }
            finally
            {
                WorkerPool.Threads = saved;
            }
            for (int i = 0; i < c.Length; i++)
                Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-4f * (1 + Math.Abs(expected[i])),
                    $"batched {m}x{n}x{k} count={count} broadcastA={broadcastA} ta={ta} tb={tb}: element {i} {c[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void DgemmBatchedBroadcastsB()
    {
        const int m = 3, n = 4, k = 5, count = 3;
        var rng = new Random(3);
        double[] a = Enumerable.Range(0, count * m * k).Select(_ => rng.NextDouble()).ToArray();
        double[] b = Enumerable.Range(0, k * n).Select(_ => rng.NextDouble()).ToArray();
        double[] c = new double[count * m * n];
        fixed (double* pa = a, pb = b, pc = c)
            Gemm.DgemmBatched(count, false, false, m, n, k, 1.0, pa, k, m * k, pb, n, 0, 0.0, pc, n, m * n);
        for (int t = 0; t < count; t++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int q = 0; q < k; q++)
                        s += a[t * m * k + i * k + q] * b[q * n + j];
                    Assert.Equal(s, c[t * m * n + i * n + j], 12);
                }
    }

    // Every packed micro-kernel configuration (vector width x rows per tile), run directly whatever the
    // dispatcher would pick on this machine; configurations wider than the CPU runs are skipped.
    public static TheoryData<int, int> KernelConfigs => new() { { 512, 12 }, { 256, 12 }, { 256, 6 }, { 128, 12 }, { 128, 6 }, { 0, 6 } };

    [Theory]
    [MemberData(nameof(KernelConfigs))]
    public void EveryMicroKernelMatchesReference(int width, int rows)
    {
        if (width > SimdWidth.Hardware)
            return;
        foreach (var (m, n, k) in new[] { (37, 45, 70), (13, 17, 9), (64, 96, 600) })
        {
            Problem p = Make(m, n, k, 5);
            foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            foreach (var (alpha, beta) in Scalars)
            foreach (int threads in new[] { 1, 2 })
            {
                int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 1, ldc = n + 1;
                float[] a = Store(p.A, m, k, ta, lda, float.NaN, v => (float)v);
                float[] b = Store(p.B, k, n, tb, ldb, float.NaN, v => (float)v);
                float[] c = Store(p.C0, m, n, false, ldc, -777f, v => beta == 0 ? float.NaN : (float)v);
                double[] ad = Store(p.A, m, k, ta, lda, double.NaN, v => v);
                double[] bd = Store(p.B, k, n, tb, ldb, double.NaN, v => v);
                double[] cd = Store(p.C0, m, n, false, ldc, -777.0, v => beta == 0 ? double.NaN : v);
                fixed (float* pa = a, pb = b, pc = c)
                fixed (double* pad = ad, pbd = bd, pcd = cd)
                {
                    RunKernel(width, rows, ta, tb, m, n, k, (float)alpha, pa, lda, pb, ldb, (float)beta, pc, ldc, threads);
                    RunKernel(width, rows, ta, tb, m, n, k, alpha, pad, lda, pbd, ldb, beta, pcd, ldc, threads);
                }
                string what = $"{width}x{rows} kernel {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta} T={threads}";
                Check(p, alpha, beta, e => c[e / n * ldc + e % n], Math.Pow(2, -23), "s" + what);
                Check(p, alpha, beta, e => cd[e / n * ldc + e % n], Math.Pow(2, -52), "d" + what);
            }
        }
    }

    private static void RunKernel<T>(int width, int rows, bool ta, bool tb, int m, int n, int k, T alpha, T* a, int lda,
        T* b, int ldb, T beta, T* c, int ldc, int threads) where T : unmanaged, System.Numerics.INumber<T>
    {
        switch (width, rows)
        {
            case (512, _): GemmDriver<T, PackedKernel<T, Vector512<T>, Simd512<T>, Rows12>>.Run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case (256, 12): GemmDriver<T, PackedKernel<T, Vector256<T>, Simd256<T>, Rows12>>.Run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case (256, _): GemmDriver<T, PackedKernel<T, Vector256<T>, Simd256<T>, Rows6>>.Run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case (128, 12): GemmDriver<T, PackedKernel<T, Vector128<T>, Simd128<T>, Rows12>>.Run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case (128, _): GemmDriver<T, PackedKernel<T, Vector128<T>, Simd128<T>, Rows6>>.Run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            default: GemmDriver<T, PackedKernel<T, T, Simd1<T>, Rows6>>.Run(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
        }
    }

    public static TheoryData<int> Widths => [512, 256, 128, 0];

    // Odd shapes through the public entry points at every vector width this machine runs: each dimension
    // from 1 to 67 against fixed others (tails, fewer columns than a vector, single rows and columns, the
    // direct/packed boundary), all four transpose combinations, padded (strided) operands with NaN in the
    // padding, alpha/beta with and without reading C, one and two threads; float64 reference.
    [Theory]
    [MemberData(nameof(Widths))]
    public void OddShapesMatchReferenceAtEveryWidth(int width)
    {
        if (width > SimdWidth.Hardware)
            return;
        var shapes = new List<(int M, int N, int K)>();
        for (int d = 1; d <= 67; d++)
            shapes.AddRange([(d, 13, 67), (67, d, 33), (40, 50, d), (d, d, d)]);
        int index = 0;
        foreach (var (m, n, k) in shapes)
        {
            Problem p = Make(m, n, k, index);
            var (alpha, beta) = Scalars[index % 2];
            int threads = 1 + index / 2 % 2, pad = index % 3;
            index++;
            foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
                float[] a = Store(p.A, m, k, ta, lda, float.NaN, v => (float)v);
                float[] b = Store(p.B, k, n, tb, ldb, float.NaN, v => (float)v);
                float[] c = Store(p.C0, m, n, false, ldc, -777f, v => beta == 0 ? float.NaN : (float)v);
                double[] ad = Store(p.A, m, k, ta, lda, double.NaN, v => v);
                double[] bd = Store(p.B, k, n, tb, ldb, double.NaN, v => v);
                double[] cd = Store(p.C0, m, n, false, ldc, -777.0, v => beta == 0 ? double.NaN : v);
                int saved = WorkerPool.Threads;
                WorkerPool.Threads = threads;
                try
                {
                    using (SimdWidth.Force(width))
                    {
                        Gemm.Sgemm(ta, tb, m, n, k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc);
                        Gemm.Dgemm(ta, tb, m, n, k, alpha, ad, lda, bd, ldb, beta, cd, ldc);
                    }
                }
                finally
                {
                    WorkerPool.Threads = saved;
                }
                string what = $"gemm at {width} bits {m}x{n}x{k} ta={ta} tb={tb} alpha={alpha} beta={beta} pad={pad} T={threads}";
                Check(p, alpha, beta, e => c[e / n * ldc + e % n], Math.Pow(2, -23), "s" + what);
                Check(p, alpha, beta, e => cd[e / n * ldc + e % n], Math.Pow(2, -52), "d" + what);
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++)
                        Assert.True(c[i * ldc + j] == -777f && cd[i * ldc + j] == -777.0, $"{what}: padding C[{i},{j}] was overwritten");
            }
        }
    }

    [Fact]
    public void SpanOverloadsValidateSizes()
    {
        var a = new float[100];
        var b = new float[200];
        var c = new float[200];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 10, 13, 13, 1f, a, 13, b, 13, 0f, c, 13));
        Assert.Equal("sgemm: A needs at least 130 elements for m=10,k=13,lda=13 (transA=false) but has 100", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, true, 5, 20, 13, 1f, a, 13, b, 13, 0f, c, 20));
        Assert.Contains("B needs at least 260 elements", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 5, 50, 4, 1f, a, 4, b, 50, 0f, c, 50));
        Assert.Contains("C needs at least 250 elements", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 3, 3, 4, 1f, a, 3, b, 3, 0f, c, 3));
        Assert.Contains("lda=3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(true, false, 5, 3, 4, 1f, a, 4, b, 3, 0f, c, 3));
        Assert.Contains("lda=4 is smaller than the 5 columns of A", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 3, 4, 3, 1f, a, 3, b, 4, 0f, c, 2));
        Assert.Contains("ldc=2", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, -1, 3, 3, 1f, a, 3, b, 3, 0f, c, 3));
        Assert.Contains("m=-1", ex.Message);
        var d = new double[8];
        ex = Assert.Throws<ArgumentException>(() => Gemm.Dgemm(false, false, 3, 3, 3, 1.0, d, 3, d, 3, 0.0, d, 3));
        Assert.StartsWith("dgemm: A needs at least 9 elements", ex.Message);
        // The last row of a strided matrix need not be padded.
        Gemm.Sgemm(false, false, 2, 2, 2, 1f, new float[7], 5, new float[7], 5, 0f, new float[7], 5);
    }

    [Fact]
    public void BatchedValidatesArguments()
    {
        float* p = stackalloc float[16];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.SgemmBatched(-1, false, false, 2, 2, 2, 1f, p, 2, 4, p, 2, 4, 0f, p, 2, 4));
        Assert.Contains("count", ex.Message);
        float* q = stackalloc float[16];
        ex = Assert.Throws<ArgumentException>(() => Gemm.SgemmBatched(2, false, false, 2, 2, 2, 1f, q, 2, 4, q, 2, 4, 0f, q, 2, 0));
        Assert.Contains("strideC", ex.Message);
    }

    [Fact]
    public void BlockingFollowsTheCachesAndTheFmaRate()
    {
        // A 12 x 32 float kernel (AVX-512) with a 48 KiB L1, 2 MiB L2: the B micro-panel in half of L1.
        Assert.Equal((192, 480, 4096), GemmBlocking.For(12, 32, 4, 48 << 10, 2 << 20, 16 << 20));
        // The same kernel on cores that run 512-bit vectors in halves (32 KiB L1, 1 MiB L2): B streams from L2,
        // KC as deep as an eight-tile A block in a quarter of L2 allows, MC shrinking to keep that block there.
        Assert.Equal((128, 480, 4096), GemmBlocking.For(12, 32, 4, 32 << 10, 1 << 20, 16 << 20));
        Assert.Equal((512, 120, 4096), GemmBlocking.For(12, 32, 4, 32 << 10, 1 << 20, 16 << 20, halfRate: true));
        // A small L2 keeps KC at the L1 figure rather than below it.
        Assert.Equal(128, GemmBlocking.For(12, 32, 4, 32 << 10, 128 << 10, 16 << 20, halfRate: true).Kc);
        // The CPU reports which it is; only AVX-512 cores can halve 512-bit vectors.
        if (!Avx512F.IsSupported)
            Assert.False(CpuInfo.HalvesWideVectors);
    }
}
