using System.Globalization;
using System.Text.Json;
using DeepSharp.Data.Text;
using DeepSharp.Kernels;
using DeepSharp.NN;
using DeepSharp.Serialization;

namespace DeepSharp.Models;

/// <summary>
/// Sizes of a <see cref="Gpt"/> (nanoGPT's GPTConfig); stored as JSON in the metadata of saved weights.
/// </summary>
/// <param name="VocabSize">Number of distinct tokens (65 characters for tinyshakespeare, 50257 for the GPT-2 tokenizer).</param>
/// <param name="Layers">Transformer blocks (n_layer).</param>
/// <param name="Heads">Attention heads per block (n_head); <paramref name="Width"/> must be a multiple of it.</param>
/// <param name="Width">Embedding width (n_embd).</param>
/// <param name="Context">Longest sequence the model sees (block_size): the size of the position table.</param>
/// <param name="Dropout">Dropout on the embeddings, the attention weights and each residual branch (training only).</param>
/// <param name="Bias">Biases in the linear layers and layer norms (GPT-2 has them).</param>
public sealed record GptConfig(int VocabSize, int Layers = 4, int Heads = 4, int Width = 128, int Context = 128, double Dropout = 0, bool Bias = true)
{
    /// <summary>The zoo name.</summary>
    public const string ModelName = "gpt";

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid size.</summary>
    public void Validate()
    {
        if (VocabSize <= 0) throw new ArgumentException($"Gpt: vocab size must be positive, got {VocabSize}");
        if (Layers <= 0) throw new ArgumentException($"Gpt: layers must be positive, got {Layers}");
        if (Heads <= 0) throw new ArgumentException($"Gpt: heads must be positive, got {Heads}");
        if (Width <= 0) throw new ArgumentException($"Gpt: width must be positive, got {Width}");
        if (Width % Heads != 0) throw new ArgumentException($"Gpt: width {Width} is not divisible by heads {Heads} (each head gets width/heads channels)");
        if (Context <= 0) throw new ArgumentException($"Gpt: context must be positive, got {Context}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"Gpt: dropout must be in [0, 1), got {Dropout}");
    }

    /// <summary>The configuration as JSON (snake_case keys), as stored in the weights' metadata.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ModelsJson.Default.GptConfig);

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The JSON is <c>null</c>.</exception>
    public static GptConfig FromJson(string json) =>
        JsonSerializer.Deserialize(json, ModelsJson.Default.GptConfig) ?? throw new InvalidDataException("Gpt: empty model configuration JSON");
}

/// <summary>
/// A decoder-only Transformer language model, laid out as nanoGPT's (and GPT-2's): token and position embeddings,
/// <see cref="GptConfig.Layers"/> pre-LayerNorm blocks x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)) with causal
/// self-attention (one fused c_attn projection to q, k, v, then c_proj) and an MLP C -> 4C -> GELU(tanh) -> C,
/// a final LayerNorm and an output projection whose weight is the token embedding (tied: one tensor, updated once).
/// Forward maps int64 tokens [B, T] (T &lt;= context) to next-token logits [B, T, V].
/// <para>
/// State-dict keys are nanoGPT's: <c>transformer.wte.weight</c>, <c>transformer.wpe.weight</c>,
/// <c>transformer.h.{i}.ln_1.weight</c>/<c>.bias</c>, <c>transformer.h.{i}.attn.c_attn.weight</c>/<c>.bias</c>,
/// <c>transformer.h.{i}.attn.c_proj.*</c>, <c>transformer.h.{i}.ln_2.*</c>, <c>transformer.h.{i}.mlp.c_fc.*</c>,
/// <c>transformer.h.{i}.mlp.c_proj.*</c>, <c>transformer.ln_f.*</c> and <c>lm_head.weight</c> (the same tensor as
/// <c>transformer.wte.weight</c>; both keys are in the state dict, as in PyTorch, and <see cref="Module.Parameters"/>
/// lists it once). Initialisation is nanoGPT's: N(0, 0.02) for linear and embedding weights, zero biases, and
/// N(0, 0.02/sqrt(2 layers)) for the c_proj weights that feed the residual stream.
/// </para>
/// </summary>
public sealed class Gpt : Module<Tensor, Tensor>
{
    /// <summary>Builds the model for <paramref name="config"/> with nanoGPT's initialisation.</summary>
    /// <param name="config">Vocabulary and sizes; validated first.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights and of dropout masks; null uses the default generator.</param>
    /// <exception cref="ArgumentException">The configuration is invalid.</exception>
    public Gpt(GptConfig config, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Transformer = RegisterModule("transformer", new GptTransformer(config, dtype, generator));
        LmHead = RegisterModule("lm_head", new TiedLinear(Transformer.Wte.Weight));
        ResetParameters(generator);
    }

