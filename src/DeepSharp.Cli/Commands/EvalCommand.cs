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
        var model = new Option<string?>("--model") { Description = ModelCatalog.Help(languageModels: false) + " (default: the model named in the weights file)" };
        var weights = new Option<string>("--weights") { Description = Weights.Help, Required = true };
        var data = new Option<string>("--data") { Description = Inputs.DataHelp, DefaultValueFactory = _ => "fashion-mnist" };
        var dataDir = new Option<string?>("--data-dir") { Description = "directory holding the dataset files" };
        var output = new Option<string?>("--out") { Description = "directory for metrics.json" };
        var command = new Command("eval", "Evaluate weights on the test split: accuracy, loss and confusion matrix") { model, weights, data, dataDir, output };
        command.SetAction(p => Run(p.GetValue(model), p.GetValue(weights)!, p.GetValue(data)!, p.GetValue(dataDir), p.GetValue(output)));
        return command;
    }

    private static int Run(string? modelOption, string weightsOption, string dataSpec, string? dataDir, string? outDir)
    {
        if (modelOption is not null) ModelCatalog.Require(modelOption, "eval", languageModels: false);
        var (path, content, modelName) = Weights.Open(weightsOption, modelOption, "eval");
        ModelCatalog.Require(modelName, "eval", languageModels: false);
        using var output = outDir is null ? null : OutputDirectory.Prepare(outDir);
        // An images:DIR folder is read at the image size the weights were trained at.
        var data = Inputs.Load(dataSpec, dataDir, seed: 42, training: false, imageSize: Weights.SavedData(content)?.ImageSize ?? Inputs.DefaultImageSize);
        var model = ModelCatalog.CreateClassifier(modelName, data);
        Weights.Load(model, modelName, path, content);
        var trainer = new Trainer(model, Choices.Loss(model), Choices.CreateOptimizer("sgd", model.Parameters(), 0.01),
            new TrainerOptions { CountCorrect = Choices.Accuracy(model), PreparedInference = true });
        var result = trainer.Evaluate(new DataLoader(data.Test, 1000), keepPredictions: true);
        var metrics = RunMetrics.From(modelName, data, result, [], 0, 0);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(modelName)}[/] ({Markup.Escape(path)}) on {Markup.Escape(data.Name)} test ({result.Samples:N0} samples): " +
                               (result.Accuracy is double a ? $"accuracy [green]{ConsoleReporter.Percent(a)}[/], " : "") + $"loss {result.Loss:F4}");
        if (metrics.ConfusionMatrix is not null) Report.Confusion(metrics.ConfusionMatrix, data.ClassNames);
        if (output is not null)
        {
            AtomicFile.WriteAllText(Path.Combine(output.Path, "metrics.json"), JsonSerializer.Serialize(metrics, CliJson.Default.RunMetrics));
            output.Complete();
        }
        return 0;
    }
}
