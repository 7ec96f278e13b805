using System.Globalization;
using System.Runtime.CompilerServices;

namespace DeepSharp.NN;

/// <summary>
/// What an attention layer returns: <see cref="Output"/> (the context vectors) and <see cref="Weights"/>
/// (how much each query attended to each key; null when MultiheadAttention is asked for no weights).
/// Deconstructs as <c>var (context, weights) = attention.Forward(q, k, v);</c>.
/// </summary>
public sealed record AttentionOutput(Tensor Output, Tensor? Weights) : ITuple
{
    private Tensor? _weights = Weights;
    private Func<Tensor>? _computeWeights;

    /// <summary>
    /// Weights computed on first read (the fused scaled dot-product attention never forms them): the function runs
    /// once.
    /// </summary>
    internal AttentionOutput(Tensor output, Func<Tensor> computeWeights) : this(output, (Tensor?)null) => _computeWeights = computeWeights;

    /// <summary>The attention weights; for the fused scaled dot-product attention computed on first read (from the query and key as they are then).</summary>
    public Tensor? Weights
    {
        get
        {
            if (_computeWeights is { } compute)
            {
                _weights = compute();
                _computeWeights = null;
            }
            return _weights;
        }
        init
        {
            _weights = value;
            _computeWeights = null;
        }
    }

    int ITuple.Length => 2;

    object? ITuple.this[int index] => index switch
    {
        0 => Output,
        1 => Weights,
        _ => throw new ArgumentOutOfRangeException(nameof(index), "AttentionOutput has 2 items"),
    };
}

/// <summary>
/// Attention of an encoder-decoder: each query (decoder state) scores every key (encoder output), the
/// scores are softmaxed over the keys and weight the values: context = softmax(score(q, k)) v.
/// Shapes: query [B, L, Dq] (or one step [B, Dq]), keys [B, S, Dk], values [B, S, Dv] (the keys when null);
/// returns context [B, L, Dv] and weights [B, L, S] (or [B, Dv] and [B, S] for one step).
/// <c>mask</c> (bool, [B, S] or [B, L, S]) is true at key positions to IGNORE, such as padding
/// (MultiheadAttention's key_padding_mask convention). Forward(x) is self-attention (query = keys = values = x).
/// </summary>
public abstract class AttentionBase : Module<Tensor, AttentionOutput>
{
    /// <summary>Scores [B, L, S] for queries [B, L, Dq] and keys [B, S, Dk].</summary>
    private protected abstract Tensor Scores(Tensor query, Tensor keys);

    /// <summary>Self-attention: <paramref name="input"/> is the query, the keys and the values.</summary>
    public override AttentionOutput Forward(Tensor input) => Forward(input, input);

    /// <summary>
    /// Attends <paramref name="query"/> [B, L, Dq] (or one step [B, Dq]) over <paramref name="keys"/> [B, S, Dk];
    /// <paramref name="values"/> [B, S, Dv] default to the keys. <paramref name="mask"/> (bool, [B, S] or [B, L, S]) is true
    /// at key positions to ignore. Returns context [B, L, Dv] and weights [B, L, S] (without the L dim for one step).
    /// Call <see cref="Call(Tensor, Tensor, Tensor, Tensor)"/> instead to run the hooks.
    /// </summary>
    /// <exception cref="ArgumentException">The ranks, batch sizes, feature sizes or mask do not fit.</exception>
    public AttentionOutput Forward(Tensor query, Tensor keys, Tensor? values = null, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(keys);
        string op = TypeName;
        if (query.Rank is not (2 or 3)) throw new ArgumentException($"{op}: query must be [B, L, Dq] or one step [B, Dq], got {Shapes.Format(query.ShapeArray)}");
        if (keys.Rank != 3) throw new ArgumentException($"{op}: keys must be [B, S, Dk], got {Shapes.Format(keys.ShapeArray)}");
        values ??= keys;
        int batch = keys.ShapeArray[0], s = keys.ShapeArray[1];
        if (query.ShapeArray[0] != batch || values.Rank != 3 || values.ShapeArray[0] != batch || values.ShapeArray[1] != s)
            throw new ArgumentException($"{op}: query {Shapes.Format(query.ShapeArray)}, keys {Shapes.Format(keys.ShapeArray)} and values {Shapes.Format(values.ShapeArray)} must share the batch size, and keys and values the length S");
        bool single = query.Rank == 2;
        var q = single ? query.Unsqueeze(1) : query;
        var scores = Scores(q, keys); // [B, L, S]
        if (mask is not null)
        {
            int l = q.ShapeArray[1];
            bool ok = mask.DType == DType.Bool && (mask.ShapeArray.AsSpan().SequenceEqual([batch, s]) || mask.ShapeArray.AsSpan().SequenceEqual([batch, l, s]));
            if (!ok) throw new ArgumentException($"{op}: mask must be bool [B, S] = [{batch}, {s}] or [B, L, S] = [{batch}, {l}, {s}] (true = ignore), got {mask.Describe()}");
            scores = scores.MaskedFill(mask.Rank == 2 ? mask.Unsqueeze(1) : mask, double.NegativeInfinity);
        }
        var weights = scores.Softmax(-1);
        var context = weights.MatMul(values);
        return single ? new AttentionOutput(context.Squeeze(1), weights.Squeeze(1)) : new AttentionOutput(context, weights);
    }

