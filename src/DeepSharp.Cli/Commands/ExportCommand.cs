using System.CommandLine;
using System.Globalization;
using DeepSharp.Cli.Support;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp export</c>: saved weights as an ONNX model (opset 17, dynamic batch) for ONNX Runtime and other ONNX tools.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = ModelCatalog.Help(languageModels: true) + " (default: the model named in the weights file)" };
        var weights = new Option<string>("--weights") { Description = Weights.Help, Required = true };
        var output = new Option<string>("--out") { Description = "the .onnx file to write", Required = true };
        var inputShape = new Option<string?>("--input-shape")
        {
            Description = "one input without the batch dimension: C,H,W for image models (default 1,28,28), or the sequence length T for char-lstm/char-gru " +
                          "(default 100; any length runs, the export only traces one), or for gpt the sequence length the graph takes (default: its context). " +
                          "The batch dimension stays dynamic.",
        };
        var command = new Command("export", "Export trained weights as an ONNX model (opset 17) that runs in ONNX Runtime") { model, weights, output, inputShape };
        command.SetAction(p => Run(p.GetValue(model), p.GetValue(weights)!, p.GetValue(output)!, p.GetValue(inputShape)));
        return command;
    }

    private static int Run(string? modelOption, string weightsOption, string outPath, string? inputShape)
    {
        if (modelOption is not null) ModelCatalog.Require(modelOption, "export", languageModels: true);
        var (path, content, name) = Weights.Open(weightsOption, modelOption, "export");
        ModelCatalog.Require(name, "export", languageModels: true);
        bool language = ModelCatalog.IsLanguageModel(name);
        Module<Tensor, Tensor> module;
        Tensor sample;
        if (name == GptConfig.ModelName)
        {
            var gpt = LoadGpt(path);
            int[] length = ParseShape(inputShape ?? gpt.Config.Context.ToString(CultureInfo.InvariantCulture));
            if (length is not [var t] || t < 1 || t > gpt.Config.Context)
                throw new CliException($"--input-shape for gpt is the sequence length T, from 1 to its context {gpt.Config.Context}, got '{inputShape}'");
            return Export(gpt, Tensor.Zeros([1, t], DType.Int64), name, path, outPath, $"[batch, {t}] int64 tokens");
        }
        int[] shape = ParseShape(inputShape ?? (language ? "100" : "1,28,28"));
        if (language)
        {
            if (shape.Length != 1) throw new CliException($"--input-shape for {name} is the sequence length T (one number), got '{inputShape}'");
            int vocabulary = content.Tensors.TryGetValue("embed.weight", out var embed) ? embed.Shape[0]
                : throw new CliException($"--weights: '{path}' has no embed.weight, so it is not a {name} model");
            module = CharRnn.Create(name, vocabulary);
            sample = Tensor.Zeros([1, shape[0]], DType.Int64);
        }
        else
        {
            if (shape.Length != 3) throw new CliException($"--input-shape is C,H,W for the zoo's classifiers, got '{inputShape}'");
            module = ModelCatalog.CreateClassifier(name, shape[0] * shape[1] * shape[2], Classes(name, content, shape), shape[0], Math.Min(shape[1], shape[2]));
            sample = Tensor.Zeros([1, .. shape]);
        }
        Weights.Load(module, name, path, content);
        return Export(module, sample, name, path, outPath, $"[batch, {string.Join(", ", shape)}]{(language ? " int64 tokens" : "")}");
    }

    private static int Export(Module<Tensor, Tensor> module, Tensor sample, string name, string path, string outPath, string inputDescription)
    {
        try
        {
            module.ExportOnnx(outPath, sample);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"export: {CliRunner.OneLine(e)}");
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} ({path}) -> {outPath}: ONNX opset {OnnxExporter.Opset}, input 'input' {inputDescription}, output 'output' (logits)"));
        return 0;
    }

    private static Gpt LoadGpt(string path)
    {
        try
        {
            return Gpt.Load(path);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw new CliException($"--weights: {CliRunner.OneLine(e)}");
        }
    }

    /// <summary>The class count the weights were trained for: the size of the model's last parameter (the classifier's bias) in the file.</summary>
    private static int Classes(string name, DeepSharp.Serialization.SafeTensorsContent content, int[] shape)
    {
        var probe = ModelCatalog.CreateClassifier(name, shape[0] * shape[1] * shape[2], 10, shape[0], Math.Min(shape[1], shape[2]));
        string last = probe.NamedParameters().Last().Name;
        var tensors = content.Tensors;
        if (!tensors.ContainsKey(last) && tensors.ContainsKey("model." + last)) last = "model." + last;
        return tensors.TryGetValue(last, out var t) && t.Rank >= 1 ? t.Shape[0] : 10;
    }

    private static int[] ParseShape(string text)
    {
        try
        {
            var shape = text.Split(',', StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            return shape.All(d => d > 0) ? shape : throw new CliException($"--input-shape dimensions must be positive, got '{text}'");
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new CliException($"--input-shape must be comma-separated integers such as 1,28,28, got '{text}'");
        }
    }
}