    /// <summary>For the model zoo: <see cref="ModelOptions.NumClasses"/> is the vocabulary size; the other sizes are <see cref="GptConfig"/>'s defaults.</summary>
    public static Gpt Create(ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Gpt(new GptConfig(options.NumClasses), options.DType, options.Generator);
    }

    /// <summary>The sizes the model was built with.</summary>
    public GptConfig Config { get; }

    /// <summary>wte, wpe, drop, h (the blocks) and ln_f.</summary>
    public GptTransformer Transformer { get; }

    /// <summary>The output projection; its weight is <c>Transformer.Wte.Weight</c>.</summary>
    public TiedLinear LmHead { get; }

    /// <summary>Turns text into token ids and back (saved with the weights by name; needed by <see cref="Sample"/>).</summary>
    public ITextTokenizer? Tokenizer { get; set; }

    /// <inheritdoc/>
    public override string TypeName => "GPT";

    /// <summary>Re-draws every parameter with nanoGPT's initialisation (layer norms: weight 1, bias 0).</summary>
    public void ResetParameters(Generator? generator = null)
    {
        double projStd = 0.02 / Math.Sqrt(2 * Config.Layers);
        foreach (var (name, p) in NamedParameters())
        {
            if (name.EndsWith("c_proj.weight", StringComparison.Ordinal)) Init.Normal(p, 0, projStd, generator);
            else if (name.Contains(".ln_", StringComparison.Ordinal)) Init.Constant(p, name.EndsWith(".weight", StringComparison.Ordinal) ? 1 : 0);
            else if (p.Rank >= 2) Init.Normal(p, 0, 0.02, generator);
            else Init.Zeros(p);
        }
    }

    /// <summary>Logits [B, T, V] for int64 tokens [B, T] with 1 &lt;= T &lt;= context.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null, lastOnly: false);

