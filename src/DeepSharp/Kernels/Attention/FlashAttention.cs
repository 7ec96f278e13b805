using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// Scaled dot-product attention without the [L, S] matrix (FlashAttention, Dao et al. 2022; the backward of
/// FlashAttention-2). Per (batch x head) slice, with q [L, D], k [S, D], v [S, Dv] contiguous:
/// <code>
/// forward:  for a block of query rows, walk the keys in blocks of Bc:
///             S = scale q k_j^T                        [Br, Bc]  (GEMM)
///             m' = max(m, rowmax S);  P = exp(S - m')   (online softmax: running max m and sum l)
///             l = l e^(m - m') + rowsum P;  O = O e^(m - m') + P v_j   (GEMM)
///           O /= l;  lse = m + log l                    (lse is all backward needs of the softmax)
/// backward: D_i = rowsum(dO_i * O_i); for each key block j and query block i, recompute
///             P = exp(scale q_i k_j^T - lse_i);  dV_j += P^T dO_i;  dP = dO_i v_j^T
///           (with dropout mask Z: O uses P Z, so dV_j += (P Z)^T dO_i and dP = (dO_i v_j^T) Z; D_i is unchanged)
///             dS = P * (dP - D_i);  dQ_i += scale dS k_j;  dK_j += scale dS^T q_i
/// </code>
/// Causal attention is top-left aligned (query i sees keys 0..i, as torch.ones(L, S).tril()): blocks of keys
/// entirely past a block of queries are skipped, and a row's scores past its diagonal are never exponentiated.
/// Tile products go through the library GEMM (every vector width), row work through TensorPrimitives.
/// The forward parallelises over (slice, query block), the backward over slices (each owns its dQ, dK, dV).
/// </summary>
internal static unsafe class FlashAttention
{
    /// <summary>
    /// Dropout on the attention weights, reproducible in backward: weight (row i, key j) of slice b is kept when the
    /// generator's uniform number at counter Base + (b L + i) S + j is at least P (kept weights are scaled by
    /// 1/(1 - P)). These are the counters and the comparison of <c>Functional.Dropout(weights)</c> on the composed
    /// [.., L, S] weights drawn from the same generator state, so both paths drop the same weights.
    /// </summary>
    internal readonly record struct Dropout(bool Active, ulong Seed, long Base, double P)
    {
        /// <summary>Dropout with probability <paramref name="p"/> (none when 0) over <paramref name="weights"/> attention weights, counters reserved from the generator (the default one when null).</summary>
        public static Dropout Draw(double p, Generator? generator, long weights)
        {
            if (p <= 0) return default;
            var gen = generator ?? Generator.Default;
            return new Dropout(true, gen.Seed, gen.Reserve(weights), p);
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public bool Keep<T>(long counter) where T : unmanaged
        {
            ulong bits = CounterRandom.Bits(Seed, Base + counter);
            return typeof(T) == typeof(float) ? CounterRandom.Single(bits) >= (float)P : CounterRandom.Double(bits) >= P;
        }

        /// <summary>tile[r, c] (rows of w) times the keep mask and 1/(1 - P), for rows i0.. and keys j0.. of a slice.</summary>
        public void Apply<T>(T* tile, int rows, int w, long slice, int l, int s, int i0, int j0) where T : unmanaged, IFloatingPointIeee754<T>
        {
            T scale = Scale<T>();
            for (int r = 0; r < rows; r++)
            {
                long c0 = (slice * l + i0 + r) * s + j0;
                T* row = tile + (long)r * w;
                for (int c = 0; c < w; c++) row[c] = Keep<T>(c0 + c) ? row[c] * scale : T.Zero;
            }
        }

        /// <summary>The mask itself (1/(1 - P) where kept, 0 where dropped) into mask[rows, w].</summary>
        public void Fill<T>(T* mask, int rows, int w, long slice, int l, int s, int i0, int j0) where T : unmanaged, IFloatingPointIeee754<T>
        {
            T scale = Scale<T>();
            for (int r = 0; r < rows; r++)
            {
                long c0 = (slice * l + i0 + r) * s + j0;
                T* row = mask + (long)r * w;
                for (int c = 0; c < w; c++) row[c] = Keep<T>(c0 + c) ? scale : T.Zero;
            }
        }

        // As Functional.Dropout: the scale rounded to the element type.
        private T Scale<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            typeof(T) == typeof(float) ? T.CreateTruncating((float)(1 / (1 - P))) : T.CreateTruncating(1 / (1 - P));
    }

    /// <summary>
    /// Query rows per forward block and keys per tile. A [Br, Bc] score tile plus a [Bc, D] key and value tile
    /// stay in L2; Bc is the larger so that the running rescale of O happens rarely.
    /// </summary>
    internal static (int Br, int Bc) Blocks(int elementSize)
    {
        long l2 = Math.Max(256L << 10, CpuInfo.L2Bytes);
        int bc = (int)Math.Clamp(l2 / 4 / (64 * elementSize), 64, 256);
        return (64, bc & ~15);
    }

    /// <summary>
    /// Keys per backward tile (query rows: 64). Wide tiles mean fewer, larger GEMMs; a causal mask still skips work
    /// because each query block only reaches the keys up to its last row.
    /// </summary>
    internal static int BackwardKeys = 256;

    // Below this many multiply-adds (q k^T and P v together) a hand-off to the workers does not pay.
    internal static long ParallelThreshold = 64L * 64 * 64;

    /// <summary>
    /// o [bh, l, dv] = softmax(scale q k^T [+ causal mask]) v and lse [bh, l] = the log of each row's softmax
    /// denominator (with the max added back). q [bh, l, d], k [bh, s, d], v [bh, s, dv], all contiguous; s &gt;= 1.
    /// </summary>
    public static void Forward<T>(T* q, T* k, T* v, T* o, T* lse, int bh, int l, int s, int d, int dv, T scale, bool causal, Dropout dropout = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (bh == 0 || l == 0) return;
        var (br, bc) = Blocks(sizeof(T));
        br = Math.Min(br, l);
        bc = Math.Min(bc, s);
        int blocks = (l + br - 1) / br;
        var task = new ForwardTask<T>
        {
            Q = q, K = k, V = v, O = o, Lse = lse, L = l, S = s, D = d, Dv = dv, Scale = scale, Causal = causal,
            Br = br, Bc = bc, QueryBlocks = blocks, Drop = dropout,
        };
        Run(bh * blocks, task, (long)bh * l * s * (d + dv) / (causal ? 2 : 1));
    }

    /// <summary>
    /// Gradients of <see cref="Forward{T}"/>: dq [bh, l, d], dk [bh, s, d], dv [bh, s, dv] (overwritten) from the
    /// saved q, k, v, o, lse and the output gradient g [bh, l, dv].
    /// </summary>
    public static void Backward<T>(T* q, T* k, T* v, T* o, T* lse, T* g, T* dq, T* dk, T* dvOut,
        int bh, int l, int s, int d, int dv, T scale, bool causal, Dropout dropout = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (bh == 0) return;
        new Span<T>(dq, bh * l * d).Clear();
        new Span<T>(dk, bh * s * d).Clear();
        new Span<T>(dvOut, bh * s * dv).Clear();
        if (l == 0) return;
        var task = new BackwardTask<T>
        {
            Q = q, K = k, V = v, O = o, Lse = lse, G = g, DQ = dq, DK = dk, DV = dvOut,
            L = l, S = s, D = d, Dv = dv, Scale = scale, Causal = causal, Drop = dropout,
            Br = Math.Min(64, l), Bc = Math.Min(BackwardKeys, s),
        };
        Run(bh, task, 2L * bh * l * s * (d + dv) / (causal ? 2 : 1));
    }

    private static void Run(int count, IParallelTask task, long work)
    {
        if (work < ParallelThreshold || WorkerPool.IsInParallelRegion)
            for (int i = 0; i < count; i++) task.Run(i);
        else
            WorkerPool.For(count, task, wakeSleepers: Gemm.WakeWorkersFor(work));
    }

    /// <summary>How many of the keys j0 .. j0+width-1 row i may see (all when not causal).</summary>
    private static int Visible(bool causal, int i, int j0, int width) => causal ? Math.Clamp(i - j0 + 1, 0, width) : width;

    private sealed class ForwardTask<T> : IParallelTask where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Q, K, V, O, Lse;
        public int L, S, D, Dv, Br, Bc, QueryBlocks;
        public T Scale;
        public bool Causal;
        public Dropout Drop;

        public void Run(int index)
        {
            int slice = index / QueryBlocks, i0 = index % QueryBlocks * Br;
            int br = Math.Min(Br, L - i0);
            T* q = Q + ((long)slice * L + i0) * D, k = K + (long)slice * S * D, v = V + (long)slice * S * Dv;
            T* o = O + ((long)slice * L + i0) * Dv, lse = Lse + (long)slice * L + i0;
            int keys = Causal ? Math.Min(S, i0 + br) : S; // keys past the block's last row are never seen
            int bc = Bc;
            T[] scratch = System.Buffers.ArrayPool<T>.Shared.Rent(br * bc + 2 * br);
            fixed (T* p0 = scratch)
            {
                T* p = p0, m = p0 + br * bc, sum = m + br;
                for (int r = 0; r < br; r++) { m[r] = T.NegativeInfinity; sum[r] = T.Zero; }
                new Span<T>(o, br * Dv).Clear();
                for (int j0 = 0; j0 < keys; j0 += bc)
                {
                    int w = Math.Min(bc, keys - j0);
                    // p = scale q k_j^T  [br, w]
                    Gemm.RunUnchecked(false, true, br, w, D, Scale, q, D, k + (long)j0 * D, D, T.Zero, p, w, 1);
                    for (int r = 0; r < br; r++)
                    {
                        var row = new Span<T>(p + r * w, w);
                        int n = Visible(Causal, i0 + r, j0, w);
                        if (n == 0) { row.Clear(); continue; }
                        var seen = row[..n];
                        T mNew = T.Max(m[r], TensorPrimitives.Max<T>(seen));
                        if (T.IsNegativeInfinity(mNew)) { row.Clear(); continue; } // every score so far is -inf
                        TensorPrimitives.Subtract(seen, mNew, seen);
                        TensorPrimitives.Exp(seen, seen);
                        row[n..].Clear();
                        T alpha = T.Exp(m[r] - mNew);
                        sum[r] = sum[r] * alpha + TensorPrimitives.Sum<T>(seen);
                        m[r] = mNew;
                        if (alpha != T.One)
                        {
                            var orow = new Span<T>(o + r * Dv, Dv);
                            TensorPrimitives.Multiply(orow, alpha, orow);
                        }
                    }
                    // the running sum l counts every weight; dropout acts on what multiplies v (as on the composed weights)
                    if (Drop.Active) Drop.Apply(p, br, w, slice, L, S, i0, j0);
                    // o += p v_j  [br, dv]
                    Gemm.RunUnchecked(false, false, br, Dv, w, T.One, p, w, v + (long)j0 * Dv, Dv, T.One, o, Dv, 1);
                }
                for (int r = 0; r < br; r++)
                {
                    var orow = new Span<T>(o + r * Dv, Dv);
                    TensorPrimitives.Multiply(orow, T.One / sum[r], orow); // a row that saw nothing: 0/0 = NaN, as PyTorch
                    lse[r] = m[r] + T.Log(sum[r]);
                }
            }
            System.Buffers.ArrayPool<T>.Shared.Return(scratch);
        }
    }

