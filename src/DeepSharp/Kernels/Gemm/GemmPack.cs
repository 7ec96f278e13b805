using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// Packing into the micro-kernel's layouts. Transposes are absorbed here. B panels are zero-padded to NR, as the
/// kernel loads whole vectors of them; A panels are not padded to MR, as edge tiles compute only their live rows.
/// </summary>
internal static unsafe class GemmPack<T, K> where T : unmanaged, INumber<T> where K : struct, IGemmMicroKernel<T>
{
    /// <summary>
    /// Packs op(A)[0..mc, 0..kc] (origin already applied to <paramref name="a"/>) as ceil(mc/MR) micro-panels,
    /// each kc steps of MR values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, T* a, nint lda, int mc, int kc, T* dst)
    {
        int mr = K.MR;
        for (int ir = 0; ir < mc; ir += mr, dst += mr * kc)
        {
            int rows = Math.Min(mr, mc - ir);
            if (transA)
                PackRowsContiguous(a + ir, lda, rows, kc, dst);
            else
                Transpose(a + ir * lda, lda, rows, kc, dst, mr); // A row-major: element (p, i) = a[i*lda + p]
        }
    }

    /// <summary>Packs one NR-wide micro-panel: op(B)[0..kc, 0..cols] into kc steps of NR values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackBPanel(bool transB, T* b, nint ldb, int cols, int kc, T* dst)
    {
        int nr = K.NR;
        if (transB)
        {
            // op(B)[p, j] = b[j*ldb + p]: stored rows become panel columns.
            Transpose(b, ldb, cols, kc, dst, nr);
            ZeroColumns(dst, nr, cols, kc);
        }
        else if (cols == nr)
        {
            for (int p = 0; p < kc; p++, dst += nr)
                CopyPanelRow(b + p * ldb, dst);
        }
        else
        {
            for (int p = 0; p < kc; p++, dst += nr)
            {
                T* src = b + p * ldb;
                int j = 0;
                for (; j < cols; j++)
                    dst[j] = src[j];
                for (; j < nr; j++)
                    dst[j] = T.Zero;
            }
        }
    }

    // A stored k x m (transposed): micro-panel row p is a[p*lda + 0..rows], already contiguous.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowsContiguous(T* a, nint lda, int rows, int kc, T* dst)
    {
        int mr = K.MR;
        if (rows == mr)
        {
            for (int p = 0; p < kc; p++, dst += mr)
                CopyRow(a + p * lda, dst, mr);
            return;
        }
        for (int p = 0; p < kc; p++, dst += mr)
        {
            T* s = a + p * lda;
            for (int i = 0; i < rows; i++)
                dst[i] = s[i];
        }
    }

