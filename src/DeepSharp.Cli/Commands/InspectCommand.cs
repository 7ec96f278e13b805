using System.CommandLine;
using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp inspect</c>: attributions for one image as PNG files: the heat map over the input
/// (METHOD.png) and the raw map (METHOD_map.png; blue-white-red for signed methods).
/// </summary>
internal static class InspectCommand
{
    private static readonly string[] Methods = ["saliency", "smoothgrad", "ig", "gradcam", "occlusion"];

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = ModelCatalog.Help(languageModels: false) + " (default: the model named in the weights file)" };
        var weights = new Option<string>("--weights") { Description = Weights.Help, Required = true };
        var input = new Option<string>("--input") { Description = "a PNG or PGM image, or an IDX images file (with --index)", Required = true };
        var index = new Option<int>("--index") { Description = "image index inside an IDX file", DefaultValueFactory = _ => 0 };
        var method = new Option<string>("--method") { Description = "saliency (default), smoothgrad, ig, gradcam, occlusion or all (every method that applies to the model; the others are listed as skipped)", DefaultValueFactory = _ => "saliency" };
        var target = new Option<int?>("--target") { Description = "class to explain (default: the predicted class)" };
        var data = new Option<string>("--data") { Description = "dataset whose class names to use (fashion-mnist or mnist)", DefaultValueFactory = _ => "fashion-mnist" };
        var output = new Option<string>("--out") { Description = "output directory for the PNG files", DefaultValueFactory = _ => "inspect" };
        var command = new Command("inspect", "Explain one prediction: saliency, SmoothGrad, Integrated Gradients, Grad-CAM or occlusion maps as PNG images")
        {
            model, weights, input, index, method, target, data, output,
        };
        command.SetAction(p => Run(p.GetValue(model), p.GetValue(weights)!, p.GetValue(input)!, p.GetValue(index), p.GetValue(method)!,
            p.GetValue(target), p.GetValue(data)!, p.GetValue(output)!));
        return command;
    }

    private static int Run(string? modelOption, string weightsPath, string inputPath, int index, string method, int? target, string dataName, string outDir)
    {
        bool all = method == "all";
        var methods = all ? Methods : Methods.Contains(method) ? [method]
            : throw new CliException($"unknown --method '{method}'; expected {string.Join(", ", Methods)} or all");
        if (modelOption is not null) ModelCatalog.Require(modelOption, "inspect", languageModels: false);
        if (dataName is not ("fashion-mnist" or "mnist")) throw new CliException($"inspect: --data names the class names to use: fashion-mnist or mnist, got '{dataName}'");
        var (path, content, modelName) = Weights.Open(weightsPath, modelOption, "inspect");
        ModelCatalog.Require(modelName, "inspect", languageModels: false);
        if (!File.Exists(inputPath)) throw new CliException($"--input: file '{inputPath}' not found");
        var classes = dataName == "mnist" ? Mnist.Classes : FashionMnist.Classes;
        var model = ModelCatalog.CreateClassifier(modelName, 784, classes.Count);
        Weights.Load(model, modelName, path, content);
        model.Eval();

        var image = LoadImage(inputPath, index); // [28, 28] in [0, 1]
        var x = image.Reshape(1, 1, 28, 28);
        Tensor probabilities;
        using (Autograd.NoGrad()) probabilities = model.Call(x).Softmax(1).Reshape(-1);
        var p = probabilities.ToDoubleArray();
        int predicted = Array.IndexOf(p, p.Max());
        int c = target ?? predicted;
        if (c < 0 || c >= p.Length) throw new CliException($"--target {c} is outside the model's {p.Length} classes");
        string Name(int k) => k < classes.Count ? classes[k] : k.ToString(System.Globalization.CultureInfo.InvariantCulture);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(Path.GetFileName(inputPath))}[/]: predicted {Markup.Escape(Name(predicted))} ({ConsoleReporter.Percent(p[predicted])}); explaining class {Markup.Escape(Name(c))}");

        using var output = OutputDirectory.Prepare(outDir);
        const int scale = 8;
        Save(Raster.Upscale(Raster.Gray(image, 0, 1), scale), Path.Combine(outDir, "input.png"));
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("method");
        table.AddColumn("overlay");
        table.AddColumn("map");
        table.AddColumn("notes");
        foreach (var m in methods)
        {
            if (Skip(m, model, x) is { } reason)
            {
                if (!all) throw new CliException($"{m}: {reason}; try --method saliency");
                table.AddRow(m, "–", "–", Markup.Escape($"skipped: {reason}"));
                continue;
            }
            var (heat, signed, note) = Compute(m, model, x, c);
            string overlay = Path.Combine(outDir, m + ".png"), raw = Path.Combine(outDir, m + "_map.png");
            Tensor positive;
            using (Autograd.NoGrad()) positive = heat.Relu();
            Save(Raster.Upscale(Raster.Overlay(image, positive), scale), overlay);
            Save(Raster.Upscale(signed ? Raster.Signed(heat) : Raster.Heat(heat), scale), raw);
            table.AddRow(m, Markup.Escape(overlay), Markup.Escape(raw), Markup.Escape(note));
        }
        output.Complete();
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>Why <paramref name="method"/> does not apply to the model, or null when it does.</summary>
    private static string? Skip(string method, Module<Tensor, Tensor> model, Tensor x) => method switch
    {
        "gradcam" when GradCam.LastConvLayer(model, x) is null => "the model has no conv-like layer (output [N, C, H, W]) for Grad-CAM",
        _ => null,
    };

    /// <summary>The method's map [28, 28] (summed over channels), whether it is signed, and a note for the table.</summary>
    private static (Tensor Map, bool Signed, string Note) Compute(string method, Module<Tensor, Tensor> model, Tensor x, int target)
    {
        switch (method)
        {
            case "saliency":
                return (Plane(Attributions.Saliency(model, x, target)), false, "|∂logit/∂x|");
            case "smoothgrad":
                var o = new SmoothGradOptions();
                return (Plane(Attributions.SmoothGrad(model, x, target, o)), false, $"{o.Samples} samples, noise {o.NoiseLevel} of the input range, seed {o.Seed}");
            case "ig":
                var ig = Attributions.IntegratedGradients(model, x, target, new IntegratedGradientsOptions(Steps: 256));
                return (Plane(ig.Attributions), true, $"256 trapezoid steps from a black baseline; sum {ig.AttributionSum:G4} vs f(x) - f(0) = {ig.Score - ig.BaselineScore:G4} (error {ig.CompletenessError:G2})");
            case "gradcam":
                var layer = GradCam.LastConvLayer(model, x)!.Value;
                var cam = GradCam.Compute(model, layer.Module, x, target);
                return (cam.Map, false, $"layer {layer.Name} ({layer.Module.TypeName}), {cam.ChannelWeights.Length} channels at {cam.Coarse.Size(0)}x{cam.Coarse.Size(1)}");
            default:
                var occlusion = new OcclusionOptions();
                return (Plane(Attributions.Occlusion(model, x, target, occlusion)), true, $"{occlusion.Patch}x{occlusion.Patch} patches of {occlusion.BaselineValue}, stride {occlusion.Stride}: drop of the logit");
        }
    }

    private static Tensor Plane(Tensor attribution)
    {
        using var _ = Autograd.NoGrad();
        return attribution[0].Sum(0);
    }

    private static void Save(Image image, string path) => image.SavePng(path);

    /// <summary>The image as [28, 28] in [0, 1], resized bilinearly when needed.</summary>
    private static Tensor LoadImage(string path, int index)
    {
        Tensor image;
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || path.Contains("idx", StringComparison.OrdinalIgnoreCase))
        {
            var all = IdxReader.ReadFloat32(path, 255f);
            if (all.Rank != 3) throw new CliException($"--input: IDX file '{path}' holds shape [{string.Join(", ", all.Shape.ToArray())}], expected images [N, H, W]");
            if (index < 0 || index >= all.Size(0)) throw new CliException($"--index {index} is outside the {all.Size(0)} images of '{path}'");
            image = all[index];
        }
        else
        {
            image = Image.Load(path).ToGrayTensor();
        }
        return image.Size(0) == 28 && image.Size(1) == 28 ? image.Contiguous() : ImageOps.ResizeBilinear(image, 28, 28);
    }
}