    /// <summary>
    /// Logits for tokens [B, T]. With a <paramref name="cache"/>, the tokens continue the ones already in it (their
    /// positions start at <see cref="GptKvCache.Length"/>), their keys and values are appended to it, and attention
    /// reads the whole cache: the prefix is never recomputed. <paramref name="lastOnly"/> returns the logits of the
    /// last position only, [B, 1, V] (what generation needs; saves the largest matrix product for big vocabularies).
    /// </summary>
    public Tensor Forward(Tensor tokens, GptKvCache? cache, bool lastOnly = false)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Rank != 2 || tokens.DType != DType.Int64)
            throw new ArgumentException($"Gpt: expected int64 tokens [batch, time], got {tokens.Describe()}");
        int b = tokens.ShapeArray[0], t = tokens.ShapeArray[1];
        int start = cache?.Length ?? 0;
        if (t == 0) throw new ArgumentException("Gpt: the token sequence is empty");
        if (start + t > Config.Context)
            throw new ArgumentException(cache is null
                ? $"Gpt: cannot forward a sequence of length {t}, the context is only {Config.Context} tokens (crop the input to its last {Config.Context} tokens)"
                : $"Gpt: the cache holds {start} tokens; {t} more exceed the context of {Config.Context} (reset the cache and start from the last tokens)");
        if (cache is not null) cache.Check(this, b);
        using var call = EnterCall();
        var x = Transformer.Embed(tokens, start);                        // [B, T, C]
        for (int i = 0; i < Transformer.H.Count; i++)
            x = cache is null ? Transformer.H[i].Call(x) : Transformer.H[i].Forward(x, cache.Layer(i), start); // Call: hooks see the blocks
        if (lastOnly && t > 1) x = x.Narrow(1, t - 1, 1);                 // [B, 1, C]
        x = Transformer.LnF.Call(x);
        cache?.Advance(t);
        return LmHead.Call(x);                                           // [B, T or 1, V]
    }

    /// <summary>
    /// What every head of every block attends to for one sequence of int64 <paramref name="tokens"/> [T] (1 &lt;= T
    /// &lt;= context): per block a tensor [H, T, T] whose row i holds query i's weights over keys 0..i (zero above the
    /// diagonal), computed in eval mode without gradients. The insight report draws them.
    /// </summary>
    public IReadOnlyList<Tensor> AttentionMaps(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Rank != 1 || tokens.DType != DType.Int64 || tokens.Numel == 0 || tokens.Numel > Config.Context)
            throw new ArgumentException($"Gpt.AttentionMaps: expected int64 tokens [T] with 1 <= T <= {Config.Context}, got {tokens.Describe()}");
        bool training = Training;
        Eval();
        try
        {
            using var _ = Autograd.NoGrad();
            var x = Transformer.Embed(tokens.Unsqueeze(0), 0);                  // [1, T, C]
            var maps = new List<Tensor>();
            foreach (var block in Transformer.H)
            {
                maps.Add(block.Attn.Weights(block.Ln1.Call(x))[0].Contiguous()); // [H, T, T]
                x = block.Call(x);
            }
            return maps;
        }
        finally
        {
            Train(training);
        }
    }

    /// <summary>An empty key/value cache for <paramref name="batch"/> sequences of up to <see cref="GptConfig.Context"/> tokens.</summary>
    public GptKvCache CreateCache(int batch = 1) => new(this, batch);

    // ---- generation ----

    /// <summary>
    /// Continues <paramref name="prompt"/> by up to <paramref name="maxNewTokens"/> tokens, yielding each as soon as it
    /// is drawn (streaming), in eval mode without gradients. With <paramref name="useCache"/> (the default) the prompt
    /// runs through the network once and every later step feeds only the new token, reading the keys and values of
    /// the earlier ones from a <see cref="GptKvCache"/>. When the context is full the window slides: the cache is
    /// refilled from the last context/2 tokens (one recomputation every context/2 tokens; positions restart with the
    /// window, as nanoGPT's cropping does). Without the cache every step recomputes the last context tokens
    /// (nanoGPT's generate): the reference the cache must agree with. Prompts longer than the context keep their
    /// last context tokens.
    /// </summary>
    public IEnumerable<long> Generate(long[] prompt, int maxNewTokens, SamplingOptions? options, Generator generator, bool useCache = true)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(generator);
        options ??= new SamplingOptions();
        options.Validate();
        if (prompt.Length == 0) throw new ArgumentException("Gpt.Generate: the prompt must hold at least one token");
        if (maxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxNewTokens), maxNewTokens, "Gpt.Generate: the number of new tokens must be non-negative");
        foreach (long id in prompt)
            if ((ulong)id >= (ulong)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(prompt), $"Gpt.Generate: token {id} is outside the vocabulary [0, {Config.VocabSize})");
        return GenerateIterator(prompt, maxNewTokens, options, generator, useCache);
    }

    private IEnumerable<long> GenerateIterator(long[] prompt, int maxNewTokens, SamplingOptions options, Generator generator, bool useCache)
    {
        if (maxNewTokens == 0) yield break;
        bool wasTraining = Training;
        Eval();
        try
        {
            var sequence = new List<long>(prompt);
            int context = Config.Context;
            var cache = useCache ? CreateCache(1) : null;
            float[] row = NextLogits(Window(sequence, context), cache);
            for (int i = 0; i < maxNewTokens; i++)
            {
                long next = Sampling.Sample(row, options, generator);
                sequence.Add(next);
                yield return next;
                if (i == maxNewTokens - 1) break;
                if (cache is null) row = NextLogits(Window(sequence, context), null);
                else if (cache.Length < context) row = NextLogits([next], cache);
                else
                {
                    cache.Reset();
                    row = NextLogits(Window(sequence, Math.Max(1, context / 2)), cache);
                }
            }
        }
        finally
        {
            Train(wasTraining);
        }
    }

    private static long[] Window(List<long> sequence, int size)
    {
        int n = Math.Min(size, sequence.Count);
        return sequence.GetRange(sequence.Count - n, n).ToArray();
    }

    /// <summary>The logits after the last of <paramref name="tokens"/> (appended to <paramref name="cache"/> when given), as floats.</summary>
    private float[] NextLogits(long[] tokens, GptKvCache? cache)
    {
        using var _ = Autograd.NoGrad();
        var logits = Forward(Tensor.From(tokens, 1, tokens.Length), cache, lastOnly: true);
        return Sampling.Row(logits.Reshape(-1));
    }

    /// <summary>
    /// <paramref name="prompt"/> followed by <paramref name="length"/> generated tokens, decoded with <see cref="Tokenizer"/>;
    /// <paramref name="onText"/> receives the text as it grows (streaming), piece by piece. An empty prompt starts from
    /// a newline. Temperature 0 is greedy; <paramref name="seed"/> makes the draw reproducible.
    /// </summary>
    public string Sample(string prompt, int length, SamplingOptions? options = null, ulong seed = 0, Action<string>? onText = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("Gpt.Sample: the model has no Tokenizer; set it (its name is saved with the weights) or use Generate");
        var ids = tokenizer.Encode(prompt.Length > 0 ? prompt : "\n");
        if (ids.Length == 0) throw new ArgumentException("Gpt.Sample: the prompt encodes to no tokens");
        var generated = new List<long>();
        string emitted = "";
        foreach (long id in Generate(ids, length, options, new Generator(seed)))
        {
            generated.Add(id);
            if (onText is null) continue;
            // Decode everything so far and emit what is new; a subword may end inside a multi-byte character
            // (shown as U+FFFD until the rest arrives), so such a tail waits for the next token.
            string text = tokenizer.Decode(generated.ToArray());
            if (text.Length > emitted.Length && text.StartsWith(emitted, StringComparison.Ordinal) && !text.EndsWith('\uFFFD'))
            {
                onText(text[emitted.Length..]);
                emitted = text;
            }
        }
        string all = tokenizer.Decode(generated.ToArray());
        if (onText is not null && all.Length > emitted.Length && all.StartsWith(emitted, StringComparison.Ordinal)) onText(all[emitted.Length..]);
        return prompt + all;
    }

    // ---- files ----

    /// <summary>Metadata key holding <see cref="GptConfig"/> as JSON.</summary>
    public const string ConfigKey = "gpt";

    /// <summary>Metadata key holding the tokenizer's name ("char" or "gpt2").</summary>
    public const string TokenizerKey = "tokenizer";

    /// <summary>Model name, configuration, tokenizer name and (for characters) the vocabulary.</summary>
    public Dictionary<string, string> Metadata()
    {
        var meta = new Dictionary<string, string> { ["model"] = GptConfig.ModelName, [ConfigKey] = Config.ToJson() };
        if (Tokenizer is not null)
        {
            meta[TokenizerKey] = Tokenizer.Name;
            if (Tokenizer is CharTokenizer chars) meta[CharRnn.VocabularyKey] = chars.Vocabulary.ToJson();
        }
        return meta;
    }

    /// <summary>Writes the state dict with <see cref="Metadata"/> to a safetensors file (atomically).</summary>
    public void Save(string path) => SafeTensors.Save(path, StateDict(), Metadata());

    /// <summary>
    /// Rebuilds a model from a file written by <see cref="Save"/> or a training checkpoint (tensors under "model.").
    /// A character tokenizer comes back from the saved vocabulary; other tokenizers by name through
    /// <paramref name="tokenizers"/> (e.g. "gpt2", which lives outside the core library).
    /// </summary>
    public static Gpt Load(string path, Func<string, ITextTokenizer?>? tokenizers = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Gpt.Load: '{path}' not found", path);
        var content = SafeTensors.Load(path);
        string configJson = content.Metadata.GetValueOrDefault(ConfigKey)
            ?? throw new InvalidDataException($"Gpt.Load: '{path}' does not describe a GPT (no '{ConfigKey}' metadata)");
        var model = new Gpt(GptConfig.FromJson(configJson));
        var tensors = content.Tensors;
        if (tensors.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal)))
            tensors = tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
        if (!tensors.ContainsKey("lm_head.weight") && tensors.TryGetValue("transformer.wte.weight", out var wte))
            tensors = new Dictionary<string, Tensor>(tensors) { ["lm_head.weight"] = wte }; // writers that store a tied tensor once
        model.LoadStateDict(tensors);
        string? name = content.Metadata.GetValueOrDefault(TokenizerKey);
        if (name == CharTokenizer.TokenizerName || (name is null && content.Metadata.ContainsKey(CharRnn.VocabularyKey)))
        {
            string vocabJson = content.Metadata.GetValueOrDefault(CharRnn.VocabularyKey)
                ?? throw new InvalidDataException($"Gpt.Load: '{path}' names the char tokenizer but holds no '{CharRnn.VocabularyKey}' metadata");
            model.Tokenizer = new CharTokenizer(Vocabulary.FromJson(vocabJson));
        }
        else if (name is not null)
        {
            model.Tokenizer = tokenizers?.Invoke(name)
                ?? throw new InvalidDataException($"Gpt.Load: '{path}' was trained with the '{name}' tokenizer, which was not provided");
        }
        if (model.Tokenizer is { } tok && tok.VocabSize != model.Config.VocabSize)
            throw new InvalidDataException($"Gpt.Load: the {tok.Name} tokenizer has {tok.VocabSize} tokens but the model was built for {model.Config.VocabSize}");
        return model;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => string.Create(CultureInfo.InvariantCulture,
        $"vocab={Config.VocabSize}, layers={Config.Layers}, heads={Config.Heads}, width={Config.Width}, context={Config.Context}, dropout={Config.Dropout}, bias={PyBool(Config.Bias)}");
}

