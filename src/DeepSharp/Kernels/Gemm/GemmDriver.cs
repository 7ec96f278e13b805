using System.Numerics;
using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

/// <summary>
/// GotoBLAS/BLIS-style blocked GEMM over a micro-kernel K. With several threads, C is split into one
/// rectangle per thread and each thread runs the whole loop nest on its rectangle with its own packed
/// buffers:
/// <code>
/// for jc in cols by NC:          pack B panel (KC x NC) into this thread's buffer (L3)
///   for pc in k by KC:
///     for ic in rows by MC:      pack A block (MC x KC, stays in L2)
///       for jr in NC by NR:      B micro-panel (KC x NR) streams from L1/L2
///         for ir in MC by MR:    micro-kernel
/// </code>
/// Nothing written by one thread is read by another, so the threads never wait on each other's caches
/// (core-to-core transfers cost ~200 ns here); the price is that each thread packs the part of B (or A) it
/// shares with the other rectangles, which the split minimises.
/// </summary>
internal static unsafe class GemmDriver<T, K> where T : unmanaged, INumber<T> where K : struct, IGemmMicroKernel<T>
{
    // Blocking in elements, from this CPU's cache sizes (GemmBlocking).
    private static readonly (int Kc, int Mc, int Nc) s_blocking = GemmBlocking.For(K.MR, K.NR, sizeof(T));

    [ThreadStatic] private static Job? t_job;

