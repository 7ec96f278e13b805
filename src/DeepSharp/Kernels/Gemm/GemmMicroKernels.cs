using System.Numerics;
using System.Runtime.CompilerServices;
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

/// <summary>A compile-time count: generic code specialised per count drops the unused rows (or positions, see <see cref="BlockedConv"/>).</summary>
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
internal struct Rows13 : IRowCount { public static int Value => 13; }
internal struct Rows14 : IRowCount { public static int Value => 14; }
internal struct Rows15 : IRowCount { public static int Value => 15; }
internal struct Rows16 : IRowCount { public static int Value => 16; }
internal struct Rows17 : IRowCount { public static int Value => 17; }
internal struct Rows18 : IRowCount { public static int Value => 18; }
internal struct Rows19 : IRowCount { public static int Value => 19; }
internal struct Rows20 : IRowCount { public static int Value => 20; }
internal struct Rows21 : IRowCount { public static int Value => 21; }
internal struct Rows22 : IRowCount { public static int Value => 22; }
internal struct Rows23 : IRowCount { public static int Value => 23; }
internal struct Rows24 : IRowCount { public static int Value => 24; }
internal struct Rows25 : IRowCount { public static int Value => 25; }
internal struct Rows26 : IRowCount { public static int Value => 26; }
internal struct Rows27 : IRowCount { public static int Value => 27; }
internal struct Rows28 : IRowCount { public static int Value => 28; }
internal struct Rows32 : IRowCount { public static int Value => 32; }

