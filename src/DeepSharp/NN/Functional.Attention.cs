using DeepSharp.Kernels;

namespace DeepSharp.NN;

// Attention as compositions of differentiable ops (matmul, softmax, masks): scaled dot-product attention
// and the mask conventions shared by the attention modules.
public static partial class Functional
{
    /// <summary>
    /// softmax(q k^T * scale + mask) v for query [..., L, E], key [..., S, E], value [..., S, Ev] (leading dims
    /// broadcast), scale = 1/sqrt(E) unless given (F.scaled_dot_product_attention). Returns the output
    /// [..., L, Ev] and the attention weights [..., L, S] (after dropout, as used).
    /// <paramref name="attnMask"/> broadcasts to [..., L, S] and follows PyTorch's SDPA convention: a bool mask
    /// is true where a query MAY attend (the opposite of MultiheadAttention's masks); a float mask is added to
    /// the scores. <paramref name="isCausal"/> lets query i see keys 0..i only (top-left aligned when L != S).
    /// Dropout with probability <paramref name="dropoutP"/> is applied to the weights whenever it is positive,
    /// like PyTorch's functional form (pass 0 in eval mode). Rows whose keys are all masked give NaN, as PyTorch.
    /// </summary>
    public static AttentionOutput ScaledDotProductAttention(Tensor query, Tensor key, Tensor value, Tensor? attnMask = null,
        double dropoutP = 0, bool isCausal = false, double? scale = null, Generator? generator = null)
    {
        const string op = "scaled_dot_product_attention";
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (query.Rank < 2 || key.Rank < 2 || value.Rank < 2)
            throw new ArgumentException($"{op}: query, key and value need at least 2 dims [..., L, E], got {Shapes.Format(query.ShapeArray)}, {Shapes.Format(key.ShapeArray)} and {Shapes.Format(value.ShapeArray)}");
        int l = query.Size(-2), e = query.Size(-1), s = key.Size(-2);
        if (key.Size(-1) != e)
            throw new ArgumentException($"{op}: query and key must have the same embedding size, got query {Shapes.Format(query.ShapeArray)} and key {Shapes.Format(key.ShapeArray)}");
        if (value.Size(-2) != s)
            throw new ArgumentException($"{op}: key and value must have the same sequence length, got key {Shapes.Format(key.ShapeArray)} and value {Shapes.Format(value.ShapeArray)}");
        if (isCausal && attnMask is not null) throw new ArgumentException($"{op}: pass either attnMask or isCausal, not both");
        if (!(dropoutP >= 0 && dropoutP <= 1)) throw new ArgumentException($"{op}: dropout probability has to be between 0 and 1, got {dropoutP}");

        double factor = scale ?? 1 / Math.Sqrt(e);
        if (CanFuse(query, key, value, attnMask, dropoutP))
        {
            // Fused (FlashAttention) path: the [L, S] weights are never formed unless a caller reads Weights; then
            // they are computed from query and key by the composition, recorded for autograd as the call would have
            // been (so a loss on the weights still reaches q and k). Explicit masks, dropout of 1, broadcast leading
            // dims and empty inputs take the composed path below.
            // Dropout draws the composed path's counters from the generator, so both paths drop the same weights.
            int slices = 1;
            for (int i = 0; i < query.Rank - 2; i++) slices *= query.ShapeArray[i];
            var dropout = FlashAttention.Dropout.Draw(dropoutP, generator, (long)slices * l * s);
            var output = Tensor.FusedAttention(query, key, value, isCausal, factor, dropout);
            bool record = Autograd.IsGradEnabled;
            return new AttentionOutput(output, () =>
            {
                using var _ = Autograd.SetGradEnabled(record);
                var weights = Weights(query, key, factor, isCausal ? AdditiveMask(op, CausalMask(l, s), query.DType, allowedWhereTrue: true) : null);
                return dropout.Active ? weights * DropoutMask(weights, dropout) : weights;
            });
        }

        var q = query.Mul(factor);
        var scores = q.MatMul(key.Transpose(-2, -1)); // [..., L, S]
        var additive = isCausal ? AdditiveMask(op, CausalMask(l, s), query.DType, allowedWhereTrue: true)
            : attnMask is null ? null : AdditiveMask(op, attnMask, query.DType, allowedWhereTrue: true);
        if (additive is not null) scores = scores + additive;
        var weights = scores.Softmax(-1);
        if (dropoutP > 0) weights = Dropout(weights, dropoutP, true, generator);
        return new AttentionOutput(weights.MatMul(value), weights);
    }

