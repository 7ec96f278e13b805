using System.CommandLine;
using System.Globalization;
using DeepSharp.Cli.Support;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// The options of <c>deepsharp train --model gpt</c> (null: the default), and whether the shared --batch-size,
/// --optimizer and --epochs were given (the GPT has its own defaults for them).
/// </summary>
internal sealed record GptTrainOptions(string? Tokenizer, int? Context, int? Layers, int? Heads, int? Width, double? Dropout, int? GradAccum,
    int? StepsPerEpoch, int? Warmup, double? MinLr, double? WeightDecay, bool BatchGiven, bool OptimizerGiven, bool EpochsGiven)
{
    // Defaults for two CPU cores and a 30-minute budget (see docs/gpt.md): a 1.2M-parameter character model (6 blocks of
    // width 128), 26 epochs of 250 steps of 32 windows of 128 characters (26.6M tokens), dropout 0.1. Without dropout the
    // model stops improving on validation near 1.50-1.51 while its training loss keeps falling (1.19-1.21 after 16-18
    // epochs, with 128- or 256-character windows); dropout learns more slowly but keeps generalising.
    public const int DefaultLayers = 6, DefaultHeads = 4, DefaultWidth = 128, DefaultContext = 128, DefaultBatch = 32;
    public const int DefaultEpochs = 26, DefaultStepsPerEpoch = 250, DefaultWarmup = 100;
    public const double DefaultDropout = 0.1, DefaultLr = 2e-3, DefaultMinLrFactor = 0.1, DefaultWeightDecay = 0.1, Beta2 = 0.95, ClipNorm = 1.0;

    /// <summary>A smaller model for the 50257-token GPT-2 vocabulary, whose tied embedding alone is 50257 x width.</summary>
    public const int Gpt2Width = 96, Gpt2Layers = 3, Gpt2Heads = 3, Gpt2Context = 64, Gpt2Batch = 16, Gpt2Epochs = 10;

    public string TokenizerName => Tokenizer ?? "char";

    public bool IsGpt2 => TokenizerName == "gpt2";

    public int LayersOrDefault => Layers ?? (IsGpt2 ? Gpt2Layers : DefaultLayers);

    public int HeadsOrDefault => Heads ?? (IsGpt2 ? Gpt2Heads : DefaultHeads);

    public int WidthOrDefault => Width ?? (IsGpt2 ? Gpt2Width : DefaultWidth);

    public int ContextOrDefault => Context ?? (IsGpt2 ? Gpt2Context : DefaultContext);

    /// <summary>Windows per micro-batch when --batch-size is not given (GPT-2's 50,257-way logits are large: half as many).</summary>
    public int BatchOrDefault => IsGpt2 ? Gpt2Batch : DefaultBatch;

    public int EpochsOrDefault => IsGpt2 ? Gpt2Epochs : DefaultEpochs;

    /// <summary>Checks the values and that they are only given with --model gpt.</summary>
    public void Validate(string model)
    {
        bool any = Tokenizer is not null || Context is not null || Layers is not null || Heads is not null || Width is not null || Dropout is not null
            || GradAccum is not null || StepsPerEpoch is not null || Warmup is not null || MinLr is not null || WeightDecay is not null;
        if (model != "gpt")
        {
            if (any) throw new CliException($"--tokenizer, --context, --layers, --heads, --width, --dropout, --grad-accum, --steps-per-epoch, --warmup, --min-lr and --weight-decay apply to --model gpt, not '{model}'");
            return;
        }
        if (TokenizerName is not ("char" or "gpt2")) throw new CliException($"--tokenizer must be char or gpt2, got '{Tokenizer}'");
        foreach (var (name, value) in new[] { ("--context", Context), ("--layers", Layers), ("--heads", Heads), ("--width", Width), ("--grad-accum", GradAccum), ("--steps-per-epoch", StepsPerEpoch) })
            if (value is int v && v <= 0) throw new CliException($"{name} must be positive, got {v}");
        if (Warmup is int w && w < 0) throw new CliException($"--warmup must be non-negative, got {w}");
        if (Dropout is double d && !(d >= 0 && d < 1)) throw new CliException($"--dropout must be in [0, 1), got {d.ToString(CultureInfo.InvariantCulture)}");
        if (MinLr is double m && !(m >= 0)) throw new CliException($"--min-lr must be >= 0, got {m.ToString(CultureInfo.InvariantCulture)}");
        if (WeightDecay is double wd && !(wd >= 0)) throw new CliException($"--weight-decay must be >= 0, got {wd.ToString(CultureInfo.InvariantCulture)}");
        if (WidthOrDefault % HeadsOrDefault != 0) throw new CliException($"--width {WidthOrDefault} must be divisible by --heads {HeadsOrDefault}");
    }

    /// <summary>The option objects, created once per command.</summary>
    internal sealed class Options
    {
        public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "gpt: char (default: one token per character) or gpt2 (GPT-2's 50257-token BPE; a smaller default model)" };
        public Option<int?> Context { get; } = new("--context") { Description = $"gpt: context length in tokens, also the training window (default {DefaultContext}; {Gpt2Context} with gpt2)" };
        public Option<int?> Layers { get; } = new("--layers") { Description = $"gpt: transformer blocks (default {DefaultLayers}; {Gpt2Layers} with gpt2)" };
        public Option<int?> Heads { get; } = new("--heads") { Description = $"gpt: attention heads (default {DefaultHeads}; {Gpt2Heads} with gpt2)" };
        public Option<int?> Width { get; } = new("--width") { Description = $"gpt: embedding width, a multiple of --heads (default {DefaultWidth}; {Gpt2Width} with gpt2)" };
        public Option<double?> Dropout { get; } = new("--dropout") { Description = $"gpt: dropout on embeddings, attention and residual branches (default {DefaultDropout})" };
        public Option<int?> GradAccum { get; } = new("--grad-accum") { Description = "gpt: micro-batches of --batch-size per optimizer step (gradient accumulation; default 1)" };
        public Option<int?> StepsPerEpoch { get; } = new("--steps-per-epoch") { Description = $"gpt: optimizer steps on random windows between validations and checkpoints (default {DefaultStepsPerEpoch}); --epochs counts these" };
        public Option<int?> Warmup { get; } = new("--warmup") { Description = $"gpt: linear learning-rate warm-up steps before the cosine decay (default {DefaultWarmup})" };
        public Option<double?> MinLr { get; } = new("--min-lr") { Description = "gpt: learning rate at the end of the cosine decay (default --lr / 10)" };
        public Option<double?> WeightDecay { get; } = new("--weight-decay") { Description = $"gpt: AdamW weight decay on 2-D weights (embeddings included; none on biases and norms; default {DefaultWeightDecay})" };

        public IEnumerable<Option> All => [Tokenizer, Context, Layers, Heads, Width, Dropout, GradAccum, StepsPerEpoch, Warmup, MinLr, WeightDecay];

        public GptTrainOptions Read(ParseResult p, bool batchGiven, bool optimizerGiven, bool epochsGiven) => new(
            p.GetValue(Tokenizer), p.GetValue(Context), p.GetValue(Layers), p.GetValue(Heads), p.GetValue(Width), p.GetValue(Dropout), p.GetValue(GradAccum),
            p.GetValue(StepsPerEpoch), p.GetValue(Warmup), p.GetValue(MinLr), p.GetValue(WeightDecay), batchGiven, optimizerGiven, epochsGiven);
    }

    public static Options CreateOptions() => new();
}
