using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using DeepSharp.Cli.Support;
using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp train --model char-lstm|char-gru [--data text:PATH]</c>: a character language model trained by
/// truncated BPTT on tinyshakespeare (default) or any text file, split 90/10 contiguously into training and
/// validation text. Reports loss in nats/char and perplexity; writes DIR/model.safetensors (configuration and
/// vocabulary in its metadata, plus vocab.json and char_rnn.json beside it), DIR/checkpoint/{last,best}.safetensors
/// and DIR/metrics.json, and prints a sample. TrainCommand hands over here for these models and for text data.
/// </summary>
internal static class LanguageModelTraining
{
    // With the model sizes of CharRnnConfig's defaults, these reach a validation loss below 1.50 nats/char on
    // tinyshakespeare in TrainCommand's default 10 epochs of batch 64 (configuration, time and a sample in the docs).
    public const int SequenceLength = 100;
    public const double DefaultLr = 2e-3;
    public const double ClipNorm = 5.0;
    public const double ValidationFraction = 0.1;
    public const string SamplePrime = "ROMEO:";

    /// <summary>True for the models and data this trainer handles (char-lstm, char-gru, gpt, text:PATH).</summary>
    public static bool Handles(string model, string data) =>
        ModelCatalog.IsLanguageModel(model) || data.StartsWith("text:", StringComparison.Ordinal) || data == "tinyshakespeare";

    /// <summary>Trains; with <paramref name="world"/>, this rank's share of data-parallel training of a char model (rank 0 prints and writes).</summary>
    internal static int Run(TrainCommand.TrainSettings s, Distributed.Communicator? world = null)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (!ModelCatalog.IsLanguageModel(s.Model))
            throw new CliException($"--data {s.Data} is text: train a character model with --model {string.Join(" or --model ", ModelCatalog.LanguageModels)} (got '{s.Model}')");
        if (s.Augment is not null) throw new CliException("--augment applies to image data; character models train on text without augmentation");
        if (s.Label is not null) throw new CliException("--label applies to CSV data; character models train on text");
        if (s.Model == "gpt") return RunGpt(s);

        var (dataName, text) = LoadText(s.Data, s.DataDir);
        var (trainText, validationText) = TinyShakespeare.Split(text, ValidationFraction);
        var vocabulary = Vocabulary.FromCharacters(text);
        var trainTokens = vocabulary.Encode(trainText);
        var validationTokens = vocabulary.Encode(validationText);
        int streams = s.BatchSize * (world?.Size ?? 1);
        if (trainTokens.Length < (long)streams * (SequenceLength + 1))
            throw new CliException($"--data: {trainTokens.Length:N0} training characters cannot fill {streams} streams of {SequenceLength + 1}; use a longer text or a smaller --batch-size");
        bool root = world is null || world.IsRoot;
        using var output = root ? OutputDirectory.Prepare(s.Out ?? Path.Combine("runs", s.Model)) : null;
        string outDir = output?.Path ?? s.Out ?? Path.Combine("runs", s.Model);