/// <summary>nanoGPT's <c>transformer</c> ModuleDict: wte, wpe, drop, h, ln_f.</summary>
public sealed class GptTransformer : Module
{
    private readonly Tensor[] _positions;

    internal GptTransformer(GptConfig config, DType dtype, Generator? generator)
    {
        Wte = RegisterModule("wte", new Embedding(config.VocabSize, config.Width, dtype: dtype, generator: generator));
        Wpe = RegisterModule("wpe", new Embedding(config.Context, config.Width, dtype: dtype, generator: generator));
        Drop = RegisterModule("drop", new Dropout(config.Dropout, generator));
        H = RegisterModule("h", new ModuleList<GptBlock>());
        for (int i = 0; i < config.Layers; i++) H.Add(new GptBlock(config, dtype, generator));
        LnF = RegisterModule("ln_f", new GptLayerNorm(config.Width, config.Bias, dtype));
        _positions = new Tensor[config.Context + 1];
    }

    /// <summary>Token embedding [V, C] (<c>wte</c>), shared with the output layer.</summary>
    public Embedding Wte { get; }

    /// <summary>Position embedding [context, C] (<c>wpe</c>).</summary>
    public Embedding Wpe { get; }

    /// <summary>Dropout on the summed embeddings.</summary>
    public Dropout Drop { get; }

