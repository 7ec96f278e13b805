using System.CommandLine;
using DeepSharp.Cli.Support;
using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp summary</c>: the layer table of a model and its parameter count.</summary>
internal static class SummaryCommand
{
    /// <summary>tinyshakespeare's vocabulary: the default --classes of a character model.</summary>
    public const int DefaultVocabulary = 65;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = ModelCatalog.Help(languageModels: true), DefaultValueFactory = _ => TrainCommand.DefaultModel };
        var inputShape = new Option<string?>("--input-shape")
        {
            Description = "one input without the batch dimension: C,H,W for image models (default 1,28,28; e.g. 3,224,224 for ImageNet), " +
                          "or the sequence length T for char-lstm/char-gru (default 100). " + ModelCatalog.LayoutRule,
        };
        var classes = new Option<int?>("--classes") { Description = $"number of output classes (default 10); for char-lstm/char-gru the vocabulary size (default {DefaultVocabulary})" };
        var command = new Command("summary", "Print a model's layers, output shapes and parameter counts") { model, inputShape, classes };
        command.SetAction(p => Run(p.GetValue(model)!, p.GetValue(inputShape), p.GetValue(classes)));
        return command;
    }

    private static int Run(string name, string? inputShape, int? classes)
    {
        Console.WriteLine(Table(name, inputShape, classes));
        return 0;
    }

    /// <summary>The summary table of <paramref name="name"/> for one input of <paramref name="inputShape"/> (null: the model's default).</summary>
    internal static string Table(string name, string? inputShape, int? classes)
    {
        ModelCatalog.Require(name, "summary", languageModels: true);
        bool language = ModelCatalog.IsLanguageModel(name);
        string text = inputShape ?? (language ? "100" : "1,28,28");
        int[] shape;
        try
        {
            shape = text.Split(',', StringSplitOptions.TrimEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new CliException($"--input-shape must be comma-separated integers such as 1,28,28, got '{text}'");
        }
        if (shape.Any(d => d <= 0)) throw new CliException($"--input-shape dimensions must be positive, got '{text}'");
        int k = classes ?? (language ? DefaultVocabulary : 10);
        if (k <= 0) throw new CliException($"--classes must be positive, got {k}");

        Module model;
        int[] input;
        DType? dtype = null;
        if (language)
        {
            if (shape.Length != 1) throw new CliException($"--input-shape for {name} is the sequence length T (one number), got '{text}'");
            model = ModelZoo.CreateLanguageModel(name, k);
            input = [1, shape[0]];
            dtype = DType.Int64;
        }
        else
        {
            if (shape.Length is not (1 or 3)) throw new CliException($"--input-shape is C,H,W for images or F for feature vectors, got '{text}'");
            int features = shape.Aggregate(1L, (a, b) => a * b) is long f && f <= int.MaxValue ? (int)f
                : throw new CliException($"--input-shape '{text}' has more than {int.MaxValue} values");
            int channels = shape.Length == 3 ? shape[0] : 1;
            int size = shape.Length == 3 ? Math.Min(shape[1], shape[2]) : 28;
            model = ModelCatalog.CreateClassifier(name, features, k, channels, size);
            input = [1, .. shape];
        }
        try
        {
            return model.Summary(input, dtype);
        }
        catch (ArgumentException e)
        {
            throw new CliException($"summary: {name} does not take inputs of shape {text}: {CliRunner.OneLine(e)}");
        }
    }
}
