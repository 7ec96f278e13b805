using System.CommandLine;
using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Inference;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp predict</c>: class probabilities for one image (JPEG, PNG, BMP, GIF, PGM, …, or one entry of an IDX file).</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = ModelCatalog.Help(languageModels: false) + " (default: the model named in the weights file)" };
        var weights = new Option<string>("--weights") { Description = Weights.Help, Required = true };
        var input = new Option<string>("--input") { Description = "an image (JPEG, PNG, BMP, GIF, PGM, …), or an IDX images file (with --index)", Required = true };
        var index = new Option<int>("--index") { Description = "image index inside an IDX file", DefaultValueFactory = _ => 0 };
        var data = new Option<string>("--data") { Description = "dataset whose class names to use for weights that do not record their own (fashion-mnist or mnist)", DefaultValueFactory = _ => "fashion-mnist" };
        var command = new Command("predict", "Class probabilities for one image") { model, weights, input, index, data };
        command.SetAction(p => Run(p.GetValue(model), p.GetValue(weights)!, p.GetValue(input)!, p.GetValue(index), p.GetValue(data)!));
        return command;
    }

    private static int Run(string? modelOption, string weights, string inputPath, int index, string dataName)
    {
        if (modelOption is not null) ModelCatalog.Require(modelOption, "predict", languageModels: false);
        if (dataName is not ("fashion-mnist" or "mnist")) throw new CliException($"predict: --data names the class names to use: fashion-mnist or mnist, got '{dataName}'");
        var (path, content, modelName) = Weights.Open(weights, modelOption, "predict");
        ModelCatalog.Require(modelName, "predict", languageModels: false);
        if (!File.Exists(inputPath)) throw new CliException($"--input: file '{inputPath}' not found");
        if (Weights.TrainedOnTable(content))
            throw new CliException($"predict: '{path}' was trained on a table of features, and predict classifies images; use deepsharp eval --data csv:PATH for it");
        // Weights trained by this version say what they were trained on (classes, channels, image size); older ones are 28x28 gray.
        var (classes, channels, size) = Weights.SavedData(content) ?? (dataName == "mnist" ? Mnist.Classes : FashionMnist.Classes, 1, 28);
        var image = LoadImage(inputPath, index, channels, size);
        var model = ModelCatalog.CreateClassifier(modelName, channels * size * size, classes.Count, channels, size);
        Weights.Load(model, modelName, path, content);
        model.Eval();
        Tensor probabilities;
        using (Autograd.NoGrad())
        {
            var logits = InferenceModel.Prepare(model, 1, channels, size, size).Run(image.Reshape(1, channels, size, size));
            probabilities = logits.Size(1) == 1 ? Tensor.Cat([logits.Sigmoid().RSub(1), logits.Sigmoid()], 1) : logits.Softmax(1);
        }
        var p = probabilities.Reshape(-1).ToDoubleArray();
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(Path.GetFileName(inputPath))}[/]");
        table.AddColumn("class");
        table.AddColumn(new TableColumn("probability").RightAligned());
        table.AddColumn("");
        foreach (int k in Enumerable.Range(0, p.Length).OrderByDescending(k => p[k]))
        {
            string name = p.Length == classes.Count ? classes[k] : k == 1 ? "positive" : "negative";
            table.AddRow(Markup.Escape(name), ConsoleReporter.Percent(p[k]), new string('#', (int)Math.Round(p[k] * 30)));
        }
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>
    /// The image as [C, S, S] in [0, 1]: a file (JPEG, PNG, BMP, GIF, PGM, …) scaled and centre-cropped as training
    /// images were, or one entry of an IDX file resized bilinearly.
    /// </summary>
    private static Tensor LoadImage(string path, int index, int channels, int size)
    {
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || path.Contains("idx", StringComparison.OrdinalIgnoreCase))
        {
            var all = IdxReader.ReadFloat32(path, 255f);
            if (all.Rank != 3) throw new CliException($"--input: IDX file '{path}' holds shape [{string.Join(", ", all.Shape.ToArray())}], expected images [N, H, W]");
            if (index < 0 || index >= all.Size(0)) throw new CliException($"--index {index} is outside the {all.Size(0)} images of '{path}'");
            var image = all[index].Unsqueeze(0);
            if (image.Size(1) != size || image.Size(2) != size) image = ImageOps.ResizeBilinear(image, size, size);
            return channels == 1 ? image : image.Expand(channels, size, size).Contiguous();
        }
        try
        {
            return ImageFolderDataset.Prepare(Image.Load(path), size, channels);
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"--input: {e.Message}");
        }
    }
}