    /// <summary>The Transformer blocks (<c>h.0</c>, <c>h.1</c>, ...).</summary>
    public ModuleList<GptBlock> H { get; }

    /// <summary>Final layer norm (<c>ln_f</c>).</summary>
    public GptLayerNorm LnF { get; }

    /// <inheritdoc/>
    public override string TypeName => "ModuleDict";

    /// <summary>drop(wte(tokens) + wpe(start .. start+T-1)): [B, T, C].</summary>
    internal Tensor Embed(Tensor tokens, int start)
    {
        int t = tokens.ShapeArray[1];
        var positions = start == 0 ? (_positions[t] ??= Tensor.From(Enumerable.Range(0, t).Select(i => (long)i).ToArray(), t))
            : Tensor.From(Enumerable.Range(start, t).Select(i => (long)i).ToArray(), t);
        return Drop.Call(Wte.Call(tokens) + Wpe.Call(positions));
    }
}

/// <summary>One pre-LayerNorm Transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)).</summary>
public sealed class GptBlock : Module<Tensor, Tensor>
{
    internal GptBlock(GptConfig config, DType dtype, Generator? generator)
    {
        Ln1 = RegisterModule("ln_1", new GptLayerNorm(config.Width, config.Bias, dtype));
        Attn = RegisterModule("attn", new CausalSelfAttention(config, dtype, generator));
        Ln2 = RegisterModule("ln_2", new GptLayerNorm(config.Width, config.Bias, dtype));
        Mlp = RegisterModule("mlp", new GptMlp(config, dtype, generator));
    }

    /// <summary>Layer norm before the attention (<c>ln_1</c>).</summary>
    public GptLayerNorm Ln1 { get; }

    /// <summary>Causal self-attention (<c>attn</c>).</summary>
    public CausalSelfAttention Attn { get; }

    /// <summary>Layer norm before the MLP (<c>ln_2</c>).</summary>
    public GptLayerNorm Ln2 { get; }