        Generator.Default.ManualSeed((ulong)s.Seed);
        var generator = new Generator((ulong)s.Seed);
        var config = new CharRnnConfig(vocabulary.Count, s.Model == "char-lstm" ? RecurrentCellType.Lstm : RecurrentCellType.Gru);
        var model = new CharRnn(config, generator: generator) { Vocabulary = vocabulary };
        double lr = s.Lr ?? DefaultLr;
        var optimizer = Choices.CreateOptimizer(s.Optimizer, model.Parameters(), lr);
        int batchesPerEpoch = new StreamBatches(trainTokens, streams, SequenceLength).Count;
        var (scheduler, perBatch) = Choices.CreateSchedule(s.Schedule, optimizer, s.Epochs, batchesPerEpoch, cosinePerBatch: true);
        using var dataParallel = world is null ? null : DistributedRun.Create(model, world, s.BucketMb, s.Seed, dropout: generator);
        using var monitors = RunMonitors.Create(s, outDir, model, dataParallel: dataParallel);
        var trainer = new Trainer(model, optimizer, new TrainerOptions
        {
            Monitors = monitors.Monitors,
            LanguageModel = new LanguageModelOptions { BatchSize = s.BatchSize, SequenceLength = SequenceLength },
            ClipGradNorm = ClipNorm,
            Scheduler = scheduler,
            SchedulerPerBatch = perBatch,
            Reporter = root ? new PerplexityReporter(new ConsoleReporter { RateUnit = "chars/s" }, "char") : null,
            Generators = [generator],
            DataParallel = dataParallel,
        });
        List<Dictionary<string, double>> earlier = [];
        if (s.Resume is not null)
        {
            TrainCommand.Resume(s, trainer.LoadCheckpoint, () => trainer.Epoch);
            if (root) earlier = EarlierHistory(s.Resume, outDir, trainer.Epoch);
            var at = trainer.ResumePosition is { Batch: > 0 } p ? $", batch {p.Batch} of epoch {trainer.Epoch + 1}" : "";
            if (root) AnsiConsole.MarkupLine(Markup.Escape($"resumed from {s.Resume} after epoch {trainer.Epoch}{at}; training to epoch {s.Epochs}" +
                (scheduler is null ? "" : $", {s.Schedule} schedule re-planned for {s.Epochs} epochs (lr now {optimizer.ParamGroups[0].Lr:G4})")));
        }
        if (world is not null) DistributedRun.Describe(world, dataParallel!, s.BatchSize, batchesPerEpoch, " streams");
        if (output is null)
        {
            // Another rank of a data-parallel job: train in step with rank 0, which writes and reports everything.
            return trainer.Fit(trainTokens, validationTokens, s.Epochs, cancellationToken: monitors.Stop).Interrupted ? Interruption.ExitCode : 0;
        }
        AnsiConsole.MarkupLine(Markup.Escape($"{s.Model} on {dataName}: {trainTokens.Length:N0} train / {validationTokens.Length:N0} validation characters, " +
            $"{vocabulary.Count} symbols; embedding {config.EmbeddingDim}, {config.NumLayers}x{config.HiddenSize} {config.Cell.ToString().ToUpperInvariant()}, dropout {config.Dropout}, {model.ParameterCount:N0} parameters; " +
            $"{s.Optimizer} lr {lr.ToString(CultureInfo.InvariantCulture)} ({s.Schedule}), batch {s.BatchSize} x {SequenceLength} steps, clip {ClipNorm}, {Compute.Threads} threads{(world is null ? "" : " per process")}"));

        TrainingHistory history;
        // Ctrl-C stops one process at a step boundary, which a data-parallel job cannot do alone: mpirun ends it.
        using (world is null ? Interruption.Current.BeginGraceful("training") : null)
        using (var stop = monitors.StopOn(world is null ? Interruption.Current.Token : default))
            history = trainer.Fit(trainTokens, validationTokens, s.Epochs, Callbacks(output, monitors), stop.Token);
        monitors.Communication?.Print();
        if (history.Interrupted) return TrainCommand.Interrupted(outDir, output, trainer.SaveCheckpoint, trainer.Epoch, trainer.InterruptedAt?.Batch ?? 0);

        double validation = history.Epochs.Count > 0 ? history.Epochs[^1]["val_loss"] : trainer.Evaluate(validationTokens).Loss;
        model.Save(Path.Combine(outDir, "model.safetensors")); // metadata: model name, configuration, vocabulary
        vocabulary.Save(Path.Combine(outDir, "vocab.json"));
        AtomicFile.WriteAllText(Path.Combine(outDir, "char_rnn.json"), config.ToJson());

