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
        var o = Empty(outShape, query.DType);
        var lse = Empty([slices * l], query.DType);
        unsafe
        {
            if (query.DType == DType.Float32)
                fixed (float* pq = q.ReadSpan<float>(), pk = k.ReadSpan<float>(), pv = v.ReadSpan<float>(), po = o.Span<float>(), pl = lse.Span<float>())
                    FlashAttention.Forward(pq, pk, pv, po, pl, slices, l, s, e, ev, (float)scale, causal, dropout);
            else
                fixed (double* pq = q.ReadSpan<double>(), pk = k.ReadSpan<double>(), pv = v.ReadSpan<double>(), po = o.Span<double>(), pl = lse.Span<double>())
                    FlashAttention.Forward(pq, pk, pv, po, pl, slices, l, s, e, ev, scale, causal, dropout);
        }
        KeepAlive(q, k, v);
        if (Autograd.ShouldRecord([query, key, value]))
            o.GradFn = new AttentionBackward(query, key, value, q, k, v, o, lse, slices, causal, scale, dropout);
        return o;
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

    private sealed class AttentionBackward(Tensor query, Tensor key, Tensor value, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
        int slices, bool causal, double scale, FlashAttention.Dropout dropout) : Node(query, key, value)
    {
        // The contiguous operands the kernel read (the inputs themselves when already contiguous).
        private SavedTensor _q = new(q), _k = new(k), _v = new(v), _o = new(o), _lse = new(lse);

        public override string Name => "ScaledDotProductFlashAttentionBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            Tensor q = _q.Unpack(this), k = _k.Unpack(this), v = _v.Unpack(this), o = _o.Unpack(this), lse = _lse.Unpack(this);
            var g = grad.ContiguousData();
            int l = q.ShapeArray[^2], e = q.ShapeArray[^1], s = k.ShapeArray[^2], ev = v.ShapeArray[^1];
            var dq = EmptyLike(q);
            var dk = EmptyLike(k);
            var dv = EmptyLike(v);
            unsafe
            {
                if (q.DType == DType.Float32)
                    fixed (float* pq = q.ReadSpan<float>(), pk = k.ReadSpan<float>(), pv = v.ReadSpan<float>(), po = o.ReadSpan<float>(),
                           pl = lse.ReadSpan<float>(), pg = g.ReadSpan<float>(), pdq = dq.Span<float>(), pdk = dk.Span<float>(), pdv = dv.Span<float>())
                        FlashAttention.Backward(pq, pk, pv, po, pl, pg, pdq, pdk, pdv, slices, l, s, e, ev, (float)scale, causal, dropout);
                else
                    fixed (double* pq = q.ReadSpan<double>(), pk = k.ReadSpan<double>(), pv = v.ReadSpan<double>(), po = o.ReadSpan<double>(),
                           pl = lse.ReadSpan<double>(), pg = g.ReadSpan<double>(), pdq = dq.Span<double>(), pdk = dk.Span<double>(), pdv = dv.Span<double>())
                        FlashAttention.Backward(pq, pk, pv, po, pl, pg, pdq, pdk, pdv, slices, l, s, e, ev, scale, causal, dropout);
            }
            KeepAlive(q, k, v, o, lse, g);
            KeepAlive(grad);
            return [NeedsGrad(0) ? dq : null, NeedsGrad(1) ? dk : null, NeedsGrad(2) ? dv : null];
        }

        protected internal override void ReleaseSaved()
        {
            _q.Release(); _k.Release(); _v.Release(); _o.Release(); _lse.Release();
        }
    }
}