    /// <summary>Forward through the hooks; the hooks see <paramref name="query"/> as the input.</summary>
    public AttentionOutput Call(Tensor query, Tensor keys, Tensor? values = null, Tensor? mask = null) =>
        CallWithHooks(query, (Layer: this, keys, values, mask), static (q, a) => a.Layer.Forward(q, a.keys, a.values, a.mask));

    private protected static void CheckFeatures(string op, string name, Tensor t, int expected)
    {
        if (t.ShapeArray[^1] != expected)
            throw new ArgumentException($"{op}: {name} must have {expected} features in its last dim, got {Shapes.Format(t.ShapeArray)}");
    }
}

/// <summary>
/// Bahdanau (additive) attention: score(q, k) = v^T tanh(W_q q + W_k k). Parameters: <c>w_q.weight</c>
/// [hidden, Dq], <c>w_k.weight</c> [hidden, Dk], <c>v.weight</c> [1, hidden] (bias-free Linear layers with
/// PyTorch's default init). See <see cref="AttentionBase"/> for shapes and the mask.
/// </summary>
public sealed class AdditiveAttention : AttentionBase
{
    /// <summary>Additive attention with queries of <paramref name="queryDim"/> features, keys of <paramref name="keyDim"/> and a hidden layer of <paramref name="hiddenDim"/>.</summary>
    /// <exception cref="ArgumentException">A dim is not positive.</exception>
    public AdditiveAttention(int queryDim, int keyDim, int hiddenDim, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (queryDim <= 0 || keyDim <= 0 || hiddenDim <= 0)
            throw new ArgumentException($"AdditiveAttention: dims must be positive, got query {queryDim}, key {keyDim}, hidden {hiddenDim}");
        Wq = RegisterModule("w_q", new Linear(queryDim, hiddenDim, bias: false, dtype, generator));
        Wk = RegisterModule("w_k", new Linear(keyDim, hiddenDim, bias: false, dtype, generator));
        V = RegisterModule("v", new Linear(hiddenDim, 1, bias: false, dtype, generator));
    }

    /// <summary>W_q, projecting queries to the hidden size (<c>w_q</c>, weight [hidden, Dq]).</summary>
    public Linear Wq { get; }

    /// <summary>W_k, projecting keys to the hidden size (<c>w_k</c>, weight [hidden, Dk]).</summary>
    public Linear Wk { get; }

    /// <summary>v, reducing the tanh features to one score (<c>v</c>, weight [1, hidden]).</summary>
    public Linear V { get; }

    private protected override Tensor Scores(Tensor query, Tensor keys)
    {
        CheckFeatures(TypeName, "query", query, Wq.InFeatures);
        CheckFeatures(TypeName, "keys", keys, Wk.InFeatures);
        // [B, L, 1, h] + [B, 1, S, h] -> [B, L, S, h] -> v -> [B, L, S]
        var features = (Wq.Call(query).Unsqueeze(2) + Wk.Call(keys).Unsqueeze(1)).Tanh();
        return V.Call(features).Squeeze(-1);
    }
}

/// <summary>How <see cref="LuongAttention"/> scores a query against a key.</summary>
public enum LuongScore
{
    /// <summary>q^T k (query and key sizes must match; no parameters).</summary>
    Dot,

    /// <summary>q^T W k with a learned W [Dq, Dk] (parameter <c>w.weight</c>).</summary>
    General,
}

