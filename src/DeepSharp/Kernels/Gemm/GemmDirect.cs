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
    /// transposed, op(B) columns unless B is not: the strided operand is gathered once (A per row, B per chunk of
    /// columns that stays in L2 while every row of A streams past it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotForm(Job job, int i0, int i1, int j0, int j1)
    {
        int k = job.K;
        GemmScratch scratch = GemmScratch.Current;
        T* aRow = job.TransA ? (T*)scratch.A((nuint)k * (nuint)sizeof(T)) : null;
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
            for (int i = i0; i < i1; i++)
            {
                T* row = job.A + i * job.Lda;
                if (job.TransA)
                {
                    for (int p = 0; p < k; p++)
                        aRow[p] = job.A[p * job.Lda + i];
                    row = aRow;
                }
                T* c = job.C + i * job.Ldc + jb;
                int j = 0;
                for (; j + 4 <= width; j += 4)
                {
                    T* q = cols + j * colStride;
                    var (d0, d1, d2, d3) = Dot4(row, q, q + colStride, q + 2 * colStride, q + 3 * colStride, k);
                    Store(c + j, d0, job.Alpha, job.Beta);
                    Store(c + j + 1, d1, job.Alpha, job.Beta);
                    Store(c + j + 2, d2, job.Alpha, job.Beta);
                    Store(c + j + 3, d3, job.Alpha, job.Beta);
                }
                for (; j < width; j++)
                    Store(c + j, Dot(row, cols + j * colStride, k), job.Alpha, job.Beta);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(T* c, T dot, T alpha, T beta) =>
        *c = beta == T.Zero ? alpha * dot : alpha * dot + beta * *c;

    /// <summary>Four dot products of x with y0..y3: x is loaded once for all four; two accumulators each hide FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (T, T, T, T) Dot4(T* x, T* y0, T* y1, T* y2, T* y3, int n)
    {
        int w = S.Count, i = 0;
        TV s0 = S.Zero, s1 = S.Zero, s2 = S.Zero, s3 = S.Zero;
        TV t0 = S.Zero, t1 = S.Zero, t2 = S.Zero, t3 = S.Zero;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            TV a = S.Load(x + i), b = S.Load(x + i + w);
            s0 = S.Fma(a, S.Load(y0 + i), s0); t0 = S.Fma(b, S.Load(y0 + i + w), t0);
            s1 = S.Fma(a, S.Load(y1 + i), s1); t1 = S.Fma(b, S.Load(y1 + i + w), t1);
            s2 = S.Fma(a, S.Load(y2 + i), s2); t2 = S.Fma(b, S.Load(y2 + i + w), t2);
            s3 = S.Fma(a, S.Load(y3 + i), s3); t3 = S.Fma(b, S.Load(y3 + i + w), t3);
        }
        // Up to two partial vectors finish the row without reading past it.
        for (; i < n; i += w)
        {
            int count = Math.Min(w, n - i);
            TV a = S.LoadFirst(x + i, count);
            s0 = S.Fma(a, S.LoadFirst(y0 + i, count), s0);
            s1 = S.Fma(a, S.LoadFirst(y1 + i, count), s1);
            s2 = S.Fma(a, S.LoadFirst(y2 + i, count), s2);
            s3 = S.Fma(a, S.LoadFirst(y3 + i, count), s3);
        }
        return (S.Sum(S.Add(s0, t0)), S.Sum(S.Add(s1, t1)), S.Sum(S.Add(s2, t2)), S.Sum(S.Add(s3, t3)));
    }

    /// <summary>
    /// Exactly one lane of <see cref="Dot4"/> (same accumulators, order and tail): a column gets the same bits
    /// whichever of the two computes it, so results do not depend on how columns were split over threads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T Dot(T* x, T* y, int n)
    {
        int w = S.Count, i = 0;
        TV s0 = S.Zero, t0 = S.Zero;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            s0 = S.Fma(S.Load(x + i), S.Load(y + i), s0);
            t0 = S.Fma(S.Load(x + i + w), S.Load(y + i + w), t0);
        }
        for (; i < n; i += w)
        {
            int count = Math.Min(w, n - i);
            s0 = S.Fma(S.LoadFirst(x + i, count), S.LoadFirst(y + i, count), s0);
        }
        return S.Sum(S.Add(s0, t0));
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
            // Parts start on multiples of 64, a multiple of every row-block width (at most four vectors of 16
            // floats) and of the four columns of Dot4: every element then goes through the same block or tail
            // code, with the same arithmetic, however many parts there are, so results do not depend on the
            // thread count. (It also keeps cache lines of C to one thread.)
            lo = index == 0 ? 0 : Math.Min(extent, (lo + 32) & ~63);
            hi = index == Parts - 1 ? extent : Math.Min(extent, (hi + 32) & ~63);
            if (SplitRows)
                RunRange(this, lo, hi, 0, N);
            else
                RunRange(this, 0, M, lo, hi);
        }
    }
}