    /// <summary>The fused op's dropout mask for weights [..., L, S]: 1/(1 - p) where kept, 0 where dropped.</summary>
    private static Tensor DropoutMask(Tensor weights, FlashAttention.Dropout dropout)
    {
        var mask = Tensor.Ones((int[])weights.ShapeArray.Clone(), weights.DType);
        int l = weights.Size(-2), s = weights.Size(-1);
        unsafe
        {
            if (mask.DType == DType.Float32)
                fixed (float* m = mask.Span<float>()) dropout.Apply(m, mask.Numel / Math.Max(s, 1), s, 0, l, s, 0, 0);
            else
                fixed (double* m = mask.Span<double>()) dropout.Apply(m, mask.Numel / Math.Max(s, 1), s, 0, l, s, 0, 0);
        }
        return mask;
    }

    private static Tensor Weights(Tensor query, Tensor key, double scale, Tensor? additive)
    {
        var scores = query.Mul(scale).MatMul(key.Transpose(-2, -1));
        return (additive is null ? scores : scores + additive).Softmax(-1);
    }

    /// <summary>
    /// Whether the fused kernel handles these arguments: no explicit mask, dropout below 1, float32 or float64
    /// alike, the same leading (batch, head) dims, at least one key and a non-empty embedding.
    /// </summary>
    private static bool CanFuse(Tensor q, Tensor k, Tensor v, Tensor? attnMask, double dropoutP)
    {
        if (attnMask is not null || dropoutP >= 1) return false;
        if (q.DType is not (DType.Float32 or DType.Float64) || k.DType != q.DType || v.DType != q.DType) return false;
        if (k.Rank != q.Rank || v.Rank != q.Rank) return false;
        for (int i = 0; i < q.Rank - 2; i++)
            if (k.ShapeArray[i] != q.ShapeArray[i] || v.ShapeArray[i] != q.ShapeArray[i]) return false;
        return k.ShapeArray[^2] > 0 && q.ShapeArray[^1] > 0;
    }

    /// <summary>[L, S] bool, true where key j &lt;= query i (torch.ones(L, S).tril()).</summary>
    internal static Tensor CausalMask(int l, int s)
    {
        var allowed = new bool[l * s];
        for (int i = 0; i < l; i++)
            for (int j = 0; j <= i && j < s; j++) allowed[i * s + j] = true;
        return Tensor.From(allowed, l, s);
    }

    /// <summary>
    /// A mask as scores to add: float masks pass through (converted to <paramref name="dtype"/>); bool masks
    /// become 0 where attention is allowed and -inf elsewhere. <paramref name="allowedWhereTrue"/> picks the
    /// convention: true for SDPA, false for MultiheadAttention and the additive/Luong modules (true = ignore).
    /// </summary>
    internal static Tensor AdditiveMask(string op, Tensor mask, DType dtype, bool allowedWhereTrue)
    {
        if (mask.IsFloatingPoint) return mask.To(dtype);
        if (mask.DType != DType.Bool) throw new ArgumentException($"{op}: masks must be bool or floating point, got {mask.Describe()}");
        var zero = Tensor.Scalar(0, dtype);
        var blocked = Tensor.Scalar(double.NegativeInfinity, dtype);
        return allowedWhereTrue ? Tensor.Where(mask, zero, blocked) : Tensor.Where(mask, blocked, zero);
    }
}
