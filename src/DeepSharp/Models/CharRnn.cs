using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using DeepSharp.Data.Text;
using DeepSharp.NN;
using DeepSharp.Onnx;
using DeepSharp.Serialization;

namespace DeepSharp.Models;

/// <summary>
/// The hidden state a recurrent model carries between calls: <see cref="H"/> [layers, B, H] and, for an
/// LSTM, the cell state <see cref="C"/> of the same shape.
/// </summary>
public sealed record RecurrentState(Tensor H, Tensor? C)
{
    /// <summary>The same values without history: the next chunk starts from them but its gradients stop here (truncated BPTT).</summary>
    public RecurrentState Detach() => new(H.Detach(), C?.Detach());
}

/// <summary>
/// Sizes of a <see cref="CharRnn"/>; stored as JSON in the metadata of saved weights, so a model file
/// is enough to rebuild its network.
/// </summary>
/// <param name="VocabSize">Number of distinct tokens (characters).</param>
/// <param name="Cell">Lstm (default) or Gru; stored as "lstm" or "gru".</param>
/// <param name="EmbeddingDim">Size of each token's embedding vector.</param>
/// <param name="HiddenSize">Hidden units per recurrent layer.</param>
/// <param name="NumLayers">Stacked recurrent layers.</param>
/// <param name="Dropout">Dropout probability between recurrent layers and on the last layer's output (training only).</param>
public sealed record CharRnnConfig(int VocabSize, RecurrentCellType Cell = RecurrentCellType.Lstm, int EmbeddingDim = 64, int HiddenSize = 512, int NumLayers = 1, double Dropout = 0)
{
    /// <summary>The zoo name: "char-lstm" or "char-gru".</summary>
    [JsonIgnore]
    public string ModelName => "char-" + Cell.ToName();

    /// <summary>Checks the configuration.</summary>
    /// <exception cref="ArgumentException">The cell is not a value of <see cref="RecurrentCellType"/>, a size is not positive or the dropout is outside [0, 1).</exception>
    public void Validate()
    {
        if (Cell is not (RecurrentCellType.Lstm or RecurrentCellType.Gru)) throw new ArgumentException($"CharRnn: cell must be RecurrentCellType.Lstm or RecurrentCellType.Gru, got {Cell}");
        if (VocabSize <= 0 || EmbeddingDim <= 0 || HiddenSize <= 0 || NumLayers <= 0)
            throw new ArgumentException($"CharRnn: vocab size ({VocabSize}), embedding dim ({EmbeddingDim}), hidden size ({HiddenSize}) and layers ({NumLayers}) must be positive");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"CharRnn: dropout must be in [0, 1), got {Dropout}");
    }

    /// <summary>The configuration as JSON (snake_case keys), as stored in the weights' metadata.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ModelsJson.Default.CharRnnConfig);

    /// <summary>Reads a configuration written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The JSON is <c>null</c>.</exception>
    public static CharRnnConfig FromJson(string json) =>
        JsonSerializer.Deserialize(json, ModelsJson.Default.CharRnnConfig) ?? throw new InvalidDataException("CharRnn: empty model configuration JSON");
}