    /// <summary>dst[p*width + i] = src[i*ld + p] for i &lt; rows, p &lt; kc, by 4x4 register transposes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(T* src, nint ld, int rows, int kc, T* dst, int width)
    {
        int i = 0;
        if (typeof(T) == typeof(float) && (Sse.IsSupported || AdvSimd.Arm64.IsSupported))
        {
            for (; i + 4 <= rows; i += 4)
                Transpose4Rows((float*)(src + i * ld), ld, kc, (float*)(dst + i), width);
            // The last two rows of a six-row panel (AVX2, SSE): a third of A, scalar until then.
            for (; i + 2 <= rows; i += 2)
                Transpose2Rows((float*)(src + i * ld), ld, kc, (float*)(dst + i), width);
        }
        else if (typeof(T) == typeof(double) && Avx.IsSupported)
        {
            for (; i + 4 <= rows; i += 4)
                Transpose4Rows((double*)(src + i * ld), ld, kc, (double*)(dst + i), width);
        }
        for (; i < rows; i++)
        {
            T* s = src + i * ld;
            T* d = dst + i;
            for (int p = 0; p < kc; p++, d += width)
                d[0] = s[p];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose4Rows(float* s0, nint ld, int kc, float* d, int width)
    {
        float* s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
        int p = 0;
        if (AdvSimd.Arm64.IsSupported)
        {
            // NEON: interleave pairs of rows, then pairs of pairs (as 64-bit lanes).
            for (; p + 4 <= kc; p += 4, d += 4 * width)
            {
                Vector128<float> r0 = Vector128.Load(s0 + p), r1 = Vector128.Load(s1 + p);
                Vector128<float> r2 = Vector128.Load(s2 + p), r3 = Vector128.Load(s3 + p);
                Vector128<double> t0 = AdvSimd.Arm64.ZipLow(r0, r1).AsDouble(), t1 = AdvSimd.Arm64.ZipHigh(r0, r1).AsDouble();
                Vector128<double> t2 = AdvSimd.Arm64.ZipLow(r2, r3).AsDouble(), t3 = AdvSimd.Arm64.ZipHigh(r2, r3).AsDouble();
                AdvSimd.Arm64.ZipLow(t0, t2).AsSingle().Store(d);
                AdvSimd.Arm64.ZipHigh(t0, t2).AsSingle().Store(d + width);
                AdvSimd.Arm64.ZipLow(t1, t3).AsSingle().Store(d + 2 * width);
                AdvSimd.Arm64.ZipHigh(t1, t3).AsSingle().Store(d + 3 * width);
            }
        }
        for (; Sse.IsSupported && p + 4 <= kc; p += 4, d += 4 * width)
        {
            Vector128<float> r0 = Sse.LoadVector128(s0 + p), r1 = Sse.LoadVector128(s1 + p);
            Vector128<float> r2 = Sse.LoadVector128(s2 + p), r3 = Sse.LoadVector128(s3 + p);
            Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackHigh(r0, r1);
            Vector128<float> t2 = Sse.UnpackLow(r2, r3), t3 = Sse.UnpackHigh(r2, r3);
            Sse.Store(d, Sse.MoveLowToHigh(t0, t2));
            Sse.Store(d + width, Sse.MoveHighToLow(t2, t0));
            Sse.Store(d + 2 * width, Sse.MoveLowToHigh(t1, t3));
            Sse.Store(d + 3 * width, Sse.MoveHighToLow(t3, t1));
        }
        for (; p < kc; p++, d += width)
        {
            d[0] = s0[p];
            d[1] = s1[p];
            d[2] = s2[p];
            d[3] = s3[p];
        }
    }

    /// <summary>Two rows into pairs of columns: four k steps per interleave of two vectors, each pair stored as 64 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose2Rows(float* s0, nint ld, int kc, float* d, int width)
    {
        float* s1 = s0 + ld;
        int p = 0;
        for (; p + 4 <= kc; p += 4, d += 4 * width)
        {
            Vector128<float> r0 = Vector128.Load(s0 + p), r1 = Vector128.Load(s1 + p), lo, hi;
            if (Sse.IsSupported)
                (lo, hi) = (Sse.UnpackLow(r0, r1), Sse.UnpackHigh(r0, r1));
            else
                (lo, hi) = (AdvSimd.Arm64.ZipLow(r0, r1), AdvSimd.Arm64.ZipHigh(r0, r1));
            lo.GetLower().Store(d);
            lo.GetUpper().Store(d + width);
            hi.GetLower().Store(d + 2 * width);
            hi.GetUpper().Store(d + 3 * width);
        }
        for (; p < kc; p++, d += width)
        {
            d[0] = s0[p];
            d[1] = s1[p];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose4Rows(double* s0, nint ld, int kc, double* d, int width)
    {
        double* s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
        int p = 0;
        for (; p + 4 <= kc; p += 4, d += 4 * width)
        {
            Vector256<double> r0 = Avx.LoadVector256(s0 + p), r1 = Avx.LoadVector256(s1 + p);
            Vector256<double> r2 = Avx.LoadVector256(s2 + p), r3 = Avx.LoadVector256(s3 + p);
            Vector256<double> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
            Vector256<double> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
            Avx.Store(d, Avx.Permute2x128(t0, t2, 0x20));
            Avx.Store(d + width, Avx.Permute2x128(t1, t3, 0x20));
            Avx.Store(d + 2 * width, Avx.Permute2x128(t0, t2, 0x31));
            Avx.Store(d + 3 * width, Avx.Permute2x128(t1, t3, 0x31));
        }
        for (; p < kc; p++, d += width)
        {
            d[0] = s0[p];
            d[1] = s1[p];
            d[2] = s2[p];
            d[3] = s3[p];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(T* src, T* dst, int count)
    {
        int o = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; o + Vector256<T>.Count <= count; o += Vector256<T>.Count)
                Vector256.Store(Vector256.Load(src + o), dst + o);
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; o + Vector128<T>.Count <= count; o += Vector128<T>.Count)
                Vector128.Store(Vector128.Load(src + o), dst + o);
        }
        for (; o < count; o++)
            dst[o] = src[o];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ZeroColumns(T* dst, int width, int from, int kc)
    {
        if (from == width)
            return;
        for (int p = 0; p < kc; p++, dst += width)
            for (int j = from; j < width; j++)
                dst[j] = T.Zero;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyPanelRow(T* src, T* dst)
    {
        int bytes = K.NR * sizeof(T);
        if (Vector512.IsHardwareAccelerated && bytes % 64 == 0)
        {
            for (int o = 0; o < K.NR; o += Vector512<T>.Count)
                Vector512.Store(Vector512.Load(src + o), dst + o);
        }
        else if (Vector256.IsHardwareAccelerated && bytes % 32 == 0)
        {
            for (int o = 0; o < K.NR; o += Vector256<T>.Count)
                Vector256.Store(Vector256.Load(src + o), dst + o);
        }
        else
        {
            for (int o = 0; o < K.NR; o++)
                dst[o] = src[o];
        }
    }
}