/// <summary>
/// Luong (multiplicative) attention: score = q^T k ("dot") or q^T W k ("general"). See
/// <see cref="AttentionBase"/> for shapes and the mask.
/// </summary>
public sealed class LuongAttention : AttentionBase
{
    /// <summary>Luong attention with the given score for queries of <paramref name="queryDim"/> and keys of <paramref name="keyDim"/> features.</summary>
    /// <exception cref="ArgumentException">A dim is not positive, or <see cref="LuongScore.Dot"/> is asked for with different sizes.</exception>
    public LuongAttention(LuongScore score, int queryDim, int keyDim, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (queryDim <= 0 || keyDim <= 0) throw new ArgumentException($"LuongAttention: dims must be positive, got query {queryDim}, key {keyDim}");
        if (score == LuongScore.Dot && queryDim != keyDim)
            throw new ArgumentException($"LuongAttention: dot scores need equal query and key sizes, got {queryDim} and {keyDim}; use LuongScore.General");
        Score = score;
        QueryDim = queryDim;
        KeyDim = keyDim;
        // W k as a bias-free Linear(Dk -> Dq): its weight [Dq, Dk] is the W of q^T W k.
        if (score == LuongScore.General) W = RegisterModule("w", new Linear(keyDim, queryDim, bias: false, dtype, generator));
    }

    /// <summary>The score function, dot or general.</summary>
    public LuongScore Score { get; }

    /// <summary>Features of a query (Dq).</summary>
    public int QueryDim { get; }

    /// <summary>Features of a key (Dk).</summary>
    public int KeyDim { get; }

    /// <summary>The "general" score's matrix (null for dot scores).</summary>
    public Linear? W { get; }

    private protected override Tensor Scores(Tensor query, Tensor keys)
    {
        CheckFeatures(TypeName, "query", query, QueryDim);
        CheckFeatures(TypeName, "keys", keys, KeyDim);
        var k = W is null ? keys : W.Call(keys);
        return query.MatMul(k.Transpose(1, 2));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => $"score={Score.ToString().ToLowerInvariant()}, query_dim={QueryDim.ToString(CultureInfo.InvariantCulture)}, key_dim={KeyDim.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// Multi-head attention (nn.MultiheadAttention): queries, keys and values are projected by one packed
/// <c>in_proj_weight</c> [3E, E] (+ <c>in_proj_bias</c> [3E]), split into <see cref="NumHeads"/> heads of
/// E/heads features, attended with softmax(q k^T / sqrt(E/heads) + masks), merged and projected by
/// <c>out_proj</c>. Inputs are [L, B, E] (or [B, L, E] with batchFirst, or unbatched [L, E]).
/// Masks follow PyTorch's module: <c>keyPaddingMask</c> [B, S] and <c>attnMask</c> [L, S] or [B*heads, L, S]
/// are bool (true = NOT allowed to attend) or float (added to the scores); both may be given and add up.
/// Returns the output and, with needWeights, the weights [B, L, S] averaged over heads (or [B, heads, L, S]).
/// Init as PyTorch: Xavier-uniform in_proj_weight, zero biases, out_proj.weight as a Linear.
/// </summary>
public sealed class MultiheadAttention : Module<Tensor, AttentionOutput>
{
    /// <summary>Multi-head attention over <paramref name="embedDim"/> features split into <paramref name="numHeads"/> heads (torch.nn.MultiheadAttention).</summary>
    /// <param name="embedDim">Model size E; must be divisible by <paramref name="numHeads"/>.</param>
    /// <param name="numHeads">Number of parallel heads.</param>
    /// <param name="dropout">Dropout probability on the attention weights in training mode.</param>
    /// <param name="bias">Whether the input and output projections have biases.</param>
    /// <param name="batchFirst">Inputs and outputs are [B, L, E] instead of [L, B, E].</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source of the initialisation (Generator.Default when null).</param>
    /// <exception cref="ArgumentException">The sizes are not positive, E is not divisible by the heads, or dropout is outside [0, 1].</exception>
    public MultiheadAttention(int embedDim, int numHeads, double dropout = 0, bool bias = true, bool batchFirst = false,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        if (embedDim <= 0 || numHeads <= 0 || embedDim % numHeads != 0)
            throw new ArgumentException($"MultiheadAttention: embed_dim {embedDim} must be positive and divisible by num_heads {numHeads}");
        if (!(dropout >= 0 && dropout <= 1)) throw new ArgumentException($"MultiheadAttention: dropout has to be between 0 and 1, got {dropout}");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        Dropout = dropout;
        BatchFirst = batchFirst;
        InProjWeight = RegisterParameter("in_proj_weight", Tensor.Zeros([3 * embedDim, embedDim], dtype));
        if (bias) InProjBias = RegisterParameter("in_proj_bias", Tensor.Zeros([3 * embedDim], dtype));
        OutProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, bias, dtype, generator));
        ResetParameters(generator);
    }