/// <summary>
/// Character-level language model (char-rnn): Embedding(V, E) -> LSTM or GRU x N (batch-first, dropout between
/// layers) -> dropout -> Linear(H, V). Forward maps tokens [B, T] (int64) to next-token logits [B, T, V];
/// the stateful overload also takes and returns the recurrent state, so a long text can be processed in
/// chunks (truncated BPTT) and sampled one character at a time.
/// <para>
/// State-dict keys are those of the equivalent PyTorch module with attributes <c>embed</c>, <c>rnn</c>
/// (nn.LSTM/nn.GRU with batch_first=True) and <c>head</c>: <c>embed.weight</c>, <c>rnn.weight_ih_l0</c>,
/// <c>rnn.weight_hh_l0</c>, <c>rnn.bias_ih_l0</c>, <c>rnn.bias_hh_l0</c>, ... <c>_l{N-1}</c>, <c>head.weight</c>,
/// <c>head.bias</c>. Initialisation is PyTorch's default for each layer.
/// </para>
/// </summary>
public sealed class CharRnn : Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Dropout? _outputDropout;

    /// <summary>Builds the model for <paramref name="config"/>.</summary>
    /// <param name="config">Vocabulary size, cell type and sizes; validated first.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights and of dropout masks; null uses the default generator.</param>
    /// <exception cref="ArgumentException">The configuration is invalid.</exception>
    public CharRnn(CharRnnConfig config, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Embed = RegisterModule("embed", new Embedding(config.VocabSize, config.EmbeddingDim, dtype: dtype, generator: generator));
        Rnn = RegisterModule<RecurrentBase>("rnn", config.Cell == RecurrentCellType.Lstm
            ? new Lstm(config.EmbeddingDim, config.HiddenSize, config.NumLayers, batchFirst: true, dropout: config.NumLayers > 1 ? config.Dropout : 0, dtype: dtype, generator: generator)
            : new Gru(config.EmbeddingDim, config.HiddenSize, config.NumLayers, batchFirst: true, dropout: config.NumLayers > 1 ? config.Dropout : 0, dtype: dtype, generator: generator));
        Rnn.Generator = generator;
        if (config.Dropout > 0) _outputDropout = RegisterModule("drop", new Dropout(config.Dropout, generator));
        Head = RegisterModule("head", new Linear(config.HiddenSize, config.VocabSize, dtype: dtype, generator: generator));
    }

    /// <summary>A char-lstm or char-gru by zoo name ("char-lstm", "char-gru") with the default sizes of <see cref="CharRnnConfig"/>.</summary>
    public static CharRnn Create(string name, int vocabSize, DType dtype = DType.Float32, Generator? generator = null) => name switch
    {
        "char-lstm" => new CharRnn(new CharRnnConfig(vocabSize, RecurrentCellType.Lstm), dtype, generator),
        "char-gru" => new CharRnn(new CharRnnConfig(vocabSize, RecurrentCellType.Gru), dtype, generator),
        _ => throw new ArgumentException($"CharRnn: unknown model '{name}'; expected char-lstm or char-gru"),
    };

    /// <summary>For the model zoo: <see cref="ModelOptions.NumClasses"/> is the vocabulary size (the model predicts one of NumClasses tokens).</summary>
    public static CharRnn Create(string name, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Create(name, options.NumClasses, options.DType, options.Generator);
    }

    /// <summary>The sizes the model was built with.</summary>
    public CharRnnConfig Config { get; }

    /// <summary>Token embedding [V, E] (key <c>embed.weight</c>).</summary>
    public Embedding Embed { get; }

    /// <summary>The recurrent stack (an <see cref="Lstm"/> or <see cref="Gru"/>, batch-first).</summary>
    public RecurrentBase Rnn { get; }

    /// <summary>Output layer from the hidden state to next-token logits, Linear(H, V).</summary>
    public Linear Head { get; }

    /// <summary>Whether the recurrent stack is an LSTM (its state then has a cell state C).</summary>
    public bool IsLstm => Config.Cell == RecurrentCellType.Lstm;

    /// <summary>The token table the model was trained with (saved with the weights; needed by <see cref="Sample(string, int, SamplingOptions?, ulong)"/>).</summary>
    public Vocabulary? Vocabulary { get; set; }

    /// <inheritdoc/>
    public override string TypeName => "CharRnn";

    /// <summary>Logits [B, T, V] from tokens [B, T], starting from a zero state.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null).Logits;

    /// <summary>ONNX: logits [B, T, V] from int64 tokens [B, T], from a zero state (the state is not an output).</summary>
    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
    {
        var (output, _, _) = graph.Recurrent(Rnn, graph.Module(Embed, input));
        return graph.Module(Head, output);
    }

    /// <summary>
    /// Logits [B, T, V] for tokens [B, T] (int64) starting from <paramref name="state"/> (zeros when null),
    /// and the state after the last step. Detach the returned state before feeding it to the next chunk
    /// unless gradients should flow back into this one.
    /// </summary>
    public (Tensor Logits, RecurrentState State) Forward(Tensor tokens, RecurrentState? state)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Rank != 2 || tokens.DType != DType.Int64)
            throw new ArgumentException($"CharRnn: expected int64 tokens [batch, time], got {tokens.Describe()}");
        if (state is not null) CheckState(state, tokens.ShapeArray[0]);
        var x = Embed.Call(tokens);                                   // [B, T, E]
        var (output, hN, cN) = Rnn.Call(x, state?.H, state?.C);        // [B, T, H]
        if (_outputDropout is not null) output = _outputDropout.Call(output);
        return (Head.Call(output), new RecurrentState(hN, cN));       // [B, T, V]
    }

    /// <summary>A zero state for a batch of <paramref name="batch"/> streams.</summary>
    public RecurrentState InitialState(int batch)
    {
        var dtype = Head.Weight.DType;
        int[] shape = [Config.NumLayers, batch, Config.HiddenSize];
        return new RecurrentState(Tensor.Zeros(shape, dtype), IsLstm ? Tensor.Zeros(shape, dtype) : null);
    }

    private void CheckState(RecurrentState state, int batch)
    {
        int[] expected = [Config.NumLayers, batch, Config.HiddenSize];
        if (!state.H.Shape.AsSpan().SequenceEqual(expected) || (IsLstm && (state.C is null || !state.C.Shape.AsSpan().SequenceEqual(expected))) || (!IsLstm && state.C is not null))
            throw new ArgumentException($"CharRnn: the state must be h{(IsLstm ? " and c" : "")} of shape {Shapes.Format(expected)} (layers, batch, hidden), " +
                $"got h {Shapes.Format(state.H.ShapeArray)}{(state.C is null ? "" : $" and c {Shapes.Format(state.C.ShapeArray)}")}");
    }

    // ---- sampling ----

    /// <summary>
    /// Continues <paramref name="prime"/> token ids by <paramref name="length"/> tokens, one step at a time
    /// in eval mode without gradients: the prime runs through the network in one pass, then each sampled
    /// token is fed back with the carried state. Returns only the generated ids. The same generator state
    /// gives the same text.
    /// </summary>
    public long[] SampleTokens(ReadOnlySpan<long> prime, int length, SamplingOptions? options, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        options ??= new SamplingOptions();
        options.Validate();
        if (prime.IsEmpty) throw new ArgumentException("CharRnn.Sample: the prime must hold at least one token");
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "CharRnn.Sample: length must be non-negative");
        foreach (long id in prime)
            if ((ulong)id >= (ulong)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(prime), $"CharRnn.Sample: token {id} is outside the vocabulary [0, {Config.VocabSize})");
        bool wasTraining = Training;
        Eval();
        try
        {
            using var _ = Autograd.NoGrad();
            var result = new long[length];
            if (length == 0) return result;
            var (logits, state) = Forward(Tensor.From(prime.ToArray(), 1, prime.Length), null);
            var last = logits.Select(1, prime.Length - 1).Reshape(-1);
            for (int i = 0; i < length; i++)
            {
                long next = Sampling.Sample(Sampling.Row(last), options, generator);
                result[i] = next;
                if (i == length - 1) break;
                (logits, state) = Forward(Tensor.From([next], 1, 1), state);
                last = logits.Reshape(-1);
            }
            return result;
        }
        finally
        {
            Train(wasTraining);
        }
    }

    /// <summary>
    /// <paramref name="prime"/> followed by <paramref name="length"/> sampled characters (see <see cref="SampleTokens"/>),
    /// decoded with <see cref="Vocabulary"/>. An empty prime starts from a newline (or the first token when the
    /// vocabulary has none). Temperature 0 is greedy; <paramref name="seed"/> makes the draw reproducible.
    /// </summary>
    public string Sample(string prime, int length, SamplingOptions? options = null, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(prime);
        var vocabulary = Vocabulary ?? throw new InvalidOperationException("CharRnn.Sample: the model has no Vocabulary; set it (it is saved with the weights) or use SampleTokens");
        string start = prime.Length > 0 ? prime : vocabulary.Contains("\n") ? "\n" : vocabulary.Tokens[0];
        var ids = vocabulary.Encode(start);
        var generated = SampleTokens(ids, length, options, new Generator(seed));
        return (prime.Length > 0 ? prime : "") + vocabulary.Decode(generated);
    }

    /// <summary>Same as <see cref="Sample(string, int, SamplingOptions?, ulong)"/> with a temperature and top-k.</summary>
    public string Sample(string prime, int length, double temperature, int? topK = null, ulong seed = 0) =>
        Sample(prime, length, new SamplingOptions(temperature, topK), seed);

    // ---- files ----

    /// <summary>Metadata key holding <see cref="CharRnnConfig"/> as JSON.</summary>
    public const string ConfigKey = "char_rnn";

    /// <summary>Metadata key holding the <see cref="Data.Text.Vocabulary"/> JSON.</summary>
    public const string VocabularyKey = "vocabulary";

    /// <summary>The metadata that makes a weights file self-describing: model name, configuration and vocabulary.</summary>
    public Dictionary<string, string> Metadata()
    {
        var meta = new Dictionary<string, string> { ["model"] = Config.ModelName, [ConfigKey] = Config.ToJson() };
        if (Vocabulary is not null) meta[VocabularyKey] = Vocabulary.ToJson();
        return meta;
    }

    /// <summary>Writes the state dict with <see cref="Metadata"/> to a safetensors file (atomically).</summary>
    public void Save(string path) => SafeTensors.Save(path, StateDict(), Metadata());

    /// <summary>
    /// Rebuilds a model from a file written by <see cref="Save"/> or a training checkpoint (tensors under
    /// "model."), with its vocabulary when the file has one. Configuration and vocabulary may also come from
    /// <c>char_rnn.json</c> and <c>vocab.json</c> next to the file (as the language-model trainer writes them).
    /// </summary>
    public static CharRnn Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CharRnn.Load: '{path}' not found", path);
        var content = SafeTensors.Load(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string? configJson = content.Metadata.GetValueOrDefault(ConfigKey) ?? ReadSibling(dir, "char_rnn.json");
        if (configJson is null)
            throw new InvalidDataException($"CharRnn.Load: '{path}' does not describe a character model (no '{ConfigKey}' metadata and no char_rnn.json beside it)");
        var model = new CharRnn(CharRnnConfig.FromJson(configJson));
        var tensors = content.Tensors;
        if (tensors.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal)))
            tensors = tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
        model.LoadStateDict(tensors);
        string? vocabJson = content.Metadata.GetValueOrDefault(VocabularyKey) ?? ReadSibling(dir, "vocab.json");
        if (vocabJson is not null)
        {
            var vocabulary = Data.Text.Vocabulary.FromJson(vocabJson);
            if (vocabulary.Count != model.Config.VocabSize)
                throw new InvalidDataException($"CharRnn.Load: the vocabulary has {vocabulary.Count} tokens but the model was built for {model.Config.VocabSize}");
            model.Vocabulary = vocabulary;
        }
        return model;
    }

    private static string? ReadSibling(string dir, string name)
    {
        foreach (var candidate in new[] { Path.Combine(dir, name), Path.Combine(Path.GetDirectoryName(dir) ?? dir, name) })
            if (File.Exists(candidate)) return File.ReadAllText(candidate);
        return null;
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => string.Create(CultureInfo.InvariantCulture,
        $"vocab={Config.VocabSize}, cell={Config.Cell.ToName()}, embedding={Config.EmbeddingDim}, hidden={Config.HiddenSize}, layers={Config.NumLayers}, dropout={Config.Dropout}");
}

/// <summary>Source-generated JSON for model configurations (no reflection: AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CharRnnConfig))]
[JsonSerializable(typeof(GptConfig))]
internal sealed partial class ModelsJson : JsonSerializerContext;