        string prime = validationText.Length > 0 && SamplePrime.All(c => vocabulary.Contains(c.ToString())) ? SamplePrime : "";
        string sample = model.Sample(prime, 300, new SamplingOptions(0.8), (ulong)s.Seed);
        var rows = earlier.Concat(history.Epochs.Select(e => new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 })).ToList();
        var metrics = LanguageModelMetrics.From(s, dataName, config, model.ParameterCount, lr, validation, rows, history.WallSeconds, trainer.Epoch, sample) with
        {
            Communication = dataParallel?.Statistics,
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(metrics, LanguageModelJson.Default.LanguageModelMetrics));
        output.Complete();
        Summary(metrics, outDir, "char");
        AnsiConsole.MarkupLine("[bold]sample[/] (temperature 0.8):");
        AnsiConsole.WriteLine(sample);
        monitors.Finish(s, outDir);
        return 0;
    }

    /// <summary>
    /// <c>train --model gpt</c>: a GPT on random windows of the text (characters or GPT-2 subwords), AdamW with decay
    /// groups, linear warm-up then cosine decay, clipping at 1; an "epoch" is --steps-per-epoch optimizer steps,
    /// followed by validation over the held-out text and a checkpoint.
    /// </summary>
    private static int RunGpt(TrainCommand.TrainSettings s)
    {
        var g = s.Gpt ?? new GptTrainOptions(null, null, null, null, null, null, null, null, null, null, null, false, false, false);
        var (dataName, text) = LoadText(s.Data, s.DataDir);
        var (trainText, validationText) = TinyShakespeare.Split(text, ValidationFraction);
        ITextTokenizer tokenizer = g.IsGpt2 ? TextTokenizers.Create("gpt2") : new CharTokenizer(Vocabulary.FromCharacters(text));
        string unit = g.IsGpt2 ? "token" : "char";
        var trainTokens = tokenizer.Encode(trainText);
        var validationTokens = tokenizer.Encode(validationText);
        int context = g.ContextOrDefault;
        int batch = g.BatchGiven ? s.BatchSize : g.BatchOrDefault;
        int epochs = g.EpochsGiven ? s.Epochs : g.EpochsOrDefault;
        if (trainTokens.Length < context + 1 || validationTokens.Length < 2)
            throw new CliException($"--data: {trainTokens.Length:N0} training and {validationTokens.Length:N0} validation tokens are too few for windows of {context} + 1; use a longer text or a smaller --context");
        using var output = OutputDirectory.Prepare(s.Out ?? Path.Combine("runs", s.Model));
        string outDir = output.Path;

        Generator.Default.ManualSeed((ulong)s.Seed);
        var generator = new Generator((ulong)s.Seed);
        var windows = new Generator((ulong)s.Seed + 2);
        var config = new GptConfig(tokenizer.VocabSize, g.LayersOrDefault, g.HeadsOrDefault, g.WidthOrDefault, context, g.Dropout ?? GptTrainOptions.DefaultDropout);
        Gpt model;
        try
        {
            model = new Gpt(config, generator: generator) { Tokenizer = tokenizer };
        }
        catch (ArgumentException e)
        {
            throw new CliException(CliRunner.OneLine(e));
        }
        double lr = s.Lr ?? GptTrainOptions.DefaultLr;
        double weightDecay = g.WeightDecay ?? GptTrainOptions.DefaultWeightDecay;
        string optimizerName = g.OptimizerGiven ? s.Optimizer : "adamw";
        var optimizer = optimizerName == "adamw"
            ? new AdamW(AdamW.WeightDecayGroups(model.Parameters(), new AdamWOptions(Lr: lr, Beta2: GptTrainOptions.Beta2, WeightDecay: weightDecay)))
            : Choices.CreateOptimizer(optimizerName, model.Parameters(), lr);
        int stepsPerEpoch = g.StepsPerEpoch ?? GptTrainOptions.DefaultStepsPerEpoch;
        int totalSteps = (int)Math.Min(int.MaxValue - 1, (long)epochs * stepsPerEpoch);
        int warmup = Math.Min(g.Warmup ?? GptTrainOptions.DefaultWarmup, totalSteps);
        double minLr = g.MinLr ?? lr * GptTrainOptions.DefaultMinLrFactor;
        var (scheduler, perBatch) = s.Schedule == "cosine"
            ? (new WarmupCosineLR(optimizer, warmup, totalSteps, minLr), true)
            : Choices.CreateSchedule(s.Schedule, optimizer, epochs, stepsPerEpoch, cosinePerBatch: true);
        var settings = s with { Epochs = epochs, BatchSize = batch };
        using var monitors = RunMonitors.Create(settings, outDir, model);
        var trainer = new Trainer(model, optimizer, new TrainerOptions
        {
            Monitors = monitors.Monitors,
            LanguageModel = new LanguageModelOptions { BatchSize = batch, SequenceLength = context, StepsPerEpoch = stepsPerEpoch, WindowGenerator = windows },
            GradientAccumulationSteps = g.GradAccum ?? 1,
            ClipGradNorm = GptTrainOptions.ClipNorm,
            Scheduler = scheduler,
            SchedulerPerBatch = perBatch,
            Reporter = new PerplexityReporter(new ConsoleReporter { RateUnit = unit + "s/s" }, unit),
            Generators = [generator],
        });
        List<Dictionary<string, double>> earlier = [];
        if (s.Resume is not null)
        {
            TrainCommand.Resume(settings, trainer.LoadCheckpoint, () => trainer.Epoch);
            earlier = EarlierHistory(s.Resume, outDir, trainer.Epoch);
            AnsiConsole.MarkupLine(Markup.Escape($"resumed from {s.Resume} after epoch {trainer.Epoch} (step {trainer.Step}); training to epoch {epochs}"));
        }
        AnsiConsole.MarkupLine(Markup.Escape($"gpt on {dataName} ({tokenizer.Name} tokens): {trainTokens.Length:N0} train / {validationTokens.Length:N0} validation tokens, " +
            $"vocabulary {tokenizer.VocabSize:N0}; {config.Layers} layers, {config.Heads} heads, width {config.Width}, context {config.Context}, dropout {config.Dropout}, " +
            $"{model.ParameterCount:N0} parameters; {optimizerName} lr {lr.ToString(CultureInfo.InvariantCulture)} " +
            $"({(s.Schedule == "cosine" ? $"warm-up {warmup}, cosine to {minLr.ToString(CultureInfo.InvariantCulture)}" : s.Schedule)}), weight decay {weightDecay.ToString(CultureInfo.InvariantCulture)}, " +
            $"batch {batch} x {context}{(g.GradAccum is int acc and > 1 ? $" x {acc} accumulated" : "")}, {epochs} epochs of {stepsPerEpoch} steps, clip {GptTrainOptions.ClipNorm}, {Compute.Threads} threads"));

        TrainingHistory history;
        using (Interruption.Current.BeginGraceful("training"))
            history = trainer.Fit(trainTokens, validationTokens, epochs, Callbacks(output, monitors), Interruption.Current.Token);
        if (history.Interrupted) return TrainCommand.Interrupted(outDir, output, trainer.SaveCheckpoint, trainer.Epoch, trainer.InterruptedAt?.Batch ?? 0);

        double validation = history.Epochs.Count > 0 ? history.Epochs[^1]["val_loss"] : trainer.Evaluate(validationTokens).Loss;
        model.Save(Path.Combine(outDir, "model.safetensors")); // metadata: model name, configuration, tokenizer (and characters)
        if (tokenizer is CharTokenizer chars) chars.Vocabulary.Save(Path.Combine(outDir, "vocab.json"));
        AtomicFile.WriteAllText(Path.Combine(outDir, "gpt.json"), config.ToJson());

        string prime = SamplePrime;
        try
        {
            tokenizer.Encode(prime);
        }
        catch (ArgumentException)
        {
            prime = "";
        }
        string sample = model.Sample(prime, 300, new SamplingOptions(0.8), (ulong)s.Seed);
        var rows = earlier.Concat(history.Epochs.Select(e => new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 })).ToList();
        var metrics = LanguageModelMetrics.From(settings, dataName, null, model.ParameterCount, lr, validation, rows, history.WallSeconds, trainer.Epoch, sample) with
        {
            Gpt = config,
            Tokenizer = tokenizer.Name,
            SequenceLength = context,
            Optimizer = optimizerName,
            ClipGradNorm = GptTrainOptions.ClipNorm,
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(metrics, LanguageModelJson.Default.LanguageModelMetrics));
        output.Complete();
        Summary(metrics, outDir, unit);
        AnsiConsole.MarkupLine("[bold]sample[/] (temperature 0.8):");
        AnsiConsole.WriteLine(sample);
        monitors.Finish(s, outDir);
        return 0;
    }

    /// <summary>Rank 0's callbacks: DIR/checkpoint/{last,best}.safetensors after every epoch, and the dashboard's layer statistics when it is open.</summary>
    private static List<ICallback> Callbacks(OutputDirectory output, RunMonitors monitors)
    {
        List<ICallback> callbacks = [new ModelCheckpoint(output.Sub("checkpoint"))];
        if (monitors.DashboardRecorder() is { } recorder) callbacks.Add(recorder);
        return callbacks;
    }

    /// <summary>The epochs before the resume, from DIR/metrics.json or the checkpoint's run folder (rows up to <paramref name="epoch"/>).</summary>
    private static List<Dictionary<string, double>> EarlierHistory(string resume, string outDir, int epoch)
    {
        var runDir = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(resume)));
        foreach (var path in new[] { Path.Combine(outDir, "metrics.json"), runDir is null ? null : Path.Combine(runDir, "metrics.json") })
        {
            if (path is null || !File.Exists(path)) continue;
            try
            {
                var previous = JsonSerializer.Deserialize(File.ReadAllText(path), LanguageModelJson.Default.LanguageModelMetrics);
                return previous?.History?.Where(r => r.TryGetValue("epoch", out double e) && e <= epoch).ToList() ?? [];
            }
            catch (JsonException e)
            {
                throw new CliException($"--resume: the history of the earlier epochs, '{path}', is not readable: {e.Message}");
            }
        }
        return [];
    }

    /// <summary>The corpus: tinyshakespeare (default; also for the image default "fashion-mnist") or text:PATH.</summary>
    private static (string Name, string Text) LoadText(string spec, string? dataDir)
    {
        if (dataDir is not null && !Directory.Exists(dataDir)) throw new CliException($"--data-dir: directory '{dataDir}' does not exist");
        if (spec.StartsWith("text:", StringComparison.Ordinal))
        {
            if (dataDir is not null) throw new CliException($"--data-dir applies to tinyshakespeare; --data {spec} names its file itself");
            var path = spec[5..];
            if (!File.Exists(path)) throw new CliException($"--data: text file '{path}' not found");
            var text = File.ReadAllText(path);
            if (text.Length < 2) throw new CliException($"--data: '{path}' holds {text.Length} characters; a language model needs text");
            return (spec, text);
        }
        if (spec is not ("tinyshakespeare" or "fashion-mnist"))
            throw new CliException($"--data: character models train on text: tinyshakespeare (default) or text:PATH, got '{spec}'");
        string? file = null;
        if (dataDir is not null)
        {
            file = new[] { Path.Combine(dataDir, "input.txt"), Path.Combine(dataDir, "tinyshakespeare", "input.txt") }.FirstOrDefault(File.Exists)
                ?? throw new CliException($"--data-dir: no input.txt in '{dataDir}' or '{Path.Combine(dataDir, "tinyshakespeare")}'");
        }
        try
        {
            return ("tinyshakespeare", TinyShakespeare.Load(file));
        }
        catch (FileNotFoundException e)
        {
            throw new CliException(e.Message);
        }
    }

    private static void Summary(LanguageModelMetrics m, string outDir, string unit)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]run summary[/]");
        table.AddColumn("metric");
        table.AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("validation loss", $"{m.ValLoss:F4} nats/{unit} ({m.BitsPerChar:F3} bits/{unit})");
        table.AddRow("validation perplexity", $"{m.Perplexity:F3}");
        table.AddRow("epochs", m.Epochs.ToString(CultureInfo.InvariantCulture));
        table.AddRow("wall time", $"{m.WallSeconds:F1} s");
        table.AddRow("training throughput", $"{m.TokensPerSecond:N0} {unit}s/s");
        table.AddRow("output", Markup.Escape(outDir));
        AnsiConsole.Write(table);
    }

    /// <summary>Adds perplexity and bits per character to the console reporter's epoch line.</summary>
    private sealed class PerplexityReporter(ITrainingReporter inner, string unit) : ITrainingReporter
    {
        public void TrainBegin(int epochs, int batchesPerEpoch) => inner.TrainBegin(epochs, batchesPerEpoch);

        public void EpochBegin(int epoch, int batches) => inner.EpochBegin(epoch, batches);

        public void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond) => inner.BatchEnd(batch, meanLoss, accuracy, samplesPerSecond);

        public void EpochEnd(EpochLogs logs, int totalEpochs)
        {
            inner.EpochEnd(logs, totalEpochs);
            if (logs.Get("val_loss") is double v)
                AnsiConsole.MarkupLine($"[grey]  val {v:F4} nats/{unit} = {v / Math.Log(2):F3} bits/{unit}, perplexity {Math.Exp(v):F3}; {logs["tokens_per_second"]:N0} {unit}s/s[/]");
        }

        public void TrainEnd(TrainingHistory history) => inner.TrainEnd(history);
    }
}

