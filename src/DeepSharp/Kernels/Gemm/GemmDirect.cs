using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Unpacked GEMM for products too small, too short in m, or too thin (GEMV-like) for packing to pay: packing B
/// costs about as much as computing a dozen rows against it. Vectorised forms:
/// row blocks (up to 4 rows x 64 columns of C held in registers over all of k, B rows read in place),
/// dot products along k (C[i,j] = A(i,:) . B(:,j), a strided operand gathered once) and, without AVX-512,
/// row axpy (C[i,:] += A(i,p) * B[p,:]).
/// </summary>
internal static unsafe class GemmDirect<T> where T : unmanaged, INumber<T>
{
    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda,
        T* b, nint ldb, T beta, T* c, nint ldc, int threads)
    {
        Job job = t_job ?? new Job();
        t_job = null; // a nested call on this thread gets its own job
        job.TransA = transA; job.TransB = transB; job.M = m; job.N = n; job.K = k;
        job.Alpha = alpha; job.Beta = beta;
        job.A = a; job.Lda = lda; job.B = b; job.Ldb = ldb; job.C = c; job.Ldc = ldc;
        // Split along the longer of m and n so each part streams a disjoint part of C.
        job.SplitRows = m >= n;
        job.Parts = Math.Max(1, Math.Min(threads, job.SplitRows ? m : n));
        try
        {
            if (job.Parts == 1)
                RunRange(job, 0, m, 0, n);
            else
                WorkerPool.For(job.Parts, job, Gemm.WakeWorkersFor((long)m * n * k));
        }
        finally
        {
            job.A = job.B = job.C = null;
            t_job = job;
        }
    }

    [ThreadStatic] private static Job? t_job;

    private static void RunRange(Job job, int i0, int i1, int j0, int j1)
    {
        if (i0 >= i1 || j0 >= j1)
            return;
        // Fewer than 16 columns of C fill at most one (masked) vector per row; with a long k it pays to
        // vectorise along k (dot products) or along m (transposed row blocks) instead.
        // Decided on the whole product, not this part, so that every part takes the same form.
        bool narrow = job.N < 16 && job.K >= 64;
        if (job.TransA && narrow && Vector512.IsHardwareAccelerated)
            TransposedRowBlockForm(job, i0, i1, j0, j1);
        else if (job.TransB || (!job.TransA && narrow) || (job.N < 16 && !Vector512.IsHardwareAccelerated))
            DotForm(job, i0, i1, j0, j1);
        else if (Vector512.IsHardwareAccelerated)
            RowBlockForm(job, i0, i1, j0, j1);
        else
            AxpyForm(job, i0, i1, j0, j1);
    }

    // Few columns and A stored k x m: compute C^T = op(B)^T * A_stored with row blocks along m (rows of A_stored
    // are contiguous), then scatter the n x m result into C.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposedRowBlockForm(Job job, int i0, int i1, int j0, int j1)
    {
        int m = i1 - i0, n = j1 - j0;
        T* t = (T*)GemmScratch.Current.Vec((nuint)m * (nuint)n * (nuint)sizeof(T));
        // op(B)^T row j: element p is op(B)[p, j].
        nint bRow = job.TransB ? job.Ldb : 1, bCol = job.TransB ? 1 : job.Ldb;
        T* bT = job.B + j0 * bRow;
        T* aT = job.A + i0;
        for (int j = 0; j < n; j += 4)
        {
            T* src = bT + j * bRow, dst = t + j * m;
            switch (Math.Min(4, n - j))
            {
                case 1: RowBlock<Rows1>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
                case 2: RowBlock<Rows2>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
                case 3: RowBlock<Rows3>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
                default: RowBlock<Rows4>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
            }
        }
        T beta = job.Beta;
        for (int i = 0; i < m; i++)
        {
            T* c = job.C + (i0 + i) * job.Ldc + j0;
            for (int j = 0; j < n; j++)
                c[j] = beta == T.Zero ? t[j * m + i] : t[j * m + i] + beta * c[j];
        }
    }

    private static void RowBlockForm(Job job, int i0, int i1, int j0, int j1)
    {
        nint aRow = job.TransA ? 1 : job.Lda, aCol = job.TransA ? job.Lda : 1;
        for (int i = i0; i < i1; i += 4)
        {
            T* a = job.A + i * aRow;
            T* b = job.B + j0;
            T* c = job.C + i * job.Ldc + j0;
            int n = j1 - j0;
            switch (Math.Min(4, i1 - i))
            {
                case 1: RowBlock<Rows1>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
                case 2: RowBlock<Rows2>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
                case 3: RowBlock<Rows3>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
                default: RowBlock<Rows4>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
            }
        }
    }

    /// <summary>
    /// C[0..R, 0..n] = alpha * A[0..R, 0..k] * B[0..k, 0..n] + beta * C with A(i,p) = a[i*aRow + p*aCol] and B rows
    /// contiguous. R is a type so the JIT drops the unused rows' code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<R>(int k, int n, T* a, nint aRow, nint aCol, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
        where R : struct, IRowCount
    {
        int w = Vector512<T>.Count, rows = R.Value;
        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow;
        Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool read = beta != T.Zero;
        int j = 0;
        for (; j + 4 * w <= n; j += 4 * w)
        {
            Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default;
            Vector512<T> c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<T> c20 = default, c21 = default, c22 = default, c23 = default;
            Vector512<T> c30 = default, c31 = default, c32 = default, c33 = default;
            T* ap = a, bp = b + j;
            for (int p = 0; p < k; p++, ap += aCol, bp += ldb)
            {
                Vector512<T> b0 = Vector512.Load(bp), b1 = Vector512.Load(bp + w);
                Vector512<T> b2 = Vector512.Load(bp + 2 * w), b3 = Vector512.Load(bp + 3 * w);
                Vector512<T> x = Vector512.Create(ap[0]);
                c00 = SimdFma.Fma(x, b0, c00); c01 = SimdFma.Fma(x, b1, c01); c02 = SimdFma.Fma(x, b2, c02); c03 = SimdFma.Fma(x, b3, c03);
                if (rows > 1)
                {
                    x = Vector512.Create(ap[r1]);
                    c10 = SimdFma.Fma(x, b0, c10); c11 = SimdFma.Fma(x, b1, c11); c12 = SimdFma.Fma(x, b2, c12); c13 = SimdFma.Fma(x, b3, c13);
                }
                if (rows > 2)
                {
                    x = Vector512.Create(ap[r2]);
                    c20 = SimdFma.Fma(x, b0, c20); c21 = SimdFma.Fma(x, b1, c21); c22 = SimdFma.Fma(x, b2, c22); c23 = SimdFma.Fma(x, b3, c23);
                }
                if (rows > 3)
                {
                    x = Vector512.Create(ap[r3]);
                    c30 = SimdFma.Fma(x, b0, c30); c31 = SimdFma.Fma(x, b1, c31); c32 = SimdFma.Fma(x, b2, c32); c33 = SimdFma.Fma(x, b3, c33);
                }
            }
            T* cj = c + j;
            Put4(cj, w, c00, c01, c02, c03, va, vb, read);
            if (rows > 1)
                Put4(cj + ldc, w, c10, c11, c12, c13, va, vb, read);
            if (rows > 2)
                Put4(cj + 2 * ldc, w, c20, c21, c22, c23, va, vb, read);
            if (rows > 3)
                Put4(cj + 3 * ldc, w, c30, c31, c32, c33, va, vb, read);
        }
        // Remaining columns one vector at a time, the last one masked (never touching memory past column n).
        for (; j < n; j += w)
            OneVector<R>(k, a, aCol, r1, r2, r3, b + j, ldb, c + j, ldc, va, vb, read, SimdFma.FirstLanes<T>(n - j));
    }

    // One (masked) vector of columns for R rows; even and odd k go to separate accumulators so 8 FMA chains
    // hide the FMA latency when there is only one vector per row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OneVector<R>(int k, T* a, nint aCol, nint r1, nint r2, nint r3, T* bp, nint ldb, T* c, nint ldc,
        Vector512<T> va, Vector512<T> vb, bool read, Vector512<T> mask) where R : struct, IRowCount
    {
        int rows = R.Value;
        Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<T> d0 = default, d1 = default, d2 = default, d3 = default;
        T* ap = a;
        int p = 0;
        for (; p + 2 <= k; p += 2, ap += 2 * aCol, bp += 2 * ldb)
        {
            Vector512<T> b0 = SimdFma.LoadMasked(bp, mask), b1 = SimdFma.LoadMasked(bp + ldb, mask);
            T* aq = ap + aCol;
            c0 = SimdFma.Fma(Vector512.Create(ap[0]), b0, c0);
            d0 = SimdFma.Fma(Vector512.Create(aq[0]), b1, d0);
            if (rows > 1)
            {
                c1 = SimdFma.Fma(Vector512.Create(ap[r1]), b0, c1);
                d1 = SimdFma.Fma(Vector512.Create(aq[r1]), b1, d1);
            }
            if (rows > 2)
            {
                c2 = SimdFma.Fma(Vector512.Create(ap[r2]), b0, c2);
                d2 = SimdFma.Fma(Vector512.Create(aq[r2]), b1, d2);
            }
            if (rows > 3)
            {
                c3 = SimdFma.Fma(Vector512.Create(ap[r3]), b0, c3);
                d3 = SimdFma.Fma(Vector512.Create(aq[r3]), b1, d3);
            }
        }
        if (p < k)
        {
            Vector512<T> b0 = SimdFma.LoadMasked(bp, mask);
            c0 = SimdFma.Fma(Vector512.Create(ap[0]), b0, c0);
            if (rows > 1)
                c1 = SimdFma.Fma(Vector512.Create(ap[r1]), b0, c1);
            if (rows > 2)
                c2 = SimdFma.Fma(Vector512.Create(ap[r2]), b0, c2);
            if (rows > 3)
                c3 = SimdFma.Fma(Vector512.Create(ap[r3]), b0, c3);
        }
        SimdFma.PutMasked(c, mask, c0 + d0, va, vb, read);
        if (rows > 1)
            SimdFma.PutMasked(c + ldc, mask, c1 + d1, va, vb, read);
        if (rows > 2)
            SimdFma.PutMasked(c + 2 * ldc, mask, c2 + d2, va, vb, read);
        if (rows > 3)
            SimdFma.PutMasked(c + 3 * ldc, mask, c3 + d3, va, vb, read);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put4(T* c, int w, Vector512<T> x0, Vector512<T> x1, Vector512<T> x2, Vector512<T> x3,
        Vector512<T> va, Vector512<T> vb, bool read)
    {
        Put1(c, x0, va, vb, read);
        Put1(c + w, x1, va, vb, read);
        Put1(c + 2 * w, x2, va, vb, read);
        Put1(c + 3 * w, x3, va, vb, read);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put1(T* c, Vector512<T> x, Vector512<T> va, Vector512<T> vb, bool read)
    {
        if (read)
            SimdFma.Fma(x, va, Vector512.Load(c) * vb).Store(c);
        else
            (x * va).Store(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyForm(Job job, int i0, int i1, int j0, int j1)
    {
        int n = j1 - j0;
        for (int i = i0; i < i1; i++)
        {
            T* cr = job.C + i * job.Ldc + j0;
            Scale(cr, n, job.Beta);
            for (int p = 0; p < job.K; p++)
            {
                T aip = job.TransA ? job.A[p * job.Lda + i] : job.A[i * job.Lda + p];
                Axpy(cr, job.B + p * job.Ldb + j0, n, job.Alpha * aip);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotForm(Job job, int i0, int i1, int j0, int j1)
    {
        int k = job.K;
        if (job.TransA)
        {
            // Here transB holds: B rows are contiguous along k; gather each A column once.
            T* tmp = (T*)GemmScratch.Current.Vec((nuint)k * (nuint)sizeof(T));
            for (int i = i0; i < i1; i++)
            {
                for (int p = 0; p < k; p++)
                    tmp[p] = job.A[p * job.Lda + i];
                for (int j = j0; j < j1; j++)
                    Store(job.C + i * job.Ldc + j, Dot(tmp, job.B + j * job.Ldb, k), job.Alpha, job.Beta);
            }
            return;
        }
        // Columns of op(B) in chunks that stay in L2 while every row of A streams past them once.
        int chunk = (int)Math.Clamp(128 * 1024 / ((long)k * sizeof(T)), 1, j1 - j0);
        T* gathered = job.TransB ? null : (T*)GemmScratch.Current.Vec((nuint)chunk * (nuint)k * (nuint)sizeof(T));
        for (int jb = j0; jb < j1; jb += chunk)
        {
            int width = Math.Min(chunk, j1 - jb);
            T* cols = job.TransB ? job.B + jb * job.Ldb : gathered;
            nint colStride = job.TransB ? job.Ldb : k;
            if (!job.TransB)
            {
                for (int p = 0; p < k; p++)
                {
                    T* src = job.B + p * job.Ldb + jb;
                    for (int j = 0; j < width; j++)
                        gathered[j * k + p] = src[j];
                }
            }
            for (int i = i0; i < i1; i++)
            {
                T* row = job.A + i * job.Lda;
                T* c = job.C + i * job.Ldc + jb;
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; j + 4 <= width; j += 4)
                    {
                        T* q = cols + j * colStride;
                        var (d0, d1, d2, d3) = Dot4(row, q, q + colStride, q + 2 * colStride, q + 3 * colStride, k);
                        Store(c + j, d0, job.Alpha, job.Beta);
                        Store(c + j + 1, d1, job.Alpha, job.Beta);
                        Store(c + j + 2, d2, job.Alpha, job.Beta);
                        Store(c + j + 3, d3, job.Alpha, job.Beta);
                    }
                }
                for (; j < width; j++)
                    Store(c + j, Dot(row, cols + j * colStride, k), job.Alpha, job.Beta);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, T dot, T alpha, T beta) =>
        *c = beta == T.Zero ? alpha * dot : alpha * dot + beta * *c;

    /// <summary>x[0..n] *= beta; beta == 0 writes zeros without reading x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Scale(T* x, int n, T beta)
    {
        if (beta == T.One)
            return;
        if (beta == T.Zero)
        {
            new Span<T>(x, n).Clear();
            return;
        }
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb = Vector512.Create(beta);
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count)
                (Vector512.Load(x + i) * vb).Store(x + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vb = Vector256.Create(beta);
            for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count)
                (Vector256.Load(x + i) * vb).Store(x + i);
        }
        for (; i < n; i++)
            x[i] *= beta;
    }

    /// <summary>y[0..n] += s * x[0..n].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(T* y, T* x, int n, T s)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            int w = Vector512<T>.Count;
            for (; i + 4 * w <= n; i += 4 * w)
            {
                SimdFma.Fma(Vector512.Load(x + i), vs, Vector512.Load(y + i)).Store(y + i);
                SimdFma.Fma(Vector512.Load(x + i + w), vs, Vector512.Load(y + i + w)).Store(y + i + w);
                SimdFma.Fma(Vector512.Load(x + i + 2 * w), vs, Vector512.Load(y + i + 2 * w)).Store(y + i + 2 * w);
                SimdFma.Fma(Vector512.Load(x + i + 3 * w), vs, Vector512.Load(y + i + 3 * w)).Store(y + i + 3 * w);
            }
            for (; i + w <= n; i += w)
                SimdFma.Fma(Vector512.Load(x + i), vs, Vector512.Load(y + i)).Store(y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            int w = Vector256<T>.Count;
            for (; i + w <= n; i += w)
                SimdFma.Fma(Vector256.Load(x + i), vs, Vector256.Load(y + i)).Store(y + i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var vs = Vector128.Create(s);
            int w = Vector128<T>.Count;
            for (; i + w <= n; i += w)
                SimdFma.Fma(Vector128.Load(x + i), vs, Vector128.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++)
            y[i] += s * x[i];
    }

    /// <summary>Four dot products of x with y0..y3: x is loaded once for all four; two accumulators each hide FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (T, T, T, T) Dot4(T* x, T* y0, T* y1, T* y2, T* y3, int n)
    {
        int w = Vector512<T>.Count, i = 0;
        Vector512<T> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector512<T> t0 = default, t1 = default, t2 = default, t3 = default;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            Vector512<T> a = Vector512.Load(x + i), b = Vector512.Load(x + i + w);
            s0 = SimdFma.Fma(a, Vector512.Load(y0 + i), s0); t0 = SimdFma.Fma(b, Vector512.Load(y0 + i + w), t0);
            s1 = SimdFma.Fma(a, Vector512.Load(y1 + i), s1); t1 = SimdFma.Fma(b, Vector512.Load(y1 + i + w), t1);
            s2 = SimdFma.Fma(a, Vector512.Load(y2 + i), s2); t2 = SimdFma.Fma(b, Vector512.Load(y2 + i + w), t2);
            s3 = SimdFma.Fma(a, Vector512.Load(y3 + i), s3); t3 = SimdFma.Fma(b, Vector512.Load(y3 + i + w), t3);
        }
        if (i < n)
        {
            // Up to two masked vectors finish the row without reading past it.
            for (; i < n; i += w)
            {
                Vector512<T> mask = SimdFma.FirstLanes<T>(n - i);
                Vector512<T> a = SimdFma.LoadMasked(x + i, mask);
                s0 = SimdFma.Fma(a, SimdFma.LoadMasked(y0 + i, mask), s0);
                s1 = SimdFma.Fma(a, SimdFma.LoadMasked(y1 + i, mask), s1);
                s2 = SimdFma.Fma(a, SimdFma.LoadMasked(y2 + i, mask), s2);
                s3 = SimdFma.Fma(a, SimdFma.LoadMasked(y3 + i, mask), s3);
            }
        }
        return (Vector512.Sum(s0 + t0), Vector512.Sum(s1 + t1), Vector512.Sum(s2 + t2), Vector512.Sum(s3 + t3));
    }

    /// <summary>Sum of x[i] * y[i] with four independent accumulators to hide FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T Dot(T* x, T* y, int n)
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector512.IsHardwareAccelerated)
        {
            // Exactly one lane of Dot4 (same accumulators, order and masked tail): a column gets the same bits
            // whichever of the two computes it, so results do not depend on how columns were split over threads.
            int w = Vector512<T>.Count;
            Vector512<T> s0 = default, t0 = default;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                s0 = SimdFma.Fma(Vector512.Load(x + i), Vector512.Load(y + i), s0);
                t0 = SimdFma.Fma(Vector512.Load(x + i + w), Vector512.Load(y + i + w), t0);
            }
            for (; i < n; i += w)
            {
                Vector512<T> mask = SimdFma.FirstLanes<T>(n - i);
                s0 = SimdFma.Fma(SimdFma.LoadMasked(x + i, mask), SimdFma.LoadMasked(y + i, mask), s0);
            }
            return Vector512.Sum(s0 + t0);
        }
        else if (Vector256.IsHardwareAccelerated && n >= Vector256<T>.Count)
        {
            int w = Vector256<T>.Count;
            Vector256<T> s0 = default, s1 = default;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                s0 = SimdFma.Fma(Vector256.Load(x + i), Vector256.Load(y + i), s0);
                s1 = SimdFma.Fma(Vector256.Load(x + i + w), Vector256.Load(y + i + w), s1);
            }
            for (; i + w <= n; i += w)
                s0 = SimdFma.Fma(Vector256.Load(x + i), Vector256.Load(y + i), s0);
            sum = Vector256.Sum(s0 + s1);
        }
        else if (Vector128.IsHardwareAccelerated && n >= Vector128<T>.Count)
        {
            int w = Vector128<T>.Count;
            Vector128<T> s0 = default, s1 = default;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                s0 = SimdFma.Fma(Vector128.Load(x + i), Vector128.Load(y + i), s0);
                s1 = SimdFma.Fma(Vector128.Load(x + i + w), Vector128.Load(y + i + w), s1);
            }
            for (; i + w <= n; i += w)
                s0 = SimdFma.Fma(Vector128.Load(x + i), Vector128.Load(y + i), s0);
            sum = Vector128.Sum(s0 + s1);
        }
        for (; i < n; i++)
            sum += x[i] * y[i];
        return sum;
    }

    private sealed class Job : IParallelTask
    {
        public bool TransA, TransB, SplitRows;
        public int M, N, K, Parts;
        public T Alpha, Beta;
        public T* A, B, C;
        public nint Lda, Ldb, Ldc;

        public void Run(int index)
        {
            int extent = SplitRows ? M : N;
            int lo = (int)((long)extent * index / Parts), hi = (int)((long)extent * (index + 1) / Parts);
            // Parts start on multiples of 64, the width of a row block (four vectors of float, eight of double):
            // every element then goes through the same block or tail code, with the same arithmetic, however
            // many parts there are, so results do not depend on the thread count. (It also keeps cache lines
            // of C to one thread.)
            lo = index == 0 ? 0 : Math.Min(extent, (lo + 32) & ~63);
            hi = index == Parts - 1 ? extent : Math.Min(extent, (hi + 32) & ~63);
            if (SplitRows)
                RunRange(this, lo, hi, 0, N);
            else
                RunRange(this, 0, M, lo, hi);
        }
    }
}
