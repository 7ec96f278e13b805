using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: C[MR x NR] = alpha * Apanel * Bpanel + beta * C, where Apanel holds
/// MR values per k step (k-major) and Bpanel NR values per k step, both packed contiguously.
/// Implemented by structs so the generic driver is specialised (and the kernel inlined) per kernel.
/// </summary>
internal unsafe interface IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    static abstract int MR { get; }
    static abstract int NR { get; }

    /// <summary>Full MR x NR tile. beta == 0 means C is not read.</summary>
    static abstract void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta);

    /// <summary>Partial tile: only rows x cols of C (rows &lt;= MR, cols &lt;= NR) are read and written.</summary>
    static abstract void RunEdge(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols);
}

/// <summary>A compile-time row count: generic code specialised per count drops the unused rows.</summary>
internal interface IRowCount
{
    static abstract int Value { get; }
}

internal struct Rows1 : IRowCount { public static int Value => 1; }
internal struct Rows2 : IRowCount { public static int Value => 2; }
internal struct Rows3 : IRowCount { public static int Value => 3; }
internal struct Rows4 : IRowCount { public static int Value => 4; }
internal struct Rows5 : IRowCount { public static int Value => 5; }
internal struct Rows6 : IRowCount { public static int Value => 6; }
internal struct Rows7 : IRowCount { public static int Value => 7; }
internal struct Rows8 : IRowCount { public static int Value => 8; }
internal struct Rows9 : IRowCount { public static int Value => 9; }
internal struct Rows10 : IRowCount { public static int Value => 10; }
internal struct Rows11 : IRowCount { public static int Value => 11; }
internal struct Rows12 : IRowCount { public static int Value => 12; }

/// <summary>Edge tiles through a scratch tile, for kernels without masked stores.</summary>
internal static unsafe class EdgeViaTile<T, K> where T : unmanaged, INumber<T> where K : struct, IGemmMicroKernel<T>
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols)
    {
        T* tile = stackalloc T[K.MR * K.NR];
        K.Run(kc, a, b, tile, K.NR, alpha, T.Zero);
        for (int i = 0; i < rows; i++)
        {
            T* src = tile + i * K.NR;
            T* dst = c + i * ldc;
            for (int j = 0; j < cols; j++)
                dst[j] = beta == T.Zero ? src[j] : src[j] + beta * dst[j];
        }
    }
}

/// <summary>Typed FMA helpers: the JIT folds the type tests away for each T and emits one vfmadd.</summary>
internal static class SimdFma
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    /// <summary>Fused where the hardware has FMA (x64 FMA3, ARM64 AdvSimd); a separate multiply and add otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Fma<T>(Vector128<T> a, Vector128<T> b, Vector128<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double))
                return Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }

    /// <summary>Lanes [0, count) set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> FirstLanes<T>(int count) where T : INumber<T> =>
        Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(count)));

    /// <summary>Loads the lanes in mask (others zero) without touching memory outside them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<T> LoadMasked<T>(T* p, Vector512<T> mask) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Avx512F.MaskLoad((float*)p, mask.AsSingle(), Vector512<float>.Zero).As<float, T>();
        if (typeof(T) == typeof(double))
            return Avx512F.MaskLoad((double*)p, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Stores the lanes in mask without touching memory outside them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StoreMasked<T>(T* p, Vector512<T> mask, Vector512<T> x) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            Avx512F.MaskStore((float*)p, mask.AsSingle(), x.AsSingle());
        else if (typeof(T) == typeof(double))
            Avx512F.MaskStore((double*)p, mask.AsDouble(), x.AsDouble());
        else
            throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>c[lanes in mask] = alpha * x + beta * c; beta == 0 reads nothing. Masked lanes never fault.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void PutMasked<T>(T* c, Vector512<T> mask, Vector512<T> x, Vector512<T> va, Vector512<T> vb, bool read)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            Vector512<float> r = x.AsSingle() * va.AsSingle();
            if (read)
                r = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad((float*)c, mask.AsSingle(), Vector512<float>.Zero), vb.AsSingle(), r);
            Avx512F.MaskStore((float*)c, mask.AsSingle(), r);
        }
        else if (typeof(T) == typeof(double))
        {
            Vector512<double> r = x.AsDouble() * va.AsDouble();
            if (read)
                r = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad((double*)c, mask.AsDouble(), Vector512<double>.Zero), vb.AsDouble(), r);
            Avx512F.MaskStore((double*)c, mask.AsDouble(), r);
        }
        else
        {
            throw new NotSupportedException(typeof(T).Name);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }
}

