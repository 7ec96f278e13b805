using DeepSharp.NN;

namespace DeepSharp.Onnx;

/// <summary>
/// Multi-head self-attention and the Transformer encoder layer from opset-17 primitives (MatMul, Softmax, Reshape,
/// Transpose, LayerNormalization), computed batch-first inside: [B, S, E] whatever the module's layout.
/// </summary>
internal static class OnnxTransformerExport
{
    public static OnnxValue EncoderLayer(OnnxGraphBuilder g, TransformerEncoderLayer layer, OnnxValue x)
    {
        if (x.Rank != 3) throw new NotSupportedException($"ONNX export: TransformerEncoderLayer needs a batched input of rank 3, got {Shapes.Format(x.Sample.ShapeArray)}");
        bool batchFirst = layer.SelfAttn.BatchFirst;
        var reference = layer.Forward(x.Sample);
        var h = batchFirst ? x : g.Transpose(x, 1, 0, 2);
        if (layer.NormFirst)
        {
            h = g.Add(h, g.SelfAttention(layer.SelfAttn, g.Module(layer.Norm1, h), batchFirstInput: true));
            h = g.Add(h, FeedForward(g, layer, g.Module(layer.Norm2, h)));
        }
        else
        {
            h = g.Module(layer.Norm1, g.Add(h, g.SelfAttention(layer.SelfAttn, h, batchFirstInput: true)));
            h = g.Module(layer.Norm2, g.Add(h, FeedForward(g, layer, h)));
        }
        var y = batchFirst ? h : g.Transpose(h, 1, 0, 2);
        return y with { Sample = reference };
    }

    private static OnnxValue FeedForward(OnnxGraphBuilder g, TransformerEncoderLayer layer, OnnxValue x)
    {
        var hidden = g.Module(layer.Linear1, x);
        hidden = layer.Activation == TransformerActivation.Gelu ? OnnxLayerExport.Gelu(g, hidden, GeluApproximation.None) : g.Relu(hidden);
        return g.Module(layer.Linear2, hidden);
    }
}

public sealed partial class OnnxGraphBuilder
{
    /// <summary>
    /// Self-attention of <paramref name="attention"/> over <paramref name="x"/> without masks (eval mode): its Forward(x).Output.
    /// <paramref name="batchFirstInput"/> says whether x is [B, S, E] (else the module's own layout is used).
    /// </summary>
    public OnnxValue SelfAttention(MultiheadAttention attention, OnnxValue x, bool batchFirstInput = false)
    {
        ArgumentNullException.ThrowIfNull(attention);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3) throw new NotSupportedException($"ONNX export: MultiheadAttention needs a batched input of rank 3, got {Shapes.Format(x.Sample.ShapeArray)}");
        _scope.Add(_modulePaths.TryGetValue(attention, out var path) ? path : attention.TypeName);
        try
        {
            bool transpose = !batchFirstInput && !attention.BatchFirst;
            var xb = transpose ? Transpose(x, 1, 0, 2) : x;
            int e = attention.EmbedDim, heads = attention.NumHeads, hd = attention.HeadDim;
            var qkvSample = Tensor.Linear(xb.Sample, attention.InProjWeight.Detach(), attention.InProjBias?.Detach());
            var qkv = OnnxLayerExport.Linear(this, xb, attention.InProjWeight, attention.InProjBias, qkvSample);
            var parts = Split(qkv, 2, e, e, e);
            OnnxValue Heads(OnnxValue v, params int[] perm) => Transpose(Reshape(v, 0, 0, heads, hd), perm);
            var q = Div(Heads(parts[0], 0, 2, 1, 3), Scalar(Math.Sqrt(hd), x)); // [B, H, S, hd]
            var k = Heads(parts[1], 0, 2, 3, 1);                               // [B, H, hd, S]
            var v = Heads(parts[2], 0, 2, 1, 3);
            var weights = Softmax(MatMul(q, k), -1);
            var context = Reshape(Transpose(MatMul(weights, v), 0, 2, 1, 3), 0, 0, e);
            var output = Module(attention.OutProj, context);
            return transpose ? Transpose(output, 1, 0, 2) : output;
        }
        finally
        {
            _scope.RemoveAt(_scope.Count - 1);
        }
    }
}
