namespace DeepSharp.NN;

/// <summary>
/// One Transformer encoder block (nn.TransformerEncoderLayer): self-attention then a position-wise
/// feed-forward network linear2(dropout(act(linear1(x)))), each with a residual connection and LayerNorm,
/// after the residual (post-norm, the default) or before the sublayer (normFirst). Submodules carry PyTorch's
/// names: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2, so state dicts match.
/// Input [S, B, E] (or [B, S, E] with batchFirst, or unbatched [S, E]); masks as <see cref="MultiheadAttention"/>
/// (true = not allowed).
/// </summary>
public sealed class TransformerEncoderLayer : Module<Tensor, Tensor>
{
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward = 2048, double dropout = 0.1, string activation = "relu",
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (activation is not ("relu" or "gelu"))
            throw new ArgumentException($"TransformerEncoderLayer: activation should be \"relu\" or \"gelu\", not \"{activation}\"");
        Activation = activation;
        NormFirst = normFirst;
        SelfAttn = RegisterModule("self_attn", new MultiheadAttention(dModel, nhead, dropout, bias: true, batchFirst, dtype, generator));
        Linear1 = RegisterModule("linear1", new Linear(dModel, dimFeedforward, bias: true, dtype, generator));
        Dropout = RegisterModule("dropout", new Dropout(dropout, generator));
        Linear2 = RegisterModule("linear2", new Linear(dimFeedforward, dModel, bias: true, dtype, generator));
        Norm1 = RegisterModule("norm1", new LayerNorm(dModel, layerNormEps, dtype: dtype));
        Norm2 = RegisterModule("norm2", new LayerNorm(dModel, layerNormEps, dtype: dtype));
        Dropout1 = RegisterModule("dropout1", new Dropout(dropout, generator));
        Dropout2 = RegisterModule("dropout2", new Dropout(dropout, generator));
        if (generator is not null) SelfAttn.Generator = generator;
    }

    public MultiheadAttention SelfAttn { get; }

    public Linear Linear1 { get; }

    public Dropout Dropout { get; }

    public Linear Linear2 { get; }

    /// <summary>LayerNorm over the last dim (weight and bias [d_model]).</summary>
    public LayerNorm Norm1 { get; }

    public LayerNorm Norm2 { get; }

    public Dropout Dropout1 { get; }

    public Dropout Dropout2 { get; }

    /// <summary>"relu" or "gelu" (exact, erf-based).</summary>
    public string Activation { get; }

    public bool NormFirst { get; }

    public override Tensor Forward(Tensor input) => Forward(input, null, null);

    /// <summary>
    /// Encodes <paramref name="src"/>; <paramref name="srcMask"/> [S, S] or [B*heads, S, S] and
    /// <paramref name="srcKeyPaddingMask"/> [B, S] are bool (true = not allowed) or additive float masks.
    /// </summary>
    public Tensor Forward(Tensor src, Tensor? srcMask, Tensor? srcKeyPaddingMask = null)
    {
        ArgumentNullException.ThrowIfNull(src);
        var x = src;
        if (NormFirst)
        {
            x = x + SelfAttentionBlock(Norm1.Call(x), srcMask, srcKeyPaddingMask);
            x = x + FeedForwardBlock(Norm2.Call(x));
        }
        else
        {
            x = Norm1.Call(x + SelfAttentionBlock(x, srcMask, srcKeyPaddingMask));
            x = Norm2.Call(x + FeedForwardBlock(x));
        }
        return x;
    }

    /// <summary>Forward through the hooks; the hooks see <paramref name="src"/> as the input.</summary>
    public Tensor Call(Tensor src, Tensor? srcMask, Tensor? srcKeyPaddingMask = null)
    {
        using var call = EnterCall();
        if (!HasHooks) return Forward(src, srcMask, srcKeyPaddingMask);
        RunForwardPreHooks(src);
        var output = Forward(src, srcMask, srcKeyPaddingMask);
        RunForwardHooks(src, output);
        return AttachBackwardHooks(output);
    }

    private Tensor SelfAttentionBlock(Tensor x, Tensor? mask, Tensor? keyPaddingMask) =>
        Dropout1.Call(SelfAttn.Call(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask).Output);

    private Tensor FeedForwardBlock(Tensor x)
    {
        var hidden = Linear1.Call(x);
        hidden = Activation == "gelu" ? hidden.Gelu() : hidden.Relu();
        return Dropout2.Call(Linear2.Call(Dropout.Call(hidden)));
    }
}