    /// <summary>Feed-forward part (<c>mlp</c>).</summary>
    public GptMlp Mlp { get; }

    /// <inheritdoc/>
    public override string TypeName => "Block";

    /// <summary>The block over [B, T, C]: x + attn(ln_1(x)), then + mlp(ln_2(x)).</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null, 0);

    /// <summary>The block over [B, T, C] whose first position is <paramref name="start"/>, reading and extending <paramref name="cache"/> when given.</summary>
    internal Tensor Forward(Tensor x, GptKvCache.LayerCache? cache, int start)
    {
        using var call = EnterCall();
        var h = Ln1.Call(x);
        x = x + (cache is null ? Attn.Call(h) : Attn.Forward(h, cache, start));
        return x + Mlp.Call(Ln2.Call(x));
    }
}

/// <summary>
/// Multi-head causal self-attention: c_attn projects [B, T, C] to q, k, v at once ([B, T, 3C], split into heads
/// [B, H, T, C/H]), scaled dot-product attention with a causal mask, heads merged, c_proj, residual dropout.
/// </summary>
public sealed class CausalSelfAttention : Module<Tensor, Tensor>
{
    private readonly Generator? _generator;

    internal CausalSelfAttention(GptConfig config, DType dtype, Generator? generator)
    {
        Heads = config.Heads;
        Width = config.Width;
        DropoutP = config.Dropout;
        _generator = generator;
        CAttn = RegisterModule("c_attn", new Linear(config.Width, 3 * config.Width, config.Bias, dtype, generator));
        CProj = RegisterModule("c_proj", new Linear(config.Width, config.Width, config.Bias, dtype, generator));
        ResidDropout = RegisterModule("resid_dropout", new Dropout(config.Dropout, generator));
    }

    /// <summary>Number of attention heads H.</summary>
    public int Heads { get; }

    /// <summary>Embedding width C (each head gets C / H channels).</summary>
    public int Width { get; }

    /// <summary>Dropout probability on the attention weights (training only).</summary>
    public double DropoutP { get; }

    /// <summary>Fused q, k, v projection, Linear(C, 3C) (<c>c_attn</c>).</summary>
    public Linear CAttn { get; }

    /// <summary>Output projection, Linear(C, C) (<c>c_proj</c>).</summary>
    public Linear CProj { get; }

    /// <summary>Dropout on the output projection (<c>resid_dropout</c>).</summary>
    public Dropout ResidDropout { get; }

    /// <summary>Causal self-attention over [B, T, C]; returns [B, T, C].</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null, 0);

    internal Tensor Forward(Tensor x, GptKvCache.LayerCache? cache, int start)
    {
        using var call = EnterCall();
        int b = x.ShapeArray[0], t = x.ShapeArray[1];
        double p = Training ? DropoutP : 0;
        if (cache is null)
        {
            // Training and plain evaluation: one op from the packed projections to the merged heads (Tensor.FusedPackedAttention).
            var dropout = FlashAttention.Dropout.Draw(p, _generator, (long)b * Heads * t * t);
            var merged = Tensor.FusedPackedAttention(CAttn.Call(x), Heads, causal: true, 1 / Math.Sqrt(Width / Heads), dropout);
            return ResidDropout.Call(CProj.Call(merged));
        }
        var (q, k, v) = Project(x);
        (k, v) = cache.Append(k, v, start);                                       // [B, H, start+T, D]
        if (start > 0 && t != 1) throw new ArgumentException($"Gpt: a cache that already holds {start} tokens takes one new token at a time, got {t}");
        bool causal = start == 0; // a later query comes after every cached key: it may see all of them
        var y = Functional.ScaledDotProductAttention(q, k, v, dropoutP: p, isCausal: causal, generator: _generator).Output; // [B, H, T, D]
        y = y.Transpose(1, 2).Reshape(b, t, Width);                               // heads side by side again
        return ResidDropout.Call(CProj.Call(y));
    }

