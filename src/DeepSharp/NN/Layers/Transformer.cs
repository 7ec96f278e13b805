namespace DeepSharp.NN;

/// <summary>The activation inside a <see cref="TransformerEncoderLayer"/>'s feed-forward network (PyTorch's activation="relu" or "gelu").</summary>
public enum TransformerActivation
{
    /// <summary>max(0, x) (the default).</summary>
    Relu,
    /// <summary>The exact GELU x Phi(x).</summary>
    Gelu,
}

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
    /// <summary>An encoder block with PyTorch's defaults (feed-forward 2048, dropout 0.1, relu, post-norm, sequence-first).</summary>
    /// <param name="dModel">Model size E of the input features.</param>
    /// <param name="nhead">Number of attention heads; must divide <paramref name="dModel"/>.</param>
    /// <param name="dimFeedforward">Hidden size of the feed-forward network.</param>
    /// <param name="dropout">Dropout probability of the attention weights, inside the feed-forward network and after each sublayer.</param>
    /// <param name="activation">The feed-forward activation: Relu (default) or Gelu (exact, erf-based).</param>
    /// <param name="layerNormEps">Epsilon of both LayerNorms.</param>
    /// <param name="batchFirst">Input and output are [B, S, E] instead of [S, B, E].</param>
    /// <param name="normFirst">Pre-norm: LayerNorm before each sublayer rather than after the residual.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source of the initialisation and dropout masks (Generator.Default when null).</param>
    /// <exception cref="ArgumentOutOfRangeException">The activation is not a value of <see cref="TransformerActivation"/>.</exception>
    /// <exception cref="ArgumentException">The sizes do not fit (see <see cref="MultiheadAttention"/>).</exception>
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward = 2048, double dropout = 0.1, TransformerActivation activation = TransformerActivation.Relu,
        double layerNormEps = 1e-5, bool batchFirst = false, bool normFirst = false, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (activation is not (TransformerActivation.Relu or TransformerActivation.Gelu))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "TransformerEncoderLayer: activation should be TransformerActivation.Relu or TransformerActivation.Gelu");
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

    /// <summary>The self-attention sublayer (<c>self_attn</c>).</summary>
    public MultiheadAttention SelfAttn { get; }

    /// <summary>First feed-forward layer d_model -&gt; dim_feedforward (<c>linear1</c>).</summary>
    public Linear Linear1 { get; }

    /// <summary>Dropout after the activation inside the feed-forward network (<c>dropout</c>).</summary>
    public Dropout Dropout { get; }

    /// <summary>Second feed-forward layer dim_feedforward -&gt; d_model (<c>linear2</c>).</summary>
    public Linear Linear2 { get; }

    /// <summary>LayerNorm over the last dim (weight and bias [d_model]).</summary>
    public LayerNorm Norm1 { get; }

    /// <summary>LayerNorm of the feed-forward sublayer (weight and bias [d_model]).</summary>
    public LayerNorm Norm2 { get; }

    /// <summary>Dropout on the self-attention output before the residual add (<c>dropout1</c>).</summary>
    public Dropout Dropout1 { get; }

    /// <summary>Dropout on the feed-forward output before the residual add (<c>dropout2</c>).</summary>
    public Dropout Dropout2 { get; }

    /// <summary>The feed-forward activation: Relu or Gelu (exact, erf-based).</summary>
    public TransformerActivation Activation { get; }

    /// <summary>True for pre-norm (LayerNorm before each sublayer), false for post-norm (after the residual add).</summary>
    public bool NormFirst { get; }

    /// <summary>Encodes <paramref name="input"/> without masks; the output has the input's shape.</summary>
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
    public Tensor Call(Tensor src, Tensor? srcMask, Tensor? srcKeyPaddingMask = null) =>
        CallWithHooks(src, (Layer: this, srcMask, srcKeyPaddingMask), static (x, a) => a.Layer.Forward(x, a.srcMask, a.srcKeyPaddingMask));

    private Tensor SelfAttentionBlock(Tensor x, Tensor? mask, Tensor? keyPaddingMask) =>
        Dropout1.Call(SelfAttn.Call(x, x, x, keyPaddingMask, needWeights: false, attnMask: mask).Output);

    private Tensor FeedForwardBlock(Tensor x)
    {
        var hidden = Linear1.Call(x);
        hidden = Activation == TransformerActivation.Gelu ? hidden.Gelu() : hidden.Relu();
        return Dropout2.Call(Linear2.Call(Dropout.Call(hidden)));
    }
}