    private sealed class BackwardTask<T> : IParallelTask where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Q, K, V, O, Lse, G, DQ, DK, DV;
        public int L, S, D, Dv, Br, Bc;
        public T Scale;
        public bool Causal;
        public Dropout Drop;

        public void Run(int slice)
        {
            T* q = Q + (long)slice * L * D, k = K + (long)slice * S * D, v = V + (long)slice * S * Dv;
            T* o = O + (long)slice * L * Dv, g = G + (long)slice * L * Dv, lse = Lse + (long)slice * L;
            T* dq = DQ + (long)slice * L * D, dk = DK + (long)slice * S * D, dv = DV + (long)slice * S * Dv;
            int br = Br, bc = Bc;
            int tiles = Drop.Active ? 3 : 2;
            T[] scratch = System.Buffers.ArrayPool<T>.Shared.Rent(tiles * br * bc + L);
            fixed (T* s0 = scratch)
            {
                T* p = s0, dp = s0 + br * bc, rowDot = s0 + tiles * br * bc, z = dp + br * bc; // z: the dropout mask tile
                // D_i = rowsum(dO_i * O_i) = sum_j P_ij dP_ij
                for (int i = 0; i < L; i++)
                    rowDot[i] = TensorPrimitives.Dot(new ReadOnlySpan<T>(g + (long)i * Dv, Dv), new ReadOnlySpan<T>(o + (long)i * Dv, Dv));
                for (int j0 = 0; j0 < S; j0 += bc)
                {
                    int width = Math.Min(bc, S - j0);
                    T* kj = k + (long)j0 * D, vj = v + (long)j0 * Dv, dkj = dk + (long)j0 * D, dvj = dv + (long)j0 * Dv;
                    for (int i0 = Causal ? Math.Min(j0, L) / br * br : 0; i0 < L; i0 += br)
                    {
                        int h = Math.Min(br, L - i0);
                        if (Causal && j0 > i0 + h - 1) continue;
                        int w = Causal ? Math.Min(width, i0 + h - j0) : width; // keys past the block's last row: never seen
                        T* qi = q + (long)i0 * D, gi = g + (long)i0 * Dv;
                        // P = exp(scale q_i k_j^T - lse_i), zero where the causal mask hides a key
                        Gemm.RunUnchecked(false, true, h, w, D, Scale, qi, D, kj, D, T.Zero, p, w, 1);
                        for (int r = 0; r < h; r++)
                        {
                            var row = new Span<T>(p + r * w, w);
                            int n = Visible(Causal, i0 + r, j0, w);
                            TensorPrimitives.Subtract(row[..n], lse[i0 + r], row[..n]);
                            row[n..].Fill(T.NegativeInfinity);
                        }
                        TensorPrimitives.Exp(new ReadOnlySpan<T>(p, h * w), new Span<T>(p, h * w)); // one call for the tile
                        // dP = dO_i v_j^T (through the dropout mask Z: dP = (dO v^T) Z), then dS = P * (dP - D_i) in place
                        Gemm.RunUnchecked(false, true, h, w, Dv, T.One, gi, Dv, vj, Dv, T.Zero, dp, w, 1);
                        if (Drop.Active)
                        {
                            Drop.Fill(z, h, w, slice, L, S, i0, j0);
                            TensorPrimitives.Multiply(new ReadOnlySpan<T>(dp, h * w), new ReadOnlySpan<T>(z, h * w), new Span<T>(dp, h * w));
                        }
                        for (int r = 0; r < h; r++)
                        {
                            var dsRow = new Span<T>(dp + r * w, w);
                            TensorPrimitives.Subtract(dsRow, rowDot[i0 + r], dsRow);
                        }
                        TensorPrimitives.Multiply(new ReadOnlySpan<T>(dp, h * w), new ReadOnlySpan<T>(p, h * w), new Span<T>(dp, h * w));
                        // dV_j += (P Z)^T dO_i
                        if (Drop.Active) TensorPrimitives.Multiply(new ReadOnlySpan<T>(p, h * w), new ReadOnlySpan<T>(z, h * w), new Span<T>(p, h * w));
                        Gemm.RunUnchecked(true, false, w, Dv, h, T.One, p, w, gi, Dv, T.One, dvj, Dv, 1);
                        // dQ_i += scale dS k_j;  dK_j += scale dS^T q_i
                        Gemm.RunUnchecked(false, false, h, D, w, Scale, dp, w, kj, D, T.One, dq + (long)i0 * D, D, 1);
                        Gemm.RunUnchecked(true, false, w, D, h, Scale, dp, w, qi, D, T.One, dkj, D, 1);
                    }
                }
            }
            System.Buffers.ArrayPool<T>.Shared.Return(scratch);
        }
    }
}