/// <summary>
/// The packed micro-kernel at any width: <typeparamref name="RM"/> rows x 2 vectors of C in registers, each
/// k step issuing 2·MR FMAs against two B loads and MR broadcasts. MR is chosen from the register file: 12
/// rows (24 accumulators) where there are 32 vector registers (AVX-512, ARM64), 6 (12 accumulators) where
/// there are 16 (AVX2, SSE). Edge tiles compute only their live rows and store partial columns with
/// <see cref="ISimd{TV, T}.StoreFirst"/>, so they cost about their share of the work.
/// </summary>
internal readonly unsafe struct PackedKernel<T, TV, S, RM> : IGemmMicroKernel<T>
    where T : unmanaged, INumber<T> where S : ISimd<TV, T> where RM : struct, IRowCount
{
    public static int MR => RM.Value;
    public static int NR => 2 * S.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta)
    {
        // Fetch the C tile now so its (often cache-missing, strided) rows arrive while the k loop runs.
        if (Sse.IsSupported)
        {
            for (int i = 0; i < RM.Value; i++)
            {
                Sse.Prefetch0(c + i * ldc);
                Sse.Prefetch0(c + i * ldc + NR - 1);
            }
        }
        Tile<RM>(kc, a, b, c, ldc, alpha, beta, NR);
    }

    public static void RunEdge(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int rows, int cols)
    {
        switch (rows)
        {
            case 1: Tile<Rows1>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 2: Tile<Rows2>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 3: Tile<Rows3>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 4: Tile<Rows4>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 5: Tile<Rows5>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 6: Tile<Rows6>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 7: Tile<Rows7>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 8: Tile<Rows8>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 9: Tile<Rows9>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 10: Tile<Rows10>(kc, a, b, c, ldc, alpha, beta, cols); break;
            case 11: Tile<Rows11>(kc, a, b, c, ldc, alpha, beta, cols); break;
            default: Tile<Rows12>(kc, a, b, c, ldc, alpha, beta, cols); break;
        }
    }

    /// <summary>
    /// Rows [0, R) x columns [0, cols) of the tile. The A panel advances by MR per k step whatever R is; when
    /// cols fits one vector only one vector column is computed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<R>(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta, int cols) where R : struct, IRowCount
    {
        int w = S.Count, mr = RM.Value;
        TV x00 = S.Zero, x01 = S.Zero, x10 = S.Zero, x11 = S.Zero, x20 = S.Zero, x21 = S.Zero, x30 = S.Zero, x31 = S.Zero;
        TV x40 = S.Zero, x41 = S.Zero, x50 = S.Zero, x51 = S.Zero, x60 = S.Zero, x61 = S.Zero, x70 = S.Zero, x71 = S.Zero;
        TV x80 = S.Zero, x81 = S.Zero, x90 = S.Zero, x91 = S.Zero, xa0 = S.Zero, xa1 = S.Zero, xb0 = S.Zero, xb1 = S.Zero;
        if (cols > w)
        {
            for (int p = 0; p < kc; p++, a += mr, b += 2 * w)
            {
                TV b0 = S.Load(b), b1 = S.Load(b + w), ai;
                if (R.Value > 0) { ai = S.Splat(a[0]); x00 = S.Fma(ai, b0, x00); x01 = S.Fma(ai, b1, x01); }
                if (R.Value > 1) { ai = S.Splat(a[1]); x10 = S.Fma(ai, b0, x10); x11 = S.Fma(ai, b1, x11); }
                if (R.Value > 2) { ai = S.Splat(a[2]); x20 = S.Fma(ai, b0, x20); x21 = S.Fma(ai, b1, x21); }
                if (R.Value > 3) { ai = S.Splat(a[3]); x30 = S.Fma(ai, b0, x30); x31 = S.Fma(ai, b1, x31); }
                if (R.Value > 4) { ai = S.Splat(a[4]); x40 = S.Fma(ai, b0, x40); x41 = S.Fma(ai, b1, x41); }
                if (R.Value > 5) { ai = S.Splat(a[5]); x50 = S.Fma(ai, b0, x50); x51 = S.Fma(ai, b1, x51); }
                if (R.Value > 6) { ai = S.Splat(a[6]); x60 = S.Fma(ai, b0, x60); x61 = S.Fma(ai, b1, x61); }
                if (R.Value > 7) { ai = S.Splat(a[7]); x70 = S.Fma(ai, b0, x70); x71 = S.Fma(ai, b1, x71); }
                if (R.Value > 8) { ai = S.Splat(a[8]); x80 = S.Fma(ai, b0, x80); x81 = S.Fma(ai, b1, x81); }
                if (R.Value > 9) { ai = S.Splat(a[9]); x90 = S.Fma(ai, b0, x90); x91 = S.Fma(ai, b1, x91); }
                if (R.Value > 10) { ai = S.Splat(a[10]); xa0 = S.Fma(ai, b0, xa0); xa1 = S.Fma(ai, b1, xa1); }
                if (R.Value > 11) { ai = S.Splat(a[11]); xb0 = S.Fma(ai, b0, xb0); xb1 = S.Fma(ai, b1, xb1); }
            }
        }
        else
        {
            for (int p = 0; p < kc; p++, a += mr, b += 2 * w)
            {
                TV b0 = S.Load(b);
                if (R.Value > 0) x00 = S.Fma(S.Splat(a[0]), b0, x00);
                if (R.Value > 1) x10 = S.Fma(S.Splat(a[1]), b0, x10);
                if (R.Value > 2) x20 = S.Fma(S.Splat(a[2]), b0, x20);
                if (R.Value > 3) x30 = S.Fma(S.Splat(a[3]), b0, x30);
                if (R.Value > 4) x40 = S.Fma(S.Splat(a[4]), b0, x40);
                if (R.Value > 5) x50 = S.Fma(S.Splat(a[5]), b0, x50);
                if (R.Value > 6) x60 = S.Fma(S.Splat(a[6]), b0, x60);
                if (R.Value > 7) x70 = S.Fma(S.Splat(a[7]), b0, x70);
                if (R.Value > 8) x80 = S.Fma(S.Splat(a[8]), b0, x80);
                if (R.Value > 9) x90 = S.Fma(S.Splat(a[9]), b0, x90);
                if (R.Value > 10) xa0 = S.Fma(S.Splat(a[10]), b0, xa0);
                if (R.Value > 11) xb0 = S.Fma(S.Splat(a[11]), b0, xb0);
            }
        }
        TV va = S.Splat(alpha), vb = S.Splat(beta);
        bool read = beta != T.Zero;
        if (R.Value > 0) Put(c, cols, x00, x01, va, vb, read);
        if (R.Value > 1) Put(c + ldc, cols, x10, x11, va, vb, read);
        if (R.Value > 2) Put(c + 2 * ldc, cols, x20, x21, va, vb, read);
        if (R.Value > 3) Put(c + 3 * ldc, cols, x30, x31, va, vb, read);
        if (R.Value > 4) Put(c + 4 * ldc, cols, x40, x41, va, vb, read);
        if (R.Value > 5) Put(c + 5 * ldc, cols, x50, x51, va, vb, read);
        if (R.Value > 6) Put(c + 6 * ldc, cols, x60, x61, va, vb, read);
        if (R.Value > 7) Put(c + 7 * ldc, cols, x70, x71, va, vb, read);
        if (R.Value > 8) Put(c + 8 * ldc, cols, x80, x81, va, vb, read);
        if (R.Value > 9) Put(c + 9 * ldc, cols, x90, x91, va, vb, read);
        if (R.Value > 10) Put(c + 10 * ldc, cols, xa0, xa1, va, vb, read);
        if (R.Value > 11) Put(c + 11 * ldc, cols, xb0, xb1, va, vb, read);
    }

    /// <summary>c[0..cols] = alpha * (x0, x1) + beta * c; beta == 0 reads nothing, nothing past cols is touched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(T* c, int cols, TV x0, TV x1, TV va, TV vb, bool read)
    {
        int w = S.Count;
        if (cols == 2 * w)
        {
            SimdStore.Put<T, TV, S>(c, x0, va, vb, read);
            SimdStore.Put<T, TV, S>(c + w, x1, va, vb, read);
        }
        else if (cols > w)
        {
            SimdStore.Put<T, TV, S>(c, x0, va, vb, read);
            SimdStore.PutFirst<T, TV, S>(c + w, cols - w, x1, va, vb, read);
        }
        else
        {
            SimdStore.PutFirst<T, TV, S>(c, cols, x0, va, vb, read);
        }
    }
}

/// <summary>The epilogue every GEMM form shares: c = alpha * x + beta * c, where beta == 0 never reads c.</summary>
internal static unsafe class SimdStore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Put<T, TV, S>(T* c, TV x, TV va, TV vb, bool read) where T : unmanaged where S : ISimd<TV, T>
    {
        if (read)
            S.Store(S.Fma(x, va, S.Mul(S.Load(c), vb)), c);
        else
            S.Store(S.Mul(x, va), c);
    }

    /// <summary>As <see cref="Put{T, TV, S}"/> for lanes [0, count) only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PutFirst<T, TV, S>(T* c, int count, TV x, TV va, TV vb, bool read) where T : unmanaged where S : ISimd<TV, T>
    {
        // The same formula as Put, so an element gets the same bits in a full or a partial vector.
        TV r = read ? S.Fma(x, va, S.Mul(S.LoadFirst(c, count), vb)) : S.Mul(x, va);
        S.StoreFirst(r, c, count);
    }
}