    /// <summary>q, k and v [B, H, T, D] of [B, T, C]: one c_attn product, split, heads apart.</summary>
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor x)
    {
        int b = x.ShapeArray[0], t = x.ShapeArray[1], d = Width / Heads;
        var qkv = CAttn.Call(x).Split(Width, 2);                                 // 3 x [B, T, C]
        return (qkv[0].Reshape(b, t, Heads, d).Transpose(1, 2), qkv[1].Reshape(b, t, Heads, d).Transpose(1, 2), qkv[2].Reshape(b, t, Heads, d).Transpose(1, 2));
    }

    /// <summary>The attention weights of <paramref name="x"/> [B, T, C] (the block's normalised input): [B, H, T, T], causal.</summary>
    internal Tensor Weights(Tensor x)
    {
        var (q, k, v) = Project(x);
        return Functional.ScaledDotProductAttention(q, k, v, isCausal: true).Weights!; // SDPA always gives its weights (computed on read)
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => $"heads={Heads}, width={Width}";

    /// <inheritdoc/>
    public override string TypeName => "CausalSelfAttention";
}

/// <summary>The feed-forward part of a block: c_fc (C -> 4C), GELU (tanh approximation, as GPT-2), c_proj (4C -> C), dropout.</summary>
public sealed class GptMlp : Module<Tensor, Tensor>
{
    internal GptMlp(GptConfig config, DType dtype, Generator? generator)
    {
        CFc = RegisterModule("c_fc", new Linear(config.Width, 4 * config.Width, config.Bias, dtype, generator));
        Gelu = RegisterModule("gelu", new Gelu(GeluApproximation.Tanh));
        CProj = RegisterModule("c_proj", new Linear(4 * config.Width, config.Width, config.Bias, dtype, generator));
        Dropout = RegisterModule("dropout", new Dropout(config.Dropout, generator));
    }

    /// <summary>Linear(C, 4C) (<c>c_fc</c>).</summary>
    public Linear CFc { get; }

    /// <summary>GELU, tanh approximation.</summary>
    public Gelu Gelu { get; }

    /// <summary>Linear(4C, C) (<c>c_proj</c>).</summary>
    public Linear CProj { get; }

    /// <summary>Dropout on the output.</summary>
    public Dropout Dropout { get; }

    /// <inheritdoc/>
    public override string TypeName => "MLP";

    /// <summary>dropout(c_proj(gelu(c_fc(x)))) for x [..., C].</summary>
    public override Tensor Forward(Tensor input) => Dropout.Call(CProj.Call(Gelu.Call(CFc.Call(input))));
}

/// <summary>LayerNorm over the last dim with an optional bias (nanoGPT's LayerNorm(ndim, bias)); keys weight and bias.</summary>
public sealed class GptLayerNorm : Module<Tensor, Tensor>
{
    private readonly int[] _shape;

    /// <summary>A layer norm over the last dim of size <paramref name="size"/>, weight 1 and (if <paramref name="bias"/>) bias 0.</summary>
    public GptLayerNorm(int size, bool bias, DType dtype = DType.Float32)
    {
        _shape = [size];
        Weight = RegisterParameter("weight", Tensor.Ones(_shape, dtype));
        if (bias) Bias = RegisterParameter("bias", Tensor.Zeros(_shape, dtype));
    }

    /// <summary>Scale [size].</summary>
    public Tensor Weight { get; }

    /// <summary>Shift [size], or null without bias.</summary>
    public Tensor? Bias { get; }

    /// <inheritdoc/>
    public override string TypeName => "LayerNorm";

    /// <summary>Normalises x [..., size] over its last dim (eps 1e-5), then scales and shifts.</summary>
    public override Tensor Forward(Tensor input) => Functional.LayerNorm(input, _shape, Weight, Bias, 1e-5);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"({_shape[0]},), bias={PyBool(Bias is not null)}";
}

/// <summary>
/// y = x W^T without bias, where W is another module's parameter (weight tying): registering the same tensor under
/// this module's "weight" puts it in the state dict under both names, while Parameters() and so the optimizer see it
/// once, and its gradient is the sum of both uses.
/// </summary>
public sealed class TiedLinear : Module<Tensor, Tensor>
{
    /// <summary>Uses <paramref name="weight"/> [out, in] (registered as this module's "weight") without copying it.</summary>
    /// <exception cref="ArgumentException"><paramref name="weight"/> is not two-dimensional.</exception>
    public TiedLinear(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2) throw new ArgumentException($"TiedLinear: the weight must be [out, in], got {weight.Describe()}");
        Weight = RegisterParameter("weight", weight);
    }

    /// <summary>The shared weight [out, in].</summary>
    public Tensor Weight { get; }

    /// <inheritdoc/>
    public override string TypeName => "Linear";

    /// <summary>x W^T: [..., in] to [..., out].</summary>
    public override Tensor Forward(Tensor input) => Tensor.Linear(input, Weight);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"in_features={Weight.ShapeArray[1]}, out_features={Weight.ShapeArray[0]}, bias=False, tied=True";
}

