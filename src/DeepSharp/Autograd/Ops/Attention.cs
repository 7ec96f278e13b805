using DeepSharp.Kernels;

namespace DeepSharp;

// Fused scaled dot-product attention: softmax(scale q k^T [+ causal mask]) v in one op, never holding the
// [L, S] weights (FlashAttention). Forward keeps q, k, v, the output and each row's log-sum-exp; backward
// recomputes the weights tile by tile. Kernel and formulas: Kernels/Attention/FlashAttention.cs.
public sealed partial class Tensor
{
    /// <summary>
    /// softmax(scale q k^T) v for q [..., L, E], k [..., S, E], v [..., S, Ev] with identical leading dims
    /// (any strides; non-contiguous inputs are copied), S &gt;= 1 and E &gt;= 1. <paramref name="causal"/> lets
    /// query i see keys 0..i (top-left aligned when L != S). <paramref name="dropout"/> drops attention weights by
    /// counter (regenerated in backward). Returns [..., L, Ev].
    /// </summary>
    internal static Tensor FusedAttention(Tensor query, Tensor key, Tensor value, bool causal, double scale, FlashAttention.Dropout dropout = default)
    {
        const string op = "scaled_dot_product_attention";
        CheckFusedAttention(op, query, key, value);
        int l = query.ShapeArray[^2], e = query.ShapeArray[^1], s = key.ShapeArray[^2], ev = value.ShapeArray[^1];
        int slices = 1;
        for (int i = 0; i < query.Rank - 2; i++) slices *= query.ShapeArray[i];
        var q = query.ContiguousData();
        var k = key.ContiguousData();
        var v = value.ContiguousData();
        var outShape = (int[])query.ShapeArray.Clone();
        outShape[^1] = ev;
        var (o, lse) = AttentionForward(q, k, v, outShape, slices, causal, scale, dropout);
        if (Autograd.ShouldRecord([query, key, value]))
            o.GradFn = new AttentionBackward(query, key, value, q, k, v, o, lse, slices, causal, scale, dropout);
        return o;
    }

    /// <summary>
    /// Self-attention of packed projections, as GPT's c_attn makes them: <paramref name="qkv"/> [B, T, 3C] holds q, k
    /// and v side by side, each [B, T, C] with <paramref name="heads"/> heads side by side; returns [B, T, C], heads
    /// side by side again. The same values as splitting, moving the heads forward, <see cref="FusedAttention"/> and
    /// moving them back, but as one op: its backward writes d(qkv) once, where the split's three views would each
    /// scatter into a zero-filled [B, T, 3C] gradient to be summed.
    /// </summary>
    internal static Tensor FusedPackedAttention(Tensor qkv, int heads, bool causal, double scale, FlashAttention.Dropout dropout = default)
    {
        const string op = "scaled_dot_product_attention";
        if (qkv.Rank != 3 || heads < 1 || qkv.ShapeArray[2] % (3 * heads) != 0 || qkv.ShapeArray[1] == 0)
            throw new ArgumentException($"{op}: packed attention needs qkv [B, T, 3C] with T >= 1 and C a multiple of the {heads} heads, got {Shapes.Format(qkv.ShapeArray)}");
        if (qkv.DType is not (DType.Float32 or DType.Float64))
            throw new ArgumentException($"{op}: packed attention needs float32 or float64, got {qkv.DType.Name()}");
        int b = qkv.ShapeArray[0], t = qkv.ShapeArray[1], c = qkv.ShapeArray[2] / 3, d = c / heads;
        var packed = qkv.ContiguousData();
        var q = HeadsForward(packed, 0, heads);
        var k = HeadsForward(packed, c, heads);
        var v = HeadsForward(packed, 2 * c, heads);
        KeepAlive(packed);
        var (o, lse) = AttentionForward(q, k, v, [b, heads, t, d], b * heads, causal, scale, dropout);
        var y = Empty([b, t, c], qkv.DType);
        CopyElements(o, [heads * t * d, d, t * d, 1], y.ViewOf([b, t, heads, d], [t * c, c, d, 1], 0)); // heads side by side
        if (Autograd.ShouldRecord(qkv))
            y.GradFn = new PackedAttentionBackward(qkv, q, k, v, o, lse, heads, causal, scale, dropout);
        return y;
    }