/// <summary>
/// AVX-512 kernel: 12 rows x 2 vectors (12x32 float, 12x16 double). 24 accumulators + 2 B vectors + 1 broadcast
/// fit in the 32 zmm registers; each k step issues 24 FMAs against 2 loads and 12 broadcasts.
/// </summary>
internal readonly unsafe struct Avx512Kernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 12;
    public static int NR => 2 * Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta)
    {
        int w = Vector512<T>.Count;
        // Fetch the C tile now so its (often cache-missing, strided) rows arrive while the k loop runs.
        if (Sse.IsSupported)
        {
            for (int i = 0; i < 12; i++)
            {
                Sse.Prefetch0(c + i * ldc);
                Sse.Prefetch0(c + i * ldc + 2 * w - 1);
            }
        }
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<T> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b), b1 = Vector512.Load(b + w), ai;
            ai = Vector512.Create(a[0]); c00 = SimdFma.Fma(ai, b0, c00); c01 = SimdFma.Fma(ai, b1, c01);
            ai = Vector512.Create(a[1]); c10 = SimdFma.Fma(ai, b0, c10); c11 = SimdFma.Fma(ai, b1, c11);
            ai = Vector512.Create(a[2]); c20 = SimdFma.Fma(ai, b0, c20); c21 = SimdFma.Fma(ai, b1, c21);
            ai = Vector512.Create(a[3]); c30 = SimdFma.Fma(ai, b0, c30); c31 = SimdFma.Fma(ai, b1, c31);
            ai = Vector512.Create(a[4]); c40 = SimdFma.Fma(ai, b0, c40); c41 = SimdFma.Fma(ai, b1, c41);
            ai = Vector512.Create(a[5]); c50 = SimdFma.Fma(ai, b0, c50); c51 = SimdFma.Fma(ai, b1, c51);
            ai = Vector512.Create(a[6]); c60 = SimdFma.Fma(ai, b0, c60); c61 = SimdFma.Fma(ai, b1, c61);
            ai = Vector512.Create(a[7]); c70 = SimdFma.Fma(ai, b0, c70); c71 = SimdFma.Fma(ai, b1, c71);
            ai = Vector512.Create(a[8]); c80 = SimdFma.Fma(ai, b0, c80); c81 = SimdFma.Fma(ai, b1, c81);
            ai = Vector512.Create(a[9]); c90 = SimdFma.Fma(ai, b0, c90); c91 = SimdFma.Fma(ai, b1, c91);
            ai = Vector512.Create(a[10]); ca0 = SimdFma.Fma(ai, b0, ca0); ca1 = SimdFma.Fma(ai, b1, ca1);
            ai = Vector512.Create(a[11]); cb0 = SimdFma.Fma(ai, b0, cb0); cb1 = SimdFma.Fma(ai, b1, cb1);
            a += 12;
            b += 2 * w;
        }
        Vector512<T> va = Vector512.Create(alpha);
        if (beta == T.Zero)
        {
            Put(c, w, c00, c01, va); Put(c + ldc, w, c10, c11, va); Put(c + 2 * ldc, w, c20, c21, va);
            Put(c + 3 * ldc, w, c30, c31, va); Put(c + 4 * ldc, w, c40, c41, va); Put(c + 5 * ldc, w, c50, c51, va);
            Put(c + 6 * ldc, w, c60, c61, va); Put(c + 7 * ldc, w, c70, c71, va); Put(c + 8 * ldc, w, c80, c81, va);
            Put(c + 9 * ldc, w, c90, c91, va); Put(c + 10 * ldc, w, ca0, ca1, va); Put(c + 11 * ldc, w, cb0, cb1, va);
        }
        else
        {
            Vector512<T> vb = Vector512.Create(beta);
            Acc(c, w, c00, c01, va, vb); Acc(c + ldc, w, c10, c11, va, vb); Acc(c + 2 * ldc, w, c20, c21, va, vb);
            Acc(c + 3 * ldc, w, c30, c31, va, vb); Acc(c + 4 * ldc, w, c40, c41, va, vb); Acc(c + 5 * ldc, w, c50, c51, va, vb);
            Acc(c + 6 * ldc, w, c60, c61, va, vb); Acc(c + 7 * ldc, w, c70, c71, va, vb); Acc(c + 8 * ldc, w, c80, c81, va, vb);
            Acc(c + 9 * ldc, w, c90, c91, va, vb); Acc(c + 10 * ldc, w, ca0, ca1, va, vb); Acc(c + 11 * ldc, w, cb0, cb1, va, vb);
        }
    }

    public static void RunEdge(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols)
    {
        switch (rows)
        {
            case 1: Edge<Rows1>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 2: Edge<Rows2>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 3: Edge<Rows3>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 4: Edge<Rows4>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 5: Edge<Rows5>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 6: Edge<Rows6>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 7: Edge<Rows7>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 8: Edge<Rows8>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 9: Edge<Rows9>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 10: Edge<Rows10>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 11: Edge<Rows11>(kc, a, b, c, ldc, alpha, beta, cols); break;
            default: Edge<Rows12>(kc, a, b, c, ldc, alpha, beta, cols); break;
        }
    }

    // Only the R live rows are computed, and only one vector column when cols <= W; partial columns are
    // written with masked loads/stores, so edge tiles cost about their share of the work.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Edge<R>(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int cols) where R : struct, IRowCount
    {
        int w = Vector512<T>.Count;
        bool two = cols > w;
        Vector512<T> x00 = default, x01 = default, x10 = default, x11 = default, x20 = default, x21 = default, x30 = default, x31 = default, x40 = default, x41 = default, x50 = default, x51 = default;
        Vector512<T> x60 = default, x61 = default, x70 = default, x71 = default, x80 = default, x81 = default, x90 = default, x91 = default, xa0 = default, xa1 = default, xb0 = default, xb1 = default;
        if (two)
        {
            for (int p = 0; p < kc; p++, a += 12, b += 2 * w)
            {
                Vector512<T> b0 = Vector512.Load(b), b1 = Vector512.Load(b + w), ai;
                if (R.Value > 0) { ai = Vector512.Create(a[0]); x00 = SimdFma.Fma(ai, b0, x00); x01 = SimdFma.Fma(ai, b1, x01); }
                if (R.Value > 1) { ai = Vector512.Create(a[1]); x10 = SimdFma.Fma(ai, b0, x10); x11 = SimdFma.Fma(ai, b1, x11); }
                if (R.Value > 2) { ai = Vector512.Create(a[2]); x20 = SimdFma.Fma(ai, b0, x20); x21 = SimdFma.Fma(ai, b1, x21); }
                if (R.Value > 3) { ai = Vector512.Create(a[3]); x30 = SimdFma.Fma(ai, b0, x30); x31 = SimdFma.Fma(ai, b1, x31); }
                if (R.Value > 4) { ai = Vector512.Create(a[4]); x40 = SimdFma.Fma(ai, b0, x40); x41 = SimdFma.Fma(ai, b1, x41); }
                if (R.Value > 5) { ai = Vector512.Create(a[5]); x50 = SimdFma.Fma(ai, b0, x50); x51 = SimdFma.Fma(ai, b1, x51); }
                if (R.Value > 6) { ai = Vector512.Create(a[6]); x60 = SimdFma.Fma(ai, b0, x60); x61 = SimdFma.Fma(ai, b1, x61); }
                if (R.Value > 7) { ai = Vector512.Create(a[7]); x70 = SimdFma.Fma(ai, b0, x70); x71 = SimdFma.Fma(ai, b1, x71); }
                if (R.Value > 8) { ai = Vector512.Create(a[8]); x80 = SimdFma.Fma(ai, b0, x80); x81 = SimdFma.Fma(ai, b1, x81); }
                if (R.Value > 9) { ai = Vector512.Create(a[9]); x90 = SimdFma.Fma(ai, b0, x90); x91 = SimdFma.Fma(ai, b1, x91); }
                if (R.Value > 10) { ai = Vector512.Create(a[10]); xa0 = SimdFma.Fma(ai, b0, xa0); xa1 = SimdFma.Fma(ai, b1, xa1); }
                if (R.Value > 11) { ai = Vector512.Create(a[11]); xb0 = SimdFma.Fma(ai, b0, xb0); xb1 = SimdFma.Fma(ai, b1, xb1); }
            }
        }
        else
        {
            for (int p = 0; p < kc; p++, a += 12, b += 2 * w)
            {
                Vector512<T> b0 = Vector512.Load(b);
                if (R.Value > 0) x00 = SimdFma.Fma(Vector512.Create(a[0]), b0, x00);
                if (R.Value > 1) x10 = SimdFma.Fma(Vector512.Create(a[1]), b0, x10);
                if (R.Value > 2) x20 = SimdFma.Fma(Vector512.Create(a[2]), b0, x20);
                if (R.Value > 3) x30 = SimdFma.Fma(Vector512.Create(a[3]), b0, x30);
                if (R.Value > 4) x40 = SimdFma.Fma(Vector512.Create(a[4]), b0, x40);
                if (R.Value > 5) x50 = SimdFma.Fma(Vector512.Create(a[5]), b0, x50);
                if (R.Value > 6) x60 = SimdFma.Fma(Vector512.Create(a[6]), b0, x60);
                if (R.Value > 7) x70 = SimdFma.Fma(Vector512.Create(a[7]), b0, x70);
                if (R.Value > 8) x80 = SimdFma.Fma(Vector512.Create(a[8]), b0, x80);
                if (R.Value > 9) x90 = SimdFma.Fma(Vector512.Create(a[9]), b0, x90);
                if (R.Value > 10) xa0 = SimdFma.Fma(Vector512.Create(a[10]), b0, xa0);
                if (R.Value > 11) xb0 = SimdFma.Fma(Vector512.Create(a[11]), b0, xb0);
            }
        }
        Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        Vector512<T> m0 = SimdFma.FirstLanes<T>(cols), m1 = SimdFma.FirstLanes<T>(cols - w);
        bool read = beta != T.Zero;
        if (R.Value > 0) { SimdFma.PutMasked(c + 0 * ldc, m0, x00, va, vb, read); if (two) SimdFma.PutMasked(c + 0 * ldc + w, m1, x01, va, vb, read); }
        if (R.Value > 1) { SimdFma.PutMasked(c + 1 * ldc, m0, x10, va, vb, read); if (two) SimdFma.PutMasked(c + 1 * ldc + w, m1, x11, va, vb, read); }
        if (R.Value > 2) { SimdFma.PutMasked(c + 2 * ldc, m0, x20, va, vb, read); if (two) SimdFma.PutMasked(c + 2 * ldc + w, m1, x21, va, vb, read); }
        if (R.Value > 3) { SimdFma.PutMasked(c + 3 * ldc, m0, x30, va, vb, read); if (two) SimdFma.PutMasked(c + 3 * ldc + w, m1, x31, va, vb, read); }
        if (R.Value > 4) { SimdFma.PutMasked(c + 4 * ldc, m0, x40, va, vb, read); if (two) SimdFma.PutMasked(c + 4 * ldc + w, m1, x41, va, vb, read); }
        if (R.Value > 5) { SimdFma.PutMasked(c + 5 * ldc, m0, x50, va, vb, read); if (two) SimdFma.PutMasked(c + 5 * ldc + w, m1, x51, va, vb, read); }
        if (R.Value > 6) { SimdFma.PutMasked(c + 6 * ldc, m0, x60, va, vb, read); if (two) SimdFma.PutMasked(c + 6 * ldc + w, m1, x61, va, vb, read); }
        if (R.Value > 7) { SimdFma.PutMasked(c + 7 * ldc, m0, x70, va, vb, read); if (two) SimdFma.PutMasked(c + 7 * ldc + w, m1, x71, va, vb, read); }
        if (R.Value > 8) { SimdFma.PutMasked(c + 8 * ldc, m0, x80, va, vb, read); if (two) SimdFma.PutMasked(c + 8 * ldc + w, m1, x81, va, vb, read); }
        if (R.Value > 9) { SimdFma.PutMasked(c + 9 * ldc, m0, x90, va, vb, read); if (two) SimdFma.PutMasked(c + 9 * ldc + w, m1, x91, va, vb, read); }
        if (R.Value > 10) { SimdFma.PutMasked(c + 10 * ldc, m0, xa0, va, vb, read); if (two) SimdFma.PutMasked(c + 10 * ldc + w, m1, xa1, va, vb, read); }
        if (R.Value > 11) { SimdFma.PutMasked(c + 11 * ldc, m0, xb0, va, vb, read); if (two) SimdFma.PutMasked(c + 11 * ldc + w, m1, xb1, va, vb, read); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(T* c, int w, Vector512<T> x0, Vector512<T> x1, Vector512<T> va)
    {
        (x0 * va).Store(c);
        (x1 * va).Store(c + w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Acc(T* c, int w, Vector512<T> x0, Vector512<T> x1, Vector512<T> va, Vector512<T> vb)
    {
        SimdFma.Fma(x0, va, Vector512.Load(c) * vb).Store(c);
        SimdFma.Fma(x1, va, Vector512.Load(c + w) * vb).Store(c + w);
    }
}

/// <summary>AVX2+FMA kernel: 6 rows x 2 vectors (6x16 float, 6x8 double); 12 accumulators fit the 16 ymm registers.</summary>
internal readonly unsafe struct Avx2Kernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta)
    {
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.Load(b), b1 = Vector256.Load(b + w), ai;
            ai = Vector256.Create(a[0]); c00 = SimdFma.Fma(ai, b0, c00); c01 = SimdFma.Fma(ai, b1, c01);
            ai = Vector256.Create(a[1]); c10 = SimdFma.Fma(ai, b0, c10); c11 = SimdFma.Fma(ai, b1, c11);
            ai = Vector256.Create(a[2]); c20 = SimdFma.Fma(ai, b0, c20); c21 = SimdFma.Fma(ai, b1, c21);
            ai = Vector256.Create(a[3]); c30 = SimdFma.Fma(ai, b0, c30); c31 = SimdFma.Fma(ai, b1, c31);
            ai = Vector256.Create(a[4]); c40 = SimdFma.Fma(ai, b0, c40); c41 = SimdFma.Fma(ai, b1, c41);
            ai = Vector256.Create(a[5]); c50 = SimdFma.Fma(ai, b0, c50); c51 = SimdFma.Fma(ai, b1, c51);
            a += 6;
            b += 2 * w;
        }
        Vector256<T> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        bool read = beta != T.Zero;
        Put(c, w, c00, c01, va, vb, read); Put(c + ldc, w, c10, c11, va, vb, read);
        Put(c + 2 * ldc, w, c20, c21, va, vb, read); Put(c + 3 * ldc, w, c30, c31, va, vb, read);
        Put(c + 4 * ldc, w, c40, c41, va, vb, read); Put(c + 5 * ldc, w, c50, c51, va, vb, read);
    }

    public static void RunEdge(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols) =>
        EdgeViaTile<T, Avx2Kernel<T>>.Run(kc, a, b, c, ldc, alpha, beta, rows, cols);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(T* c, int w, Vector256<T> x0, Vector256<T> x1, Vector256<T> va, Vector256<T> vb, bool read)
    {
        if (read)
        {
            SimdFma.Fma(x0, va, Vector256.Load(c) * vb).Store(c);
            SimdFma.Fma(x1, va, Vector256.Load(c + w) * vb).Store(c + w);
        }
        else
        {
            (x0 * va).Store(c);
            (x1 * va).Store(c + w);
        }
    }
}