    /// <summary>Model size E of queries and outputs.</summary>
    public int EmbedDim { get; }

    /// <summary>Number of heads.</summary>
    public int NumHeads { get; }

    /// <summary>Features per head, E / heads.</summary>
    public int HeadDim => EmbedDim / NumHeads;

    /// <summary>Dropout probability on the attention weights in training mode.</summary>
    public double Dropout { get; }

    /// <summary>True when inputs and outputs are [B, L, E] rather than [L, B, E].</summary>
    public bool BatchFirst { get; }

    /// <summary>Rows 0..E-1 project queries, E..2E-1 keys, 2E..3E-1 values.</summary>
    public Tensor InProjWeight { get; }

    /// <summary>The packed projection bias [3E] (<c>in_proj_bias</c>), or null without bias.</summary>
    public Tensor? InProjBias { get; }

    /// <summary>The output projection E -&gt; E (<c>out_proj</c>).</summary>
    public Linear OutProj { get; }

    /// <summary>Random source of the attention dropout masks (Generator.Default when null).</summary>
    public Generator? Generator { get; set; }

    /// <summary>Xavier-uniform in_proj_weight, zero in_proj_bias and out_proj.bias (out_proj.weight keeps Linear's init).</summary>
    public void ResetParameters(Generator? generator = null)
    {
        OutProj.ResetParameters(generator);
        Init.XavierUniform(InProjWeight, generator: generator);
        if (InProjBias is not null) Init.Zeros(InProjBias);
        if (OutProj.Bias is not null) Init.Zeros(OutProj.Bias);
    }

    /// <summary>Self-attention: query = key = value = <paramref name="input"/>.</summary>
    public override AttentionOutput Forward(Tensor input) => Forward(input, input, input);

    /// <summary>Attention of <paramref name="query"/> over <paramref name="key"/>/<paramref name="value"/> (PyTorch's argument order).</summary>
    public AttentionOutput Forward(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null, bool needWeights = true,
        Tensor? attnMask = null, bool averageAttnWeights = true)
    {
        using var call = EnterCall();
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        const string op = "MultiheadAttention";
        bool selfAttention = ReferenceEquals(query, key) && ReferenceEquals(key, value);
        bool sharedKv = ReferenceEquals(key, value);
        if (query.Rank is not (2 or 3) || key.Rank != query.Rank || value.Rank != query.Rank)
            throw new ArgumentException($"{op}: query, key and value must all be 3-D (batched) or all 2-D (unbatched), got {Shapes.Format(query.ShapeArray)}, {Shapes.Format(key.ShapeArray)} and {Shapes.Format(value.ShapeArray)}");
        bool batched = query.Rank == 3;
        if (!batched)
        {
            query = query.Unsqueeze(1);
            key = key.Unsqueeze(1);
            value = value.Unsqueeze(1);
            if (keyPaddingMask is not null)
            {
                if (keyPaddingMask.Rank != 1) throw new ArgumentException($"{op}: for unbatched input key_padding_mask must be 1-D [S], got {Shapes.Format(keyPaddingMask.ShapeArray)}");
                keyPaddingMask = keyPaddingMask.Unsqueeze(0);
            }
        }
        else if (BatchFirst)
        {
            query = query.Transpose(0, 1);
            key = key.Transpose(0, 1);
            value = value.Transpose(0, 1);
        }
        int l = query.ShapeArray[0], batch = query.ShapeArray[1], e = EmbedDim, heads = NumHeads, hd = HeadDim;
        int s = key.ShapeArray[0];
        if (query.ShapeArray[2] != e || key.ShapeArray[2] != e || value.ShapeArray[2] != e)
            throw new ArgumentException($"{op}: expected embedding size {e} in query, key and value, got {Shapes.Format(query.ShapeArray)}, {Shapes.Format(key.ShapeArray)} and {Shapes.Format(value.ShapeArray)}");
        if (key.ShapeArray[1] != batch || value.ShapeArray[1] != batch || value.ShapeArray[0] != s)
            throw new ArgumentException($"{op}: key {Shapes.Format(key.ShapeArray)} and value {Shapes.Format(value.ShapeArray)} must have the same length and the query's batch size {batch}");

        // In-projection: one GEMM for self-attention, else per role with row blocks of the packed weight.
        Tensor q, k, v;
        if (selfAttention)
        {
            var qkv = Tensor.Linear(query, InProjWeight, InProjBias).Chunk(3, -1);
            (q, k, v) = (qkv[0], qkv[1], qkv[2]);
        }
        else
        {
            q = Tensor.Linear(query, InProjWeight.Narrow(0, 0, e), InProjBias?.Narrow(0, 0, e));
            if (sharedKv)
            {
                var kv = Tensor.Linear(key, InProjWeight.Narrow(0, e, 2 * e), InProjBias?.Narrow(0, e, 2 * e)).Chunk(2, -1);
                (k, v) = (kv[0], kv[1]);
            }
            else
            {
                k = Tensor.Linear(key, InProjWeight.Narrow(0, e, e), InProjBias?.Narrow(0, e, e));
                v = Tensor.Linear(value, InProjWeight.Narrow(0, 2 * e, e), InProjBias?.Narrow(0, 2 * e, e));
            }
        }
        // [L, B, E] -> [B*heads, L, hd]
        q = q.Reshape(l, batch * heads, hd).Transpose(0, 1).Div(Math.Sqrt(hd));
        k = k.Reshape(s, batch * heads, hd).Transpose(0, 1);
        v = v.Reshape(s, batch * heads, hd).Transpose(0, 1);

        var scores = q.Bmm(k.Transpose(1, 2)); // [B*heads, L, S]
        var mask = MergedMask(op, attnMask, keyPaddingMask, query.DType, batch, l, s);
        if (mask is not null) scores = scores + mask;
        var weights = scores.Softmax(-1);
        if (Training && Dropout > 0) weights = Functional.Dropout(weights, Dropout, true, Generator);
        var context = weights.Bmm(v).Transpose(0, 1).Reshape(l * batch, e); // [L*B, E]
        var output = OutProj.Call(context).View(l, batch, e);

        Tensor? returned = null;
        if (needWeights)
        {
            returned = weights.View(batch, heads, l, s);
            if (averageAttnWeights) returned = returned.Sum(1).Div(heads);
        }
        if (!batched) return new AttentionOutput(output.Squeeze(1), returned?.Squeeze(0));
        return new AttentionOutput(BatchFirst ? output.Transpose(0, 1) : output, returned);
    }

