using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels;

/// <summary>
/// Unpacked GEMM for products too small, too short in m, or too thin (GEMV-like) for packing to pay: packing B
/// costs about as much as computing a dozen rows against it. Three forms, each at every vector width:
/// <list type="bullet">
/// <item>row blocks: up to 4 rows x 2 or 4 vectors of C held in registers over all of k, B rows read in place
/// (needs B rows contiguous along n: B not transposed);</item>
/// <item>transposed row blocks: few columns and A stored k x m, so C^T = op(B)^T A is computed with row
/// blocks along m and scattered back;</item>
/// <item>dot products along k: C[i,j] = op(A)(i,:) . op(B)(:,j), with whichever operand is strided along k
/// gathered once.</item>
/// </list>
/// </summary>
internal static unsafe class GemmDirect
{
    /// <summary>Runs the product at the vector width of the calling thread (<see cref="SimdWidth"/>).</summary>
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda,
        T* b, nint ldb, T beta, T* c, nint ldc, int threads) where T : unmanaged, INumber<T>
    {
        switch (SimdWidth.Current)
        {
            case 512: GemmDirect<T, Vector512<T>, Simd512<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case 256: GemmDirect<T, Vector256<T>, Simd256<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            case 128: GemmDirect<T, Vector128<T>, Simd128<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
            default: GemmDirect<T, T, Simd1<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads); break;
        }
    }

    /// <summary>x[0..n] *= beta; beta == 0 writes zeros without reading x (so NaN in x does not survive).</summary>
    public static void Scale<T>(T* x, int n, T beta) where T : unmanaged, INumber<T>
    {
        if (beta == T.One)
            return;
        var span = new Span<T>(x, n);
        if (beta == T.Zero)
            span.Clear();
        else
            TensorPrimitives.Multiply(span, beta, span);
    }
}

