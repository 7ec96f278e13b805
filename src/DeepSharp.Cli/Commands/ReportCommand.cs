using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.Models;
using DeepSharp.Training;
using DeepSharp.Serialization;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp report RUN_DIR</c>: one self-contained HTML report of a training run, from what
/// <c>train --report</c> saved (metrics.json, insight.json, model.safetensors); attributions, filters
/// and misclassified examples are recomputed from the saved weights on the test set.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var runDir = new Argument<string>("run-dir") { Description = "the run directory written by deepsharp train (holds metrics.json and model.safetensors)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "directory holding the dataset files" };
        var output = new Option<string?>("--out") { Description = "report file (default: RUN_DIR/report.html)" };
        var command = new Command("report", "Write RUN_DIR/report.html: training curves, activations, gradient flow, confusion matrix, attributions") { runDir, dataDir, output };
        command.SetAction(p =>
        {
            var path = Generate(p.GetValue(runDir)!, p.GetValue(dataDir), p.GetValue(output));
            AnsiConsole.MarkupLine($"report: [bold]{Markup.Escape(path)}[/]");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The recorder <c>train --report</c> adds to its callbacks: statistics every 50 steps, saved to
    /// RUN_DIR/insight.json after every epoch, warnings printed as they happen. A run resumed from the checkpoint
    /// <paramref name="resumeFrom"/> continues the log in RUN_DIR, else the one of the checkpoint's run folder, so the
    /// report covers the whole run; a fresh run starts a fresh log.
    /// </summary>
    public static InsightRecorder CreateRecorder(string runDir, string? resumeFrom = null, int every = 50, Func<InsightOptions, InsightOptions>? watch = null)
    {
        InsightLog? earlier = null;
        string?[] dirs = resumeFrom is null ? [] : [runDir, Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(resumeFrom)))];
        foreach (var dir in dirs)
        {
            var path = dir is null ? null : Path.Combine(dir, InsightLog.FileName);
            if (path is null || !File.Exists(path)) continue;
            try
            {
                earlier = InsightLog.Load(path);
            }
            catch (InvalidDataException e)
            {
                throw new CliException($"--report: cannot continue the statistics of the earlier epochs: {e.Message}");
            }
            break;
        }
        var options = new InsightOptions
        {
            Every = every,
            LogPath = Path.Combine(runDir, InsightLog.FileName),
            OnWarning = PrintWarning,
        };
        return new InsightRecorder(watch is null ? options : watch(options), earlier);
    }

    /// <summary>A recorder's warning on the console, as it fires.</summary>
    public static void PrintWarning(InsightWarning w) => AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w.Message)}");

    /// <summary>Builds the report of <paramref name="runDir"/> and returns the path of the HTML file.</summary>
    public static string Generate(string runDir, string? dataDir, string? output = null)
    {
        if (!Directory.Exists(runDir)) throw new CliException($"report: run directory '{runDir}' not found");
        var metricsPath = Path.Combine(runDir, "metrics.json");
        var weightsPath = Path.Combine(runDir, "model.safetensors");
        if (!File.Exists(metricsPath)) throw new CliException($"report: '{metricsPath}' not found; train with deepsharp train --out {runDir} first");
        if (!File.Exists(weightsPath)) throw new CliException($"report: '{weightsPath}' not found; train with deepsharp train --out {runDir} first");
        // --out is checked before the (slow) report is built.
        using var folder = output is null ? null : OutputDirectory.Prepare(Path.GetDirectoryName(Path.GetFullPath(output))!, "--out");
        string json = File.ReadAllText(metricsPath);
        RunMetrics metrics;
        try
        {
            metrics = JsonSerializer.Deserialize(json, CliJson.Default.RunMetrics) ?? throw new CliException($"report: '{metricsPath}' is empty");
        }
        catch (JsonException e)
        {
            throw new CliException($"report: '{metricsPath}' is not a metrics file written by deepsharp train ({e.Message})");
        }
        SafeTensorsContent content;
        try
        {
            content = SafeTensors.Load(weightsPath);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new CliException($"report: cannot read '{weightsPath}': {CliRunner.OneLine(e)}");
        }
        string modelName = Weights.SavedModel(content) ?? metrics.Model
            ?? throw new CliException($"report: neither '{weightsPath}' nor '{metricsPath}' says which model the run trained");
        ModelCatalog.Require(modelName, "report", languageModels: true);
        var report = ModelCatalog.IsLanguageModel(modelName)
            ? LanguageModelReport(json, metricsPath, weightsPath, modelName)
            : ClassifierReport(runDir, metrics, dataDir, modelName, weightsPath, content);
        if (folder is null) return RunReport.Write(runDir, report);
        AtomicFile.WriteAllText(output!, RunReport.Render(report));
        folder.Complete();
        return output!;
    }

    private static ReportData ClassifierReport(string runDir, RunMetrics metrics, string? dataDir, string modelName, string weightsPath, SafeTensorsContent content)
    {
        var statsPath = Path.Combine(runDir, InsightLog.FileName);
        var stats = File.Exists(statsPath) ? InsightLog.Load(statsPath) : null;
        var (test, data) = TestSet(metrics.Data, dataDir);
        var model = ModelCatalog.CreateClassifier(modelName, data);
        Weights.Load(model, modelName, weightsPath, content);
        var summary = new List<KeyValuePair<string, string>>
        {
            new("model", $"{modelName} ({model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters)"),
            new("data", metrics.Data),
            new("test accuracy", metrics.TestAccuracy is double a ? ConsoleReporter.Percent(a) : "–"),
            new("test loss", metrics.TestLoss.ToString("F4", CultureInfo.InvariantCulture)),
            new("epochs", metrics.Epochs.ToString(CultureInfo.InvariantCulture)),
            new("wall time", $"{metrics.WallSeconds:F1} s"),
            new("training throughput", $"{metrics.SamplesPerSecond:N0} samples/s"),
            new("statistics", stats is null ? "not recorded (train with --report)" : $"every {stats.Every} steps, {stats.Steps.Count} records, {stats.Warnings.Count} warnings"),
        };
        return ReportBuilder.Build(model, new ReportInputs
        {
            Title = $"DeepSharp report: {modelName} on {metrics.Data}",
            TestInputs = test.Inputs,
            TestTargets = test.Targets,
            ClassNames = metrics.Classes ?? data.ClassNames,
            History = metrics.History.Select(h => (IReadOnlyDictionary<string, double>)h).ToList(),
            Statistics = stats,
            Summary = summary,
            ConfusionMatrix = metrics.ConfusionMatrix,
        });
    }

    /// <summary>
    /// The report of a character language model: summary, loss and learning-rate curves, the LSTM's gates over a
    /// sample of its own text; the class-based sections say why they are empty.
    /// </summary>
    private static ReportData LanguageModelReport(string json, string metricsPath, string weightsPath, string modelName)
    {
        LanguageModelMetrics m;
        try
        {
            m = JsonSerializer.Deserialize(json, LanguageModelJson.Default.LanguageModelMetrics) ?? throw new CliException($"report: '{metricsPath}' is empty");
        }
        catch (JsonException e)
        {
            throw new CliException($"report: '{metricsPath}' is not the metrics file of a {modelName} run ({e.Message})");
        }
        if (modelName == GptConfig.ModelName) return GptReport(m, weightsPath, modelName);
        CharRnn model;
        try
        {
            model = CharRnn.Load(weightsPath);
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"report: {e.Message}");
        }
        var summary = new List<KeyValuePair<string, string>>
        {
            new("model", $"{modelName} ({model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters; {model.Config.NumLayers}x{model.Config.HiddenSize} {model.Config.Cell.ToString().ToUpperInvariant()}, vocabulary {model.Config.VocabSize})"),
            new("data", m.Data),
            new("validation loss", $"{m.ValLoss:F4} nats/char ({m.BitsPerChar:F3} bits/char)"),
            new("validation perplexity", $"{m.Perplexity:F3}"),
            new("epochs", m.Epochs.ToString(CultureInfo.InvariantCulture)),
            new("wall time", $"{m.WallSeconds:F1} s"),
            new("training throughput", $"{m.TokensPerSecond:N0} chars/s"),
            new("sample (temperature 0.8)", m.Sample),
            new("statistics", "not recorded: activation and gradient statistics are recorded for the classifiers"),
        };
        var (attention, gates) = (new List<LabeledImage>(), new List<LabeledImage>());
        if (model.Vocabulary is { } vocabulary && m.Sample.Length > 1)
        {
            var text = new string(m.Sample.Where(ch => vocabulary.Contains(ch.ToString())).Take(80).ToArray());
            if (text.Length > 1) (attention, gates) = ReportBuilder.SequenceViews(model, Tensor.From(vocabulary.Encode(text), 1, text.Length));
        }
        string notClasses = $"{modelName} is a character language model: it predicts the next character, so there are no class predictions to show.";
        var notes = new Dictionary<string, string>
        {
            ["activations"] = "Activation statistics are recorded for the classifiers (train --report); not for character models.",
            ["gradients"] = "Gradient statistics are recorded for the classifiers (train --report); not for character models.",
            ["confusion"] = notClasses,
            ["misclassified"] = notClasses,
            ["attributions"] = "Attributions explain image classifiers; a character model has no image input.",
            ["filters"] = "A character model has no convolutional layer, so there are no filters or feature maps to show.",
        };
        if (gates.Count == 0) notes["attention"] = $"{modelName} has no LSTM or attention layer whose gates or weights could be shown.";
        return new ReportData
        {
            Title = $"DeepSharp report: {modelName} on {m.Data}",
            Summary = summary,
            History = m.History.Select(h => (IReadOnlyDictionary<string, double>)h).ToList(),
            Attention = attention,
            Gates = gates,
            Notes = notes,
        };
    }

    /// <summary>The report of a gpt run: summary, loss and learning-rate curves and its sample.</summary>
    private static ReportData GptReport(LanguageModelMetrics m, string weightsPath, string modelName)
    {
        Gpt model;
        try
        {
            model = Gpt.Load(weightsPath, TextTokenizers.Resolve);
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"report: {e.Message}");
        }
        var c = model.Config;
        string unit = model.Tokenizer?.Name == "gpt2" ? "token" : "char";
        var summary = new List<KeyValuePair<string, string>>
        {
            new("model", $"{modelName} ({model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters; {c.Layers} layers, {c.Heads} heads, width {c.Width}, context {c.Context}, vocabulary {c.VocabSize})"),
            new("tokenizer", model.Tokenizer?.Name ?? "unknown"),
            new("data", m.Data),
            new("validation loss", $"{m.ValLoss:F4} nats/{unit} ({m.BitsPerChar:F3} bits/{unit})"),
            new("validation perplexity", $"{m.Perplexity:F3}"),
            new("epochs", m.Epochs.ToString(CultureInfo.InvariantCulture)),
            new("wall time", $"{m.WallSeconds:F1} s"),
            new("training throughput", $"{m.TokensPerSecond:N0} {unit}s/s"),
            new("sample (temperature 0.8)", m.Sample),
            new("statistics", "not recorded: activation and gradient statistics are recorded for the classifiers"),
        };
        string notClasses = $"{modelName} is a language model: it predicts the next token, so there are no class predictions to show.";
        return new ReportData
        {
            Title = $"DeepSharp report: {modelName} on {m.Data}",
            Summary = summary,
            History = m.History.Select(h => (IReadOnlyDictionary<string, double>)h).ToList(),
            Gates = [],
            Notes = new Dictionary<string, string>
            {
                ["activations"] = "Activation statistics are recorded for the classifiers (train --report); not for language models.",
                ["gradients"] = "Gradient statistics are recorded for the classifiers (train --report); not for language models.",
                ["confusion"] = notClasses,
                ["misclassified"] = notClasses,
                ["attributions"] = "Attributions explain image classifiers; a language model has no image input.",
                ["filters"] = "A GPT has no convolutional layer, so there are no filters or feature maps to show.",
            },
            Attention = GptAttention(model, m.Sample),
        };
    }

    /// <summary>Every block's and head's attention over the first tokens of the run's sample (at most 48: the maps stay legible).</summary>
    private static List<LabeledImage> GptAttention(Gpt model, string sample)
    {
        var images = new List<LabeledImage>();
        if (model.Tokenizer is not { } tokenizer || sample.Length == 0) return images;
        var ids = tokenizer.Encode(sample);
        int t = Math.Min(Math.Min(ids.Length, 48), model.Config.Context);
        if (t < 2) return images;
        var maps = model.AttentionMaps(Tensor.From(ids[..t], t));
        string shown = tokenizer.Decode(ids[..t]).Replace("\n", "⏎", StringComparison.Ordinal);
        for (int layer = 0; layer < maps.Count; layer++)
            for (int head = 0; head < maps[layer].Size(0); head++)
                images.Add(new LabeledImage(Raster.Upscale(Raster.Heat(maps[layer][head], 0, null), Math.Max(1, 144 / t)),
                    $"block {layer}, head {head}: rows = queries, columns = keys, over the first {t} tokens of the sample \"{shown}\""));
        return images;
    }

    /// <summary>The test split of --data as one tensor pair, and the dataset description the zoo needs.</summary>
    private static (TensorDataset Test, DataChoice Data) TestSet(string spec, string? dataDir)
    {
        if (spec is "fashion-mnist" or "mnist")
        {
            var options = new MnistOptions(Directory: Inputs.ImageDataDirectory(spec, dataDir, training: false));
            var test = spec == "fashion-mnist" ? FashionMnist.Test(options) : Mnist.Test(options);
            var classes = spec == "fashion-mnist" ? FashionMnist.Classes : Mnist.Classes;
            return (test, new DataChoice(spec, test, test, test, 784, classes.Count, classes));
        }
        var data = Inputs.Load(spec, dataDir, seed: 42);
        var all = Enumerable.Range(0, data.Test.Count).Select(data.Test.Get).ToList();
        return (new TensorDataset(Tensor.Stack(all.Select(s => s.Input).ToList()), Tensor.Stack(all.Select(s => s.Target).ToList())), data);
    }
}