    /// <summary>
    /// C = alpha op(A) op(B) + beta C; with <paramref name="packedB"/> (from <see cref="PackB"/>, for this n and k) the
    /// B panels are read from it instead of being packed from <paramref name="b"/>.
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, nint lda,
        T* b, nint ldb, T beta, T* c, nint ldc, int threads, T* packedB = null)
    {
        Job job = t_job ?? new Job();
        t_job = null; // a nested call on this thread gets its own job
        try
        {
            job.TransA = transA; job.TransB = transB; job.M = m; job.N = n; job.K = k;
            job.A = a; job.Lda = lda; job.B = b; job.Ldb = ldb; job.C = c; job.Ldc = ldc;
            job.Alpha = alpha; job.Beta = beta;
            job.PackedB = packedB;
            (job.Kc, job.Mc, job.Nc) = s_blocking;
            ChooseSplit(job, threads);
            int items = job.RowGroups * job.ColGroups;
            if (items == 1)
                RunItem(job, 0);
            else
                WorkerPool.For(items, job, Gemm.WakeWorkersFor((long)m * n * k));
        }
        finally
        {
            job.A = job.B = job.C = job.PackedB = null;
            t_job = job;
        }
    }

    // Pick rowGroups x colGroups == threads minimising the busiest thread's work: its tiles plus packing its
    // rows of A (once per NC block of its columns) and its columns of B.
    private static void ChooseSplit(Job job, int threads)
    {
        int rowPanels = (job.M + K.MR - 1) / K.MR, colPanels = (job.N + K.NR - 1) / K.NR;
        // Rough cycles per k step: a tile is MR x 2 vector FMAs on two FMA pipes; packing moves MR or NR values.
        // (B packed once already costs nothing here, so rows are split rather than every thread packing all of A.)
        double packA = K.MR * (job.TransA ? 0.25 : 0.5), packB = job.PackedB is not null ? 0 : K.NR * (job.TransB ? 0.5 : 0.25);
        double best = double.MaxValue;
        int bestR = 1;
        for (int rg = 1; rg <= threads; rg++)
        {
            if (threads % rg != 0)
                continue;
            int cg = threads / rg;
            int rp = (rowPanels + rg - 1) / rg, cp = (colPanels + cg - 1) / cg;
            int ncBlocks = (cp * K.NR + job.Nc - 1) / job.Nc;
            double cost = (double)rp * cp * K.MR + rp * packA * ncBlocks + cp * packB;
            if (cost < best)
            {
                best = cost;
                bestR = rg;
            }
        }
        job.RowGroups = bestR;
        job.ColGroups = threads / bestR;
        job.RowsPerGroup = (rowPanels + bestR - 1) / bestR * K.MR;
        job.ColsPerGroup = (colPanels + job.ColGroups - 1) / job.ColGroups * K.NR;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunItem(Job job, int index)
    {
        int r0 = index / job.ColGroups * job.RowsPerGroup, c0 = index % job.ColGroups * job.ColsPerGroup;
        int r1 = Math.Min(job.M, r0 + job.RowsPerGroup), c1 = Math.Min(job.N, c0 + job.ColsPerGroup);
        if (r0 >= r1 || c0 >= c1)
            return;
        int mr = K.MR, nr = K.NR, k = job.K;
        int kcMax = Math.Min(job.Kc, k), mcMax = Math.Min(job.Mc, r1 - r0), ncMax = Math.Min(job.Nc, c1 - c0);
        GemmScratch scratch = GemmScratch.Current;
        T* aPack = (T*)scratch.A((nuint)RoundUp(mcMax, mr) * (nuint)kcMax * (nuint)sizeof(T));
        T* bPack = (T*)scratch.B((nuint)RoundUp(ncMax, nr) * (nuint)kcMax * (nuint)sizeof(T));
        nint lda = job.Lda, ldb = job.Ldb, ldc = job.Ldc;
        bool transA = job.TransA, transB = job.TransB;
        T alpha = job.Alpha;
        for (int jc = c0; jc < c1; jc += job.Nc)
        {
            int nc = Math.Min(job.Nc, c1 - jc);
            for (int pc = 0; pc < k; pc += job.Kc)
            {
                int kc = Math.Min(job.Kc, k - pc);
                T beta = pc == 0 ? job.Beta : T.One;
                T* panels = job.PackedB is null ? bPack : job.PackedB + PackedOffset(job.N, pc, jc, kc);
                if (job.PackedB is null)
                {
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int col = jc + jr;
                        T* src = transB ? job.B + col * ldb + pc : job.B + pc * ldb + col;
                        GemmPack<T, K>.PackBPanel(transB, src, ldb, Math.Min(nr, nc - jr), kc, bPack + jr * kc);
                    }
                }
                for (int ic = r0; ic < r1; ic += job.Mc)
                {
                    int mc = Math.Min(job.Mc, r1 - ic);
                    T* aSrc = transA ? job.A + pc * lda + ic : job.A + ic * lda + pc;
                    GemmPack<T, K>.PackA(transA, aSrc, lda, mc, kc, aPack);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        T* bp = panels + jr * kc;
                        T* cc = job.C + ic * ldc + jc + jr;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            if (rows == mr && cols == nr)
                                K.Run(kc, aPack + ir * kc, bp, cc + ir * ldc, ldc, alpha, beta);
                            else
                                K.RunEdge(kc, aPack + ir * kc, bp, cc + ir * ldc, ldc, alpha, beta, rows, cols);
                        }
                    }
                }
            }
        }
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    /// <summary>Elements of op(B) [k, n] packed by <see cref="PackB"/>.</summary>
    public static long PackedLength(int n, int k) => (long)RoundUp(n, K.NR) * k;

    /// <summary>
    /// op(B) [k, n] packed once for every product with it (an inference plan's weight): for each KC block of k in
    /// order, the NR-wide panels of all n columns as the driver packs them, so the panels of columns [jc, ...) of the
    /// block starting at pc are at pc * roundUp(n, NR) + jc * kc.
    /// </summary>
    public static void PackB(bool transB, int n, int k, T* b, nint ldb, T* dst)
    {
        int nr = K.NR;
        for (int pc = 0; pc < k; pc += s_blocking.Kc)
        {
            int kc = Math.Min(s_blocking.Kc, k - pc);
            for (int jr = 0; jr < n; jr += nr)
            {
                T* src = transB ? b + jr * ldb + pc : b + pc * ldb + jr;
                GemmPack<T, K>.PackBPanel(transB, src, ldb, Math.Min(nr, n - jr), kc, dst + PackedOffset(n, pc, jr, kc));
            }
        }
    }

    private static long PackedOffset(int n, int pc, int col, int kc) => (long)pc * RoundUp(n, K.NR) + (long)col * kc;

    private sealed class Job : IParallelTask
    {
        public bool TransA, TransB;
        public int M, N, K, Kc, Mc, Nc;
        public T* A, B, C, PackedB;
        public nint Lda, Ldb, Ldc;
        public T Alpha, Beta;
        public int RowGroups, ColGroups, RowsPerGroup, ColsPerGroup;

        public void Run(int index) => RunItem(this, index);
    }
}
