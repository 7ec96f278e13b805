using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Insight;
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
    /// RUN_DIR/insight.json after every epoch, warnings printed as they happen.
    /// </summary>
    public static InsightRecorder CreateRecorder(string runDir, int every = 50) => new(new InsightOptions
    {
        Every = every,
        LogPath = Path.Combine(runDir, InsightLog.FileName),
        OnWarning = w => AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w.Message)}"),
    });

    /// <summary>Builds the report of <paramref name="runDir"/> and returns the path of the HTML file.</summary>
    public static string Generate(string runDir, string? dataDir, string? output = null)
    {
        if (!Directory.Exists(runDir)) throw new CliException($"report: run directory '{runDir}' not found");
        var metricsPath = Path.Combine(runDir, "metrics.json");
        var weightsPath = Path.Combine(runDir, "model.safetensors");
        if (!File.Exists(metricsPath)) throw new CliException($"report: '{metricsPath}' not found; train with deepsharp train --out {runDir} first");
        if (!File.Exists(weightsPath)) throw new CliException($"report: '{weightsPath}' not found; train with deepsharp train --out {runDir} first");
        var metrics = JsonSerializer.Deserialize(File.ReadAllText(metricsPath), CliJson.Default.RunMetrics)
            ?? throw new CliException($"report: '{metricsPath}' is empty");
        var statsPath = Path.Combine(runDir, InsightLog.FileName);
        var stats = File.Exists(statsPath) ? InsightLog.Load(statsPath) : null;
        string modelName = SafeTensors.Load(weightsPath).Metadata.TryGetValue("model", out var saved) ? saved : metrics.Model;

        var (test, data) = TestSet(metrics.Data, dataDir);
        var model = Inputs.CreateModel(modelName, data);
        Weights.Load(model, weightsPath);
        var summary = new List<KeyValuePair<string, string>>
        {
            new("model", $"{modelName} ({model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters)"),
            new("data", metrics.Data),
            new("test accuracy", metrics.TestAccuracy is double a ? a.ToString("P2", CultureInfo.InvariantCulture) : "–"),
            new("test loss", metrics.TestLoss.ToString("F4", CultureInfo.InvariantCulture)),
            new("epochs", metrics.Epochs.ToString(CultureInfo.InvariantCulture)),
            new("wall time", $"{metrics.WallSeconds:F1} s"),
            new("training throughput", $"{metrics.SamplesPerSecond:N0} samples/s"),
            new("statistics", stats is null ? "not recorded (train with --report)" : $"every {stats.Every} steps, {stats.Steps.Count} records, {stats.Warnings.Count} warnings"),
        };
        var report = ReportBuilder.Build(model, new ReportInputs
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
        if (output is null) return RunReport.Write(runDir, report);
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(output, RunReport.Render(report));
        return output;
    }

    /// <summary>The test split of --data as one tensor pair, and the dataset description the zoo needs.</summary>
    private static (TensorDataset Test, DataChoice Data) TestSet(string spec, string? dataDir)
    {
        if (spec is "fashion-mnist" or "mnist")
        {
            var options = new MnistOptions(Directory: dataDir);
            var test = spec == "fashion-mnist" ? FashionMnist.Test(options) : Mnist.Test(options);
            var classes = spec == "fashion-mnist" ? FashionMnist.Classes : Mnist.Classes;
            return (test, new DataChoice(spec, test, test, test, 784, classes.Count, classes));
        }
        var data = Inputs.Load(spec, dataDir, seed: 42);
        var all = Enumerable.Range(0, data.Test.Count).Select(data.Test.Get).ToList();
        return (new TensorDataset(Tensor.Stack(all.Select(s => s.Input).ToList()), Tensor.Stack(all.Select(s => s.Target).ToList())), data);
    }
}