/// <summary>The forms of <see cref="GemmDirect"/> at one vector width.</summary>
internal static unsafe class GemmDirect<T, TV, S> where T : unmanaged, INumber<T> where S : ISimd<TV, T>
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
        // Fewer columns of C than one vector holds: with a long k it pays to vectorise along k (dot products) or
        // along m (transposed row blocks) instead. Decided on the whole product, not this part, so that every
        // part takes the same form and the result does not depend on the split.
        bool narrow = job.N < S.Count && job.K >= 64;
        if (job.TransA && narrow)
            TransposedRowBlockForm(job, i0, i1, j0, j1);
        else if (job.TransB || narrow)
            DotForm(job, i0, i1, j0, j1);
        else if (SimdWidth.VectorRegisters >= 32)
            RowBlockForm<Rows4>(job, i0, i1, j0, j1);
        else
            RowBlockForm<Rows2>(job, i0, i1, j0, j1);
    }

    // A stored k x m with few columns of C: compute C^T = op(B)^T * A_stored with row blocks along m (rows of
    // A_stored are contiguous), then scatter the n x m result into C.
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
                case 1: RowBlock<Rows1, Rows2>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
                case 2: RowBlock<Rows2, Rows2>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
                case 3: RowBlock<Rows3, Rows2>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
                default: RowBlock<Rows4, Rows2>(job.K, m, src, bRow, bCol, aT, job.Lda, dst, m, job.Alpha, T.Zero); break;
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

    private static void RowBlockForm<CV>(Job job, int i0, int i1, int j0, int j1) where CV : struct, IRowCount
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
                case 1: RowBlock<Rows1, CV>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
                case 2: RowBlock<Rows2, CV>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
                case 3: RowBlock<Rows3, CV>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
                default: RowBlock<Rows4, CV>(job.K, n, a, aRow, aCol, b, job.Ldb, c, job.Ldc, job.Alpha, job.Beta); break;
            }
        }
    }

    /// <summary>
    /// C[0..R, 0..n] = alpha * A[0..R, 0..k] * B[0..k, 0..n] + beta * C with A(i,p) = a[i*aRow + p*aCol] and B rows
    /// contiguous; blocks of CV vectors of columns (2 or 4, as the register file allows). R and CV are types so
    /// the JIT drops the unused rows' code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowBlock<R, CV>(int k, int n, T* a, nint aRow, nint aCol, T* b, nint ldb, T* c, nint ldc, T alpha, T beta)
        where R : struct, IRowCount where CV : struct, IRowCount
    {
        int w = S.Count, rows = R.Value, cv = CV.Value;
        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow;
        TV va = S.Splat(alpha), vb = S.Splat(beta);
        bool read = beta != T.Zero;
        int j = 0;
        for (; j + cv * w <= n; j += cv * w)
        {
            TV c00 = S.Zero, c01 = S.Zero, c02 = S.Zero, c03 = S.Zero;
            TV c10 = S.Zero, c11 = S.Zero, c12 = S.Zero, c13 = S.Zero;
            TV c20 = S.Zero, c21 = S.Zero, c22 = S.Zero, c23 = S.Zero;
            TV c30 = S.Zero, c31 = S.Zero, c32 = S.Zero, c33 = S.Zero;
            T* ap = a, bp = b + j;
            for (int p = 0; p < k; p++, ap += aCol, bp += ldb)
            {
                TV b0 = S.Load(bp), b1 = S.Load(bp + w);
                TV b2 = cv > 2 ? S.Load(bp + 2 * w) : S.Zero, b3 = cv > 2 ? S.Load(bp + 3 * w) : S.Zero;
                TV x = S.Splat(ap[0]);
                c00 = S.Fma(x, b0, c00); c01 = S.Fma(x, b1, c01);
                if (cv > 2) { c02 = S.Fma(x, b2, c02); c03 = S.Fma(x, b3, c03); }
                if (rows > 1)
                {
                    x = S.Splat(ap[r1]);
                    c10 = S.Fma(x, b0, c10); c11 = S.Fma(x, b1, c11);
                    if (cv > 2) { c12 = S.Fma(x, b2, c12); c13 = S.Fma(x, b3, c13); }
                }
                if (rows > 2)
                {
                    x = S.Splat(ap[r2]);
                    c20 = S.Fma(x, b0, c20); c21 = S.Fma(x, b1, c21);
                    if (cv > 2) { c22 = S.Fma(x, b2, c22); c23 = S.Fma(x, b3, c23); }
                }
                if (rows > 3)
                {
                    x = S.Splat(ap[r3]);
                    c30 = S.Fma(x, b0, c30); c31 = S.Fma(x, b1, c31);
                    if (cv > 2) { c32 = S.Fma(x, b2, c32); c33 = S.Fma(x, b3, c33); }
                }
            }
            T* cj = c + j;
            PutBlock<CV>(cj, w, c00, c01, c02, c03, va, vb, read);
            if (rows > 1)
                PutBlock<CV>(cj + ldc, w, c10, c11, c12, c13, va, vb, read);
            if (rows > 2)
                PutBlock<CV>(cj + 2 * ldc, w, c20, c21, c22, c23, va, vb, read);
            if (rows > 3)
                PutBlock<CV>(cj + 3 * ldc, w, c30, c31, c32, c33, va, vb, read);
        }
        // Remaining columns one vector at a time, the last one partial (never touching memory past column n).
        for (; j < n; j += w)
            OneVector<R>(k, a, aCol, r1, r2, r3, b + j, ldb, c + j, ldc, va, vb, read, Math.Min(w, n - j));
    }

    // One (partial) vector of columns for R rows; even and odd k go to separate accumulators so 8 FMA chains
    // hide the FMA latency when there is only one vector per row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OneVector<R>(int k, T* a, nint aCol, nint r1, nint r2, nint r3, T* bp, nint ldb, T* c, nint ldc,
        TV va, TV vb, bool read, int cols) where R : struct, IRowCount
    {
        int rows = R.Value;
        bool full = cols == S.Count;
        TV c0 = S.Zero, c1 = S.Zero, c2 = S.Zero, c3 = S.Zero;
        TV d0 = S.Zero, d1 = S.Zero, d2 = S.Zero, d3 = S.Zero;
        T* ap = a;
        int p = 0;
        for (; p + 2 <= k; p += 2, ap += 2 * aCol, bp += 2 * ldb)
        {
            TV b0 = full ? S.Load(bp) : S.LoadFirst(bp, cols), b1 = full ? S.Load(bp + ldb) : S.LoadFirst(bp + ldb, cols);
            T* aq = ap + aCol;
            c0 = S.Fma(S.Splat(ap[0]), b0, c0);
            d0 = S.Fma(S.Splat(aq[0]), b1, d0);
            if (rows > 1)
            {
                c1 = S.Fma(S.Splat(ap[r1]), b0, c1);
                d1 = S.Fma(S.Splat(aq[r1]), b1, d1);
            }
            if (rows > 2)
            {
                c2 = S.Fma(S.Splat(ap[r2]), b0, c2);
                d2 = S.Fma(S.Splat(aq[r2]), b1, d2);
            }
            if (rows > 3)
            {
                c3 = S.Fma(S.Splat(ap[r3]), b0, c3);
                d3 = S.Fma(S.Splat(aq[r3]), b1, d3);
            }
        }
        if (p < k)
        {
            TV b0 = full ? S.Load(bp) : S.LoadFirst(bp, cols);
            c0 = S.Fma(S.Splat(ap[0]), b0, c0);
            if (rows > 1)
                c1 = S.Fma(S.Splat(ap[r1]), b0, c1);
            if (rows > 2)
                c2 = S.Fma(S.Splat(ap[r2]), b0, c2);
            if (rows > 3)
                c3 = S.Fma(S.Splat(ap[r3]), b0, c3);
        }
        SimdStore.PutFirst<T, TV, S>(c, cols, S.Add(c0, d0), va, vb, read);
        if (rows > 1)
            SimdStore.PutFirst<T, TV, S>(c + ldc, cols, S.Add(c1, d1), va, vb, read);
        if (rows > 2)
            SimdStore.PutFirst<T, TV, S>(c + 2 * ldc, cols, S.Add(c2, d2), va, vb, read);
        if (rows > 3)
            SimdStore.PutFirst<T, TV, S>(c + 3 * ldc, cols, S.Add(c3, d3), va, vb, read);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PutBlock<CV>(T* c, int w, TV x0, TV x1, TV x2, TV x3, TV va, TV vb, bool read) where CV : struct, IRowCount
    {
        SimdStore.Put<T, TV, S>(c, x0, va, vb, read);
        SimdStore.Put<T, TV, S>(c + w, x1, va, vb, read);
        if (CV.Value > 2)
        {
            SimdStore.Put<T, TV, S>(c + 2 * w, x2, va, vb, read);
            SimdStore.Put<T, TV, S>(c + 3 * w, x3, va, vb, read);
        }
    }

    /// <summary>
    /// C[i, j] = alpha * op(A)(i,:) . op(B)(:,j) + beta * C[i, j]. op(A) rows are contiguous unless A is
    /// transposed, op(B) columns unless B is not: the strided operand is gathered once (A per block of rows, B per
    /// chunk of columns that stays in L2 while every row of A streams past it). Tiles of up to 4 rows x 3 columns
    /// share their loads: 7 vector loads feed 12 FMAs per step along k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotForm(Job job, int i0, int i1, int j0, int j1)
    {
        int k = job.K;
        GemmScratch scratch = GemmScratch.Current;
        T* aRows = job.TransA ? (T*)scratch.A((nuint)4 * (nuint)k * (nuint)sizeof(T)) : null;
        int chunk = (int)Math.Clamp(GemmBlocking.L2Bytes / 8 / ((long)k * sizeof(T)), 1, j1 - j0);
        T* gathered = job.TransB ? null : (T*)scratch.Vec((nuint)chunk * (nuint)k * (nuint)sizeof(T));
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
            for (int i = i0; i < i1; i += 4)
            {
                int rows = Math.Min(4, i1 - i);
                T* a = job.A + i * job.Lda;
                nint rowStride = job.Lda;
                if (job.TransA)
                {
                    for (int r = 0; r < rows; r++)
                        for (int p = 0; p < k; p++)
                            aRows[r * k + p] = job.A[p * job.Lda + i + r];
                    a = aRows;
                    rowStride = k;
                }
                T* c = job.C + i * job.Ldc + jb;
                for (int j = 0; j < width; j += 3)
                {
                    T* b = cols + j * colStride;
                    switch (rows * 3 + Math.Min(3, width - j))
                    {
                        case 4: DotTile<Rows1, Rows1>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 5: DotTile<Rows1, Rows2>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 6: DotTile<Rows1, Rows3>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 7: DotTile<Rows2, Rows1>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 8: DotTile<Rows2, Rows2>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 9: DotTile<Rows2, Rows3>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 10: DotTile<Rows3, Rows1>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 11: DotTile<Rows3, Rows2>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 12: DotTile<Rows3, Rows3>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 13: DotTile<Rows4, Rows1>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        case 14: DotTile<Rows4, Rows2>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                        default: DotTile<Rows4, Rows3>(a, rowStride, b, colStride, k, c + j, job.Ldc, job.Alpha, job.Beta); break;
                    }
                }
            }
        }
    }

    /// <summary>
    /// R x C dot products of length k: rows a + r*aStride, columns b + j*bStride (both contiguous along k). Each
    /// output has one accumulator, summed in k order with a partial last vector, so its bits do not depend on the
    /// tile it was computed in (nor, therefore, on how the product was split over threads).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotTile<R, C>(T* a, nint aStride, T* b, nint bStride, int k, T* c, nint ldc, T alpha, T beta)
        where R : struct, IRowCount where C : struct, IRowCount
    {
        int w = S.Count, p = 0;
        T* a0 = a, a1 = a + aStride, a2 = a + 2 * aStride, a3 = a + 3 * aStride;
        T* b0 = b, b1 = b + bStride, b2 = b + 2 * bStride;
        TV x00 = S.Zero, x01 = S.Zero, x02 = S.Zero, x10 = S.Zero, x11 = S.Zero, x12 = S.Zero;
        TV x20 = S.Zero, x21 = S.Zero, x22 = S.Zero, x30 = S.Zero, x31 = S.Zero, x32 = S.Zero;
        for (; p + w <= k; p += w)
            Step<R, C>(S.Load(a0 + p), R.Value > 1 ? S.Load(a1 + p) : S.Zero, R.Value > 2 ? S.Load(a2 + p) : S.Zero, R.Value > 3 ? S.Load(a3 + p) : S.Zero,
                S.Load(b0 + p), C.Value > 1 ? S.Load(b1 + p) : S.Zero, C.Value > 2 ? S.Load(b2 + p) : S.Zero,
                ref x00, ref x01, ref x02, ref x10, ref x11, ref x12, ref x20, ref x21, ref x22, ref x30, ref x31, ref x32);
        if (p < k)
        {
            int n = k - p;
            Step<R, C>(S.LoadFirst(a0 + p, n), R.Value > 1 ? S.LoadFirst(a1 + p, n) : S.Zero, R.Value > 2 ? S.LoadFirst(a2 + p, n) : S.Zero,
                R.Value > 3 ? S.LoadFirst(a3 + p, n) : S.Zero,
                S.LoadFirst(b0 + p, n), C.Value > 1 ? S.LoadFirst(b1 + p, n) : S.Zero, C.Value > 2 ? S.LoadFirst(b2 + p, n) : S.Zero,
                ref x00, ref x01, ref x02, ref x10, ref x11, ref x12, ref x20, ref x21, ref x22, ref x30, ref x31, ref x32);
        }
        PutRow<C>(c, x00, x01, x02, alpha, beta);
        if (R.Value > 1) PutRow<C>(c + ldc, x10, x11, x12, alpha, beta);
        if (R.Value > 2) PutRow<C>(c + 2 * ldc, x20, x21, x22, alpha, beta);
        if (R.Value > 3) PutRow<C>(c + 3 * ldc, x30, x31, x32, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<R, C>(TV a0, TV a1, TV a2, TV a3, TV b0, TV b1, TV b2,
        ref TV x00, ref TV x01, ref TV x02, ref TV x10, ref TV x11, ref TV x12,
        ref TV x20, ref TV x21, ref TV x22, ref TV x30, ref TV x31, ref TV x32)
        where R : struct, IRowCount where C : struct, IRowCount
    {
        x00 = S.Fma(a0, b0, x00);
        if (C.Value > 1) x01 = S.Fma(a0, b1, x01);
        if (C.Value > 2) x02 = S.Fma(a0, b2, x02);
        if (R.Value > 1)
        {
            x10 = S.Fma(a1, b0, x10);
            if (C.Value > 1) x11 = S.Fma(a1, b1, x11);
            if (C.Value > 2) x12 = S.Fma(a1, b2, x12);
        }
        if (R.Value > 2)
        {
            x20 = S.Fma(a2, b0, x20);
            if (C.Value > 1) x21 = S.Fma(a2, b1, x21);
            if (C.Value > 2) x22 = S.Fma(a2, b2, x22);
        }
        if (R.Value > 3)
        {
            x30 = S.Fma(a3, b0, x30);
            if (C.Value > 1) x31 = S.Fma(a3, b1, x31);
            if (C.Value > 2) x32 = S.Fma(a3, b2, x32);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PutRow<C>(T* c, TV x0, TV x1, TV x2, T alpha, T beta) where C : struct, IRowCount
    {
        Store(c, S.Sum(x0), alpha, beta);
        if (C.Value > 1) Store(c + 1, S.Sum(x1), alpha, beta);
        if (C.Value > 2) Store(c + 2, S.Sum(x2), alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, T dot, T alpha, T beta) =>
        *c = beta == T.Zero ? alpha * dot : alpha * dot + beta * *c;

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
            // Parts start on multiples of 64, a multiple of every row-block width (at most four vectors of 16
            // floats): every element then goes through the same block or tail code, with the same arithmetic,
            // however many parts there are, so results do not depend on the thread count (dot products do not
            // depend on their tile anyway). It also keeps cache lines of C to one thread.
            lo = index == 0 ? 0 : Math.Min(extent, (lo + 32) & ~63);
            hi = index == Parts - 1 ? extent : Math.Min(extent, (hi + 32) & ~63);
            if (SplitRows)
                RunRange(this, lo, hi, 0, N);
            else
                RunRange(this, 0, M, lo, hi);
        }
    }
}
