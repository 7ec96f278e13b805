using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using DeepSharp.Cli.Support;
using DeepSharp.Data.Text;
using DeepSharp.Kernels;
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

    /// <summary>True for the models and data this trainer handles (char-lstm, char-gru, text:PATH).</summary>
    public static bool Handles(string model, string data) =>
        model is "char-lstm" or "char-gru" || data.StartsWith("text:", StringComparison.Ordinal) || data == "tinyshakespeare";

    internal static int Run(TrainCommand.TrainSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        if (s.Model is not ("char-lstm" or "char-gru"))
            throw new CliException($"--data {s.Data} is text: train a character model with --model char-lstm or --model char-gru (got '{s.Model}')");
        if (s.Epochs < 0) throw new CliException($"--epochs must be non-negative, got {s.Epochs}");
        if (s.BatchSize <= 0) throw new CliException($"--batch-size must be positive, got {s.BatchSize}");
        if (s.Threads is int t)
        {
            if (t < 1) throw new CliException($"--threads must be at least 1, got {t}");
            WorkerPool.Threads = t;
        }
        if (s.Augment is not null) throw new CliException("--augment applies to image data; character models train on text without augmentation");
        if (s.Resume is not null && !File.Exists(s.Resume)) throw new CliException($"--resume: checkpoint '{s.Resume}' not found");
        string outDir = s.Out ?? Path.Combine("runs", s.Model);
        Directory.CreateDirectory(outDir);

        var (dataName, text) = LoadText(s.Data, s.DataDir);
        var (trainText, validationText) = TinyShakespeare.Split(text, ValidationFraction);
        var vocabulary = Vocabulary.FromCharacters(text);
        var trainTokens = vocabulary.Encode(trainText);
        var validationTokens = vocabulary.Encode(validationText);
        if (trainTokens.Length < s.BatchSize * (SequenceLength + 1))
            throw new CliException($"--data: {trainTokens.Length:N0} training characters cannot fill {s.BatchSize} streams of {SequenceLength + 1}; use a longer text or a smaller --batch-size");

        Generator.Default.ManualSeed((ulong)s.Seed);
        var generator = new Generator((ulong)s.Seed);
        var config = new CharRnnConfig(vocabulary.Count, s.Model == "char-lstm" ? "lstm" : "gru");
        var model = new CharRnn(config, generator: generator) { Vocabulary = vocabulary };
        double lr = s.Lr ?? DefaultLr;
        var optimizer = Choices.CreateOptimizer(s.Optimizer, model.Parameters(), lr);
        int batchesPerEpoch = new StreamBatches(trainTokens, s.BatchSize, SequenceLength).Count;
        var (scheduler, perBatch) = CreateSchedule(s.Schedule, optimizer, s.Epochs, batchesPerEpoch);
        var trainer = new LanguageModelTrainer(model, optimizer, new LanguageModelTrainerOptions
        {
            BatchSize = s.BatchSize,
            SequenceLength = SequenceLength,
            ClipGradNorm = ClipNorm,
            Scheduler = scheduler,
            SchedulerPerBatch = perBatch,
            Reporter = new PerplexityReporter(new ConsoleReporter()),
            CheckpointDirectory = Path.Combine(outDir, "checkpoint"),
            Generators = [generator],
        });
        if (s.Resume is not null)
        {
            trainer.LoadCheckpoint(s.Resume);
            AnsiConsole.MarkupLine($"[grey]resumed from {Markup.Escape(s.Resume)} after epoch {trainer.Epoch}[/]");
        }
        AnsiConsole.MarkupLine(Markup.Escape($"{s.Model} on {dataName}: {trainTokens.Length:N0} train / {validationTokens.Length:N0} validation characters, " +
            $"{vocabulary.Count} symbols; embedding {config.EmbeddingDim}, {config.NumLayers}x{config.HiddenSize} {config.Cell.ToUpperInvariant()}, dropout {config.Dropout}, {model.ParameterCount:N0} parameters; " +
            $"{s.Optimizer} lr {lr.ToString(CultureInfo.InvariantCulture)} ({s.Schedule}), batch {s.BatchSize} x {SequenceLength} steps, clip {ClipNorm}, {WorkerPool.Threads} threads"));

        var history = trainer.Fit(trainTokens, validationTokens, s.Epochs);
        double validation = history.Epochs.Count > 0 ? history.Epochs[^1]["val_loss"] : trainer.Evaluate(validationTokens);
        model.Save(Path.Combine(outDir, "model.safetensors"));
        vocabulary.Save(Path.Combine(outDir, "vocab.json"));
        AtomicFile.WriteAllText(Path.Combine(outDir, "char_rnn.json"), config.ToJson());

        string prime = validationText.Length > 0 && SamplePrime.All(c => vocabulary.Contains(c.ToString())) ? SamplePrime : "";
        string sample = model.Sample(prime, 300, new SamplingOptions(0.8), (ulong)s.Seed);
        var metrics = LanguageModelMetrics.From(s, dataName, config, model.ParameterCount, lr, validation, history, trainer.Epoch, sample);
        AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(metrics, LanguageModelJson.Default.LanguageModelMetrics));
        Summary(metrics, outDir);
        AnsiConsole.MarkupLine("[bold]sample[/] (temperature 0.8):");
        Console.WriteLine(sample);
        return 0;
    }

    /// <summary>The corpus: tinyshakespeare (default; also for the image default "fashion-mnist") or text:PATH.</summary>
    private static (string Name, string Text) LoadText(string spec, string? dataDir)
    {
        if (spec.StartsWith("text:", StringComparison.Ordinal))
        {
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

    /// <summary>cosine: anneal to 0 over all batches of the run (stepped per batch); step: x0.1 every third of the epochs; none.</summary>
    private static (LRScheduler? Scheduler, bool PerBatch) CreateSchedule(string name, Optimizer optimizer, int epochs, int batchesPerEpoch) => name switch
    {
        "cosine" => (new CosineAnnealingLR(optimizer, Math.Max(epochs * batchesPerEpoch, 1)), true),
        "step" => (new StepLR(optimizer, Math.Max(epochs / 3, 1), 0.1), false),
        "none" => (null, false),
        _ => throw new CliException($"unknown --lr-schedule '{name}'; expected cosine, step or none"),
    };

    private static void Summary(LanguageModelMetrics m, string outDir)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]run summary[/]");
        table.AddColumn("metric");
        table.AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("validation loss", $"{m.ValLoss:F4} nats/char ({m.BitsPerChar:F3} bits/char)");
        table.AddRow("validation perplexity", $"{m.Perplexity:F3}");
        table.AddRow("epochs", m.Epochs.ToString(CultureInfo.InvariantCulture));
        table.AddRow("wall time", $"{m.WallSeconds:F1} s");
        table.AddRow("training throughput", $"{m.TokensPerSecond:N0} chars/s");
        table.AddRow("output", Markup.Escape(outDir));
        AnsiConsole.Write(table);
    }

    /// <summary>Adds perplexity and bits per character to the console reporter's epoch line.</summary>
    private sealed class PerplexityReporter(ITrainingReporter inner) : ITrainingReporter
    {
        public void TrainBegin(int epochs, int batchesPerEpoch) => inner.TrainBegin(epochs, batchesPerEpoch);

        public void EpochBegin(int epoch, int batches) => inner.EpochBegin(epoch, batches);

        public void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond) => inner.BatchEnd(batch, meanLoss, accuracy, samplesPerSecond);

        public void EpochEnd(EpochLogs logs, int totalEpochs)
        {
            inner.EpochEnd(logs, totalEpochs);
            if (logs.Get("val_loss") is double v)
                AnsiConsole.MarkupLine($"[grey]  val {v:F4} nats/char = {v / Math.Log(2):F3} bits/char, perplexity {Math.Exp(v):F3}; {logs["tokens_per_second"]:N0} chars/s[/]");
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
    CharRnnConfig Config,
    int BatchSize,
    int SequenceLength,
    double Lr,
    string Optimizer,
    string Schedule,
    double ClipGradNorm,
    List<Dictionary<string, double>> History,
    string Sample)
{
    public static LanguageModelMetrics From(TrainCommand.TrainSettings s, string data, CharRnnConfig config, long parameters, double lr, double validation,
        TrainingHistory history, int epochs, string sample)
    {
        var rows = history.Epochs.Select(e => new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 }).ToList();
        double tps = rows.Count > 0 ? rows.Average(r => r.GetValueOrDefault("tokens_per_second")) : 0;
        return new LanguageModelMetrics(s.Model, data, validation, validation, Math.Exp(validation), validation / Math.Log(2), epochs, history.WallSeconds,
            tps, tps, parameters, config, s.BatchSize, LanguageModelTraining.SequenceLength, lr, s.Optimizer, s.Schedule, LanguageModelTraining.ClipNorm, rows, sample);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(LanguageModelMetrics))]
internal sealed partial class LanguageModelJson : JsonSerializerContext;