    /// <summary>Forward through the hooks; the hooks see <paramref name="query"/> as the input.</summary>
    public AttentionOutput Call(Tensor query, Tensor key, Tensor value, Tensor? keyPaddingMask = null, bool needWeights = true,
        Tensor? attnMask = null, bool averageAttnWeights = true) =>
        CallWithHooks(query, (Layer: this, key, value, keyPaddingMask, needWeights, attnMask, averageAttnWeights),
            static (q, a) => a.Layer.Forward(q, a.key, a.value, a.keyPaddingMask, a.needWeights, a.attnMask, a.averageAttnWeights));

    /// <summary>attn_mask and key_padding_mask as one additive mask broadcastable to [B*heads, L, S].</summary>
    private Tensor? MergedMask(string op, Tensor? attnMask, Tensor? keyPaddingMask, DType dtype, int batch, int l, int s)
    {
        Tensor? merged = null;
        if (attnMask is not null)
        {
            bool ok = attnMask.ShapeArray.AsSpan().SequenceEqual([l, s]) || attnMask.ShapeArray.AsSpan().SequenceEqual([batch * NumHeads, l, s]);
            if (!ok) throw new ArgumentException($"{op}: attn_mask must be [L, S] = [{l}, {s}] or [B*num_heads, L, S] = [{batch * NumHeads}, {l}, {s}], got {Shapes.Format(attnMask.ShapeArray)}");
            merged = Functional.AdditiveMask(op, attnMask, dtype, allowedWhereTrue: false);
        }
        if (keyPaddingMask is not null)
        {
            if (!keyPaddingMask.ShapeArray.AsSpan().SequenceEqual([batch, s]))
                throw new ArgumentException($"{op}: key_padding_mask must be [B, S] = [{batch}, {s}], got {Shapes.Format(keyPaddingMask.ShapeArray)}");
            var padding = Functional.AdditiveMask(op, keyPaddingMask, dtype, allowedWhereTrue: false)
                .View(batch, 1, 1, s).Expand(batch, NumHeads, 1, s).Reshape(batch * NumHeads, 1, s);
            merged = merged is null ? padding : merged + padding;
        }
        return merged;
    }
}