    /// <summary>Columns [first, first + C) of contiguous [B, T, 3C] as a contiguous [B, H, T, D] copy.</summary>
    private static Tensor HeadsForward(Tensor packed, int first, int heads)
    {
        int b = packed.ShapeArray[0], t = packed.ShapeArray[1], c3 = packed.ShapeArray[2], d = c3 / 3 / heads;
        var result = Empty([b, heads, t, d], packed.DType);
        CopyElements(new Tensor(packed.Storage, [b, heads, t, d], [t * c3, d, c3, 1], packed.Offset + first), result);
        return result;
    }

    /// <summary>The kernel's forward on contiguous q, k, v: the output of <paramref name="outShape"/> and each row's log-sum-exp.</summary>
    private static (Tensor O, Tensor Lse) AttentionForward(Tensor q, Tensor k, Tensor v, int[] outShape, int slices, bool causal, double scale,
        FlashAttention.Dropout dropout)
    {
        var o = Empty(outShape, q.DType);
        var lse = Empty([slices * q.ShapeArray[^2]], q.DType);
        Dispatch.Float(q.DType, new AttentionForwardKernel(q, k, v, o, lse, slices, causal, scale, dropout));
        KeepAlive(q, k, v);
        return (o, lse);
    }

    private readonly struct AttentionForwardKernel(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, int slices, bool causal, double scale,
        FlashAttention.Dropout dropout) : IFloatKernel
    {
        public unsafe void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            int l = q.ShapeArray[^2], e = q.ShapeArray[^1], s = k.ShapeArray[^2], ev = v.ShapeArray[^1];
            fixed (T* pq = q.ReadSpan<T>(), pk = k.ReadSpan<T>(), pv = v.ReadSpan<T>(), po = o.Span<T>(), pl = lse.Span<T>())
                FlashAttention.Forward(pq, pk, pv, po, pl, slices, l, s, e, ev, T.CreateTruncating(scale), causal, dropout);
        }
    }

    /// <summary>The kernel's backward: dq, dk, dv (contiguous, shaped as q, k, v) from the saved forward and the contiguous output gradient g.</summary>
    private static (Tensor Dq, Tensor Dk, Tensor Dv) AttentionGradients(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor g, int slices,
        bool causal, double scale, FlashAttention.Dropout dropout)
    {
        var dq = EmptyLike(q);
        var dk = EmptyLike(k);
        var dv = EmptyLike(v);
        Dispatch.Float(q.DType, new AttentionBackwardKernel(q, k, v, o, lse, g, dq, dk, dv, slices, causal, scale, dropout));
        KeepAlive(q, k, v, o, lse, g);
        return (dq, dk, dv);
    }

    private readonly struct AttentionBackwardKernel(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor g, Tensor dq, Tensor dk, Tensor dv,
        int slices, bool causal, double scale, FlashAttention.Dropout dropout) : IFloatKernel
    {
        public unsafe void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            int l = q.ShapeArray[^2], e = q.ShapeArray[^1], s = k.ShapeArray[^2], ev = v.ShapeArray[^1];
            fixed (T* pq = q.ReadSpan<T>(), pk = k.ReadSpan<T>(), pv = v.ReadSpan<T>(), po = o.ReadSpan<T>(),
                   pl = lse.ReadSpan<T>(), pg = g.ReadSpan<T>(), pdq = dq.Span<T>(), pdk = dk.Span<T>(), pdv = dv.Span<T>())
                FlashAttention.Backward(pq, pk, pv, po, pl, pg, pdq, pdk, pdv, slices, l, s, e, ev, T.CreateTruncating(scale), causal, dropout);
        }
    }

    /// <summary>Whether <see cref="FusedAttention"/> takes these inputs; throws a message naming the problem otherwise.</summary>
    internal static void CheckFusedAttention(string op, Tensor q, Tensor k, Tensor v)
    {
        if (q.Rank < 2 || k.Rank != q.Rank || v.Rank != q.Rank)
            throw new ArgumentException($"{op}: fused attention needs query, key and value of the same rank >= 2, got {Shapes.Format(q.ShapeArray)}, {Shapes.Format(k.ShapeArray)} and {Shapes.Format(v.ShapeArray)}");
        if (q.DType is not (DType.Float32 or DType.Float64) || k.DType != q.DType || v.DType != q.DType)
            throw new ArgumentException($"{op}: query, key and value must all be float32 or all float64, got {q.DType.Name()}, {k.DType.Name()} and {v.DType.Name()}");
        for (int i = 0; i < q.Rank - 2; i++)
            if (k.ShapeArray[i] != q.ShapeArray[i] || v.ShapeArray[i] != q.ShapeArray[i])
                throw new ArgumentException($"{op}: fused attention needs the same leading (batch, head) dims in query, key and value, got {Shapes.Format(q.ShapeArray)}, {Shapes.Format(k.ShapeArray)} and {Shapes.Format(v.ShapeArray)}");
        if (k.ShapeArray[^1] != q.ShapeArray[^1] || v.ShapeArray[^2] != k.ShapeArray[^2])
            throw new ArgumentException($"{op}: expected query [..., L, E], key [..., S, E] and value [..., S, Ev], got {Shapes.Format(q.ShapeArray)}, {Shapes.Format(k.ShapeArray)} and {Shapes.Format(v.ShapeArray)}");
        if (k.ShapeArray[^2] == 0 || q.ShapeArray[^1] == 0)
            throw new ArgumentException($"{op}: fused attention needs at least one key and an embedding size of at least 1, got key {Shapes.Format(k.ShapeArray)}");
    }

    private sealed class AttentionBackward : Node
    {
        private readonly int _slices;
        private readonly bool _causal;
        private readonly double _scale;
        private readonly FlashAttention.Dropout _dropout;

        public AttentionBackward(Tensor query, Tensor key, Tensor value, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
            int slices, bool causal, double scale, FlashAttention.Dropout dropout) : base(query, key, value)
        {
            (_slices, _causal, _scale, _dropout) = (slices, causal, scale, dropout);
            // The contiguous operands the kernel read (the inputs themselves when already contiguous).
            SaveForBackward(q, k, v, o, lse);
        }

        public override string Name => "ScaledDotProductFlashAttentionBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            Tensor q = Saved(0), k = Saved(1), v = Saved(2), o = Saved(3), lse = Saved(4);
            var (dq, dk, dv) = AttentionGradients(q, k, v, o, lse, grad.ContiguousData(), _slices, _causal, _scale, _dropout);
            KeepAlive(grad);
            return [NeedsGrad(0) ? dq : null, NeedsGrad(1) ? dk : null, NeedsGrad(2) ? dv : null];
        }
    }

    private sealed class PackedAttentionBackward : Node
    {
        private readonly int _heads;
        private readonly bool _causal;
        private readonly double _scale;
        private readonly FlashAttention.Dropout _dropout;

        public PackedAttentionBackward(Tensor qkv, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, int heads, bool causal,
            double scale, FlashAttention.Dropout dropout) : base(qkv)
        {
            (_heads, _causal, _scale, _dropout) = (heads, causal, scale, dropout);
            SaveForBackward(q, k, v, o, lse);
        }

        public override string Name => "ScaledDotProductFlashAttentionBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            Tensor q = Saved(0), k = Saved(1), v = Saved(2), o = Saved(3), lse = Saved(4);
            int b = q.ShapeArray[0], t = q.ShapeArray[2], d = q.ShapeArray[3], c = _heads * d;
            var gc = grad.ContiguousData();
            var g = Empty([b, _heads, t, d], grad.DType);
            CopyElements(new Tensor(gc.Storage, [b, _heads, t, d], [t * c, d, c, 1], gc.Offset), g); // heads forward
            KeepAlive(gc, grad);
            var (dq, dk, dv) = AttentionGradients(q, k, v, o, lse, g, b * _heads, _causal, _scale, _dropout);
            var dqkv = Empty([b, t, 3 * c], grad.DType);
            int[] headsBack = [t * 3 * c, d, 3 * c, 1];
            CopyElements(dq, dqkv.ViewOf([b, _heads, t, d], headsBack, 0));
            CopyElements(dk, dqkv.ViewOf([b, _heads, t, d], headsBack, c));
            CopyElements(dv, dqkv.ViewOf([b, _heads, t, d], headsBack, 2 * c));
            return [dqkv];
        }
    }
}
