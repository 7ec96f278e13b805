using DeepSharp.Models;

namespace DeepSharp.Onnx;

/// <summary>
/// The GPT in eval mode from opset-17 primitives: token and position embeddings (Gather), pre-norm blocks of
/// LayerNormalization, causal self-attention (MatMul, an additive -inf mask above the diagonal, Softmax) and the GELU
/// MLP, the final norm and the output projection tied to the token embedding (MatMul with its transpose, so the
/// file holds that matrix once, as transformer.wte.weight). The sequence length is the sample's (at most the context);
/// the batch dimension stays dynamic.
/// </summary>
internal static class OnnxGptExport
{
    public static OnnxValue Model(OnnxGraphBuilder g, Gpt gpt, OnnxValue tokens)
    {
        if (tokens.Rank != 2 || tokens.Sample.DType != DType.Int64)
            throw new NotSupportedException($"ONNX export: a GPT takes int64 tokens [batch, time], got {tokens.Sample.Describe()}");
        int t = tokens.Shape[1];
        if (t < 1 || t > gpt.Config.Context)
            throw new NotSupportedException($"ONNX export: the sample's sequence length {t} must be between 1 and the context {gpt.Config.Context}");
        var transformer = gpt.Transformer;
        var positions = g.Constant(Tensor.From(Enumerable.Range(0, t).Select(i => (long)i).ToArray(), t), "positions");
        var x = g.Add(g.Module(transformer.Wte, tokens), g.Module(transformer.Wpe, positions)); // [B, T, C] + [T, C]
        x = g.Module(transformer.Drop, x);
        foreach (var block in transformer.H) x = g.Module(block, x);
        return g.Module(gpt.LmHead, g.Module(transformer.LnF, x));
    }

    public static OnnxValue Block(OnnxGraphBuilder g, GptBlock block, OnnxValue x)
    {
        x = g.Add(x, g.Module(block.Attn, g.Module(block.Ln1, x)));
        return g.Add(x, g.Module(block.Mlp, g.Module(block.Ln2, x)));
    }

    /// <summary>Causal multi-head attention of [B, T, C]: heads [B, H, T, D], scores scaled by 1/sqrt(D), masked, merged, c_proj.</summary>
    public static OnnxValue Attention(OnnxGraphBuilder g, CausalSelfAttention attention, OnnxValue x)
    {
        if (x.Rank != 3) throw new NotSupportedException($"ONNX export: CausalSelfAttention needs [batch, time, width], got {Shapes.Format(x.Sample.ShapeArray)}");
        int c = attention.Width, heads = attention.Heads, d = c / heads, t = x.Shape[1];
        var parts = g.Split(g.Module(attention.CAttn, x), 2, c, c, c);
        OnnxValue Heads(OnnxValue v, params int[] perm) => g.Transpose(g.Reshape(v, 0, 0, heads, d), perm);
        var q = Heads(parts[0], 0, 2, 1, 3);                                   // [B, H, T, D]
        var k = Heads(parts[1], 0, 2, 3, 1);                                   // [B, H, D, T]
        var v = Heads(parts[2], 0, 2, 1, 3);
        var scores = g.Div(g.MatMul(q, k), g.Scalar(Math.Sqrt(d), x));         // [B, H, T, T]
        var mask = new float[t * t];
        for (int i = 0; i < t; i++)
            for (int j = i + 1; j < t; j++) mask[i * t + j] = float.NegativeInfinity; // query i sees keys 0..i
        var masked = g.Add(scores, g.Constant(Tensor.From(mask, t, t).To(x.Sample.DType), "causal_mask"));
        var merged = g.Reshape(g.Transpose(g.MatMul(g.Softmax(masked, -1), v), 0, 2, 1, 3), 0, 0, c);
        return g.Module(attention.ResidDropout, g.Module(attention.CProj, merged));
    }

    public static OnnxValue Mlp(OnnxGraphBuilder g, GptMlp mlp, OnnxValue x) =>
        g.Module(mlp.Dropout, g.Module(mlp.CProj, g.Module(mlp.Gelu, g.Module(mlp.CFc, x))));

    public static OnnxValue LayerNorm(OnnxGraphBuilder g, GptLayerNorm ln, OnnxValue x)
    {
        int width = ln.Weight.ShapeArray[0];
        var bias = ln.Bias is null ? g.Constant(Tensor.Zeros([width], x.Sample.DType), "bias") : g.Initializer(ln.Bias);
        return g.Node("LayerNormalization", [x, g.Initializer(ln.Weight), bias], ln.Forward(x.Sample),
            OnnxAttribute.Int("axis", -1), OnnxAttribute.Float("epsilon", 1e-5));
    }

    /// <summary>x W^T with W shared with another layer: MatMul with a Transpose of the one initializer.</summary>
    public static OnnxValue TiedLinear(OnnxGraphBuilder g, TiedLinear linear, OnnxValue x) =>
        g.MatMul(x, g.Transpose(g.Initializer(linear.Weight), 1, 0)) with { Sample = linear.Forward(x.Sample) };
}