/// <summary>
/// 128-bit kernel for ARM64 (NEON) and x64 without AVX2: 6 rows x 2 vectors (6x8 float, 6x4 double);
/// 12 accumulators fit the 16 xmm registers of SSE (NEON has 32).
/// </summary>
internal readonly unsafe struct Vector128Kernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector128<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta)
    {
        int w = Vector128<T>.Count;
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector128<T> b0 = Vector128.Load(b), b1 = Vector128.Load(b + w), ai;
            ai = Vector128.Create(a[0]); c00 = SimdFma.Fma(ai, b0, c00); c01 = SimdFma.Fma(ai, b1, c01);
            ai = Vector128.Create(a[1]); c10 = SimdFma.Fma(ai, b0, c10); c11 = SimdFma.Fma(ai, b1, c11);
            ai = Vector128.Create(a[2]); c20 = SimdFma.Fma(ai, b0, c20); c21 = SimdFma.Fma(ai, b1, c21);
            ai = Vector128.Create(a[3]); c30 = SimdFma.Fma(ai, b0, c30); c31 = SimdFma.Fma(ai, b1, c31);
            ai = Vector128.Create(a[4]); c40 = SimdFma.Fma(ai, b0, c40); c41 = SimdFma.Fma(ai, b1, c41);
            ai = Vector128.Create(a[5]); c50 = SimdFma.Fma(ai, b0, c50); c51 = SimdFma.Fma(ai, b1, c51);
            a += 6;
            b += 2 * w;
        }
        Vector128<T> va = Vector128.Create(alpha), vb = Vector128.Create(beta);
        bool read = beta != T.Zero;
        Put(c, w, c00, c01, va, vb, read); Put(c + ldc, w, c10, c11, va, vb, read);
        Put(c + 2 * ldc, w, c20, c21, va, vb, read); Put(c + 3 * ldc, w, c30, c31, va, vb, read);
        Put(c + 4 * ldc, w, c40, c41, va, vb, read); Put(c + 5 * ldc, w, c50, c51, va, vb, read);
    }

    public static void RunEdge(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols) =>
        EdgeViaTile<T, Vector128Kernel<T>>.Run(kc, a, b, c, ldc, alpha, beta, rows, cols);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(T* c, int w, Vector128<T> x0, Vector128<T> x1, Vector128<T> va, Vector128<T> vb, bool read)
    {
        if (read)
        {
            SimdFma.Fma(x0, va, Vector128.Load(c) * vb).Store(c);
            SimdFma.Fma(x1, va, Vector128.Load(c + w) * vb).Store(c + w);
        }
        else
        {
            (x0 * va).Store(c);
            (x1 * va).Store(c + w);
        }
    }
}

/// <summary>Portable scalar kernel (4x4) for machines without SIMD.</summary>
internal readonly unsafe struct ScalarKernel<T> : IGemmMicroKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 4;
    public static int NR => 4;

    public static void RunEdge(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols) =>
        EdgeViaTile<T, ScalarKernel<T>>.Run(kc, a, b, c, ldc, alpha, beta, rows, cols);

    public static void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta)
    {
        T* acc = stackalloc T[16];
        for (int i = 0; i < 16; i++)
            acc[i] = T.Zero;
        for (int p = 0; p < kc; p++, a += 4, b += 4)
        {
            for (int i = 0; i < 4; i++)
            {
                T ai = a[i];
                acc[i * 4] += ai * b[0];
                acc[i * 4 + 1] += ai * b[1];
                acc[i * 4 + 2] += ai * b[2];
                acc[i * 4 + 3] += ai * b[3];
            }
        }
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                T v = alpha * acc[i * 4 + j];
                c[i * ldc + j] = beta == T.Zero ? v : v + beta * c[i * ldc + j];
            }
        }
    }
}