/// <summary>The metrics.json of a language-model run (snake_case keys; test_loss = val_loss, samples_per_second = characters/s).</summary>
internal sealed record LanguageModelMetrics(
    string Model,
    string Data,
    double ValLoss,
    double TestLoss,
    double Perplexity,
    double BitsPerChar,
    int Epochs,
    double WallSeconds,
    double SamplesPerSecond,
    double TokensPerSecond,
    long Parameters,
    CharRnnConfig? Config,
    int BatchSize,
    int SequenceLength,
    double Lr,
    string Optimizer,
    string Schedule,
    double ClipGradNorm,
    List<Dictionary<string, double>> History,
    string Sample)
{
    /// <summary>The GPT's sizes (gpt runs; <see cref="Config"/> is then null).</summary>
    public GptConfig? Gpt { get; init; }

    /// <summary>A data-parallel run's compute/communication split on rank 0 (DataParallel.Statistics over every step), else null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Distributed.DataParallelStatistics? Communication { get; init; }

    /// <summary>"char" or "gpt2" (gpt runs); losses are per token of this tokenizer.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>The metrics of a run; <paramref name="rows"/> holds every epoch (those before a resume included), with 1-based "epoch".</summary>
    public static LanguageModelMetrics From(TrainCommand.TrainSettings s, string data, CharRnnConfig? config, long parameters, double lr, double validation,
        List<Dictionary<string, double>> rows, double wallSeconds, int epochs, string sample)
    {
        double tps = rows.Count > 0 ? rows.Average(r => r.GetValueOrDefault("tokens_per_second")) : 0;
        return new LanguageModelMetrics(s.Model, data, validation, validation, Math.Exp(validation), validation / Math.Log(2), epochs, wallSeconds,
            tps, tps, parameters, config, s.BatchSize, LanguageModelTraining.SequenceLength, lr, s.Optimizer, s.Schedule, LanguageModelTraining.ClipNorm, rows, sample);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(LanguageModelMetrics))]
internal sealed partial class LanguageModelJson : JsonSerializerContext;