/// <summary>
/// Keys and values of every layer for the tokens a <see cref="Gpt"/> has seen so far, so that generating the next
/// token costs one position, not the whole prefix. Each layer holds K and V [B, H, context, D], allocated once and
/// filled in place; <see cref="Length"/> positions are valid.
/// </summary>
public sealed class GptKvCache
{
    private readonly LayerCache[] _layers;
    private readonly Gpt _model;

    internal GptKvCache(Gpt model, int batch)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), batch, "GptKvCache: batch must be positive");
        _model = model;
        Batch = batch;
        var c = model.Config;
        var dtype = model.LmHead.Weight.DType;
        int[] shape = [batch, c.Heads, c.Context, c.Width / c.Heads];
        _layers = new LayerCache[c.Layers];
        for (int i = 0; i < _layers.Length; i++) _layers[i] = new LayerCache(this, Tensor.Zeros(shape, dtype), Tensor.Zeros(shape, dtype));
    }

    /// <summary>Sequences in the batch the cache was made for.</summary>
    public int Batch { get; }

    /// <summary>Positions filled so far (the next token's position).</summary>
    public int Length { get; private set; }

    /// <summary>Positions the cache can hold: the model's context length.</summary>
    public int Capacity => _model.Config.Context;

    /// <summary>Forgets every position (the memory stays allocated).</summary>
    public void Reset() => Length = 0;

    internal LayerCache Layer(int i) => _layers[i];

    internal void Advance(int t) => Length += t;

    internal void Check(Gpt model, int batch)
    {
        if (!ReferenceEquals(model, _model)) throw new ArgumentException("Gpt: this cache belongs to another model");
        if (batch != Batch) throw new ArgumentException($"Gpt: the cache was made for a batch of {Batch}, got {batch} sequences");
    }

    /// <summary>One layer's K and V [B, H, context, D].</summary>
    internal sealed class LayerCache(GptKvCache owner, Tensor keys, Tensor values)
    {
        /// <summary>Writes k, v [B, H, T, D] at positions start..start+T-1 and returns the filled part [B, H, start+T, D] of both.</summary>
        public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v, int start)
        {
            if (start != owner.Length) throw new InvalidOperationException($"GptKvCache: writing at position {start} but {owner.Length} are filled");
            int t = k.ShapeArray[2];
            using (Autograd.NoGrad())
            {
                keys.Narrow(2, start, t).CopyFrom(k);
                values.Narrow(2, start, t).CopyFrom(v);
            }
            return (keys.Narrow(2, 0, start + t), values.Narrow(2, 0, start + t));
        }
    }
}

/// <summary>Text to token ids and back: the characters of a <see cref="Vocabulary"/>, or a subword tokenizer such as GPT-2's BPE.</summary>
public interface ITextTokenizer
{
    /// <summary>The name saved with a model ("char", "gpt2").</summary>
    string Name { get; }

    /// <summary>Number of token ids, V.</summary>
    int VocabSize { get; }

    /// <summary>Token ids of <paramref name="text"/>.</summary>
    long[] Encode(string text);

    /// <summary>Text of token <paramref name="ids"/>.</summary>
    string Decode(IReadOnlyList<long> ids);
}

/// <summary>One token per character of a <see cref="Data.Text.Vocabulary"/> (characters outside it are an error).</summary>
public sealed class CharTokenizer(Vocabulary vocabulary) : ITextTokenizer
{
    /// <summary>The <see cref="Name"/> of character tokenizers: "char".</summary>
    public const string TokenizerName = "char";

    /// <summary>The character table.</summary>
    public Vocabulary Vocabulary { get; } = vocabulary ?? throw new ArgumentNullException(nameof(vocabulary));

    /// <inheritdoc/>
    public string Name => TokenizerName;

    /// <inheritdoc/>
    public int VocabSize => Vocabulary.Count;

    /// <inheritdoc/>
    public long[] Encode(string text) => Vocabulary.Encode(text);

    /// <inheritdoc/>
    public string Decode(IReadOnlyList<long> ids) => Vocabulary.Decode(ids);
}
