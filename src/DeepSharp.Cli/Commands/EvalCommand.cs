using System.CommandLine;
using System.Text.Json;
using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Serialization;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp eval</c>: accuracy and confusion matrix of saved weights on a test set.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = Inputs.ModelHelp, Required = true };
        var weights = new Option<string>("--weights") { Description = "safetensors weights (model.safetensors or a checkpoint)", Required = true };
        var data = new Option<string>("--data") { Description = Inputs.DataHelp, DefaultValueFactory = _ => "fashion-mnist" };
        var dataDir = new Option<string?>("--data-dir") { Description = "directory holding the dataset files" };
        var output = new Option<string?>("--out") { Description = "directory for metrics.json" };
        var command = new Command("eval", "Evaluate weights on the test split: accuracy, loss and confusion matrix") { model, weights, data, dataDir, output };
        command.SetAction(p => Run(p.GetValue(model)!, p.GetValue(weights)!, p.GetValue(data)!, p.GetValue(dataDir), p.GetValue(output)));
        return command;
    }

    private static int Run(string modelName, string weights, string dataSpec, string? dataDir, string? outDir)
    {
        var data = Inputs.Load(dataSpec, dataDir, seed: 42, validation: false);
        var model = Inputs.CreateModel(modelName, data);
        Weights.Load(model, weights);
        var trainer = new Trainer(model, Choices.Loss(model), Choices.CreateOptimizer("sgd", model.Parameters(), 0.01),
            new TrainerOptions { CountCorrect = Choices.Accuracy(model) });
        var result = trainer.Evaluate(new DataLoader(data.Test, 1000), keepPredictions: true);
        var metrics = RunMetrics.From(modelName, data, result, null, 0);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(modelName)}[/] on {Markup.Escape(data.Name)} test ({result.Samples:N0} samples): " +
                               (result.Accuracy is double a ? $"accuracy [green]{a:P2}[/], " : "") + $"loss {result.Loss:F4}");
        if (metrics.ConfusionMatrix is not null) Report.Confusion(metrics.ConfusionMatrix, data.ClassNames);
        if (outDir is not null)
        {
            Directory.CreateDirectory(outDir);
            AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(metrics, CliJson.Default.RunMetrics));
        }
        return 0;
    }
}
