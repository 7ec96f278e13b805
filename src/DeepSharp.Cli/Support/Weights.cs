using DeepSharp.NN;
using DeepSharp.Serialization;

namespace DeepSharp.Cli.Support;

/// <summary>--weights: a .safetensors file or a run folder, and the model it was saved from.</summary>
internal static class Weights
{
    /// <summary>The metadata key naming the zoo model a file holds (written by train, in model.safetensors and checkpoints).</summary>
    public const string ModelKey = "model";

    /// <summary>Metadata keys of what a classifier was trained on: class names (one per line), input channels and image side.</summary>
    public const string ClassesKey = "classes", ChannelsKey = "input_channels", ImageSizeKey = "image_size";

    public const string Help = "weights: a run folder (uses its model.safetensors, else checkpoint/best or last) or a .safetensors file (model or checkpoint)";

    /// <summary>A file as given; a run folder's model.safetensors, else its checkpoint/best.safetensors or checkpoint/last.safetensors.</summary>
    public static string Resolve(string weights)
    {
        if (File.Exists(weights)) return weights;
        if (!Directory.Exists(weights)) throw new CliException($"--weights: '{weights}' is neither a file nor a directory");
        string[] candidates = [Path.Combine(weights, "model.safetensors"), Path.Combine(weights, "checkpoint", "best.safetensors"), Path.Combine(weights, "checkpoint", "last.safetensors")];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new CliException($"--weights: no model in '{weights}' (looked for {string.Join(", ", candidates)})");
    }

    /// <summary>The weights file behind --weights and the model it holds: --model when given (it must agree with the file), else the file's metadata.</summary>
    public static (string Path, SafeTensorsContent Content, string Model) Open(string weights, string? model, string command)
    {
        string path = Resolve(weights);
        SafeTensorsContent content;
        try
        {
            content = SafeTensors.Load(path);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--weights: cannot read '{path}': {CliRunner.OneLine(e)}");
        }
        string? saved = SavedModel(content);
        if (model is null)
            model = saved ?? throw new CliException($"{command}: --model is required: '{path}' does not say which model it holds");
        else if (saved is not null && saved != model)
            throw new CliException($"--weights: '{path}' holds the weights of model '{saved}', not '{model}'; use --model {saved} (or leave --model out)");
        return (path, content, model);
    }

    /// <summary>
    /// What train writes with a classifier's weights: the model, and the classes and image layout of its data
    /// (channels and image size 0 for a table of features).
    /// </summary>
    public static Dictionary<string, string> Metadata(string model, DataChoice data) => new()
    {
        [ModelKey] = model,
        [ClassesKey] = string.Join('\n', data.ClassNames),
        [ChannelsKey] = data.Channels.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [ImageSizeKey] = data.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Whether the weights were trained on a table of features (train records channels 0), not on images.</summary>
    public static bool TrainedOnTable(SafeTensorsContent content) =>
        content.Metadata.TryGetValue(ChannelsKey, out var c) && c == "0";

    /// <summary>The classes and image layout recorded by <see cref="Metadata"/>, or null for files written before they were.</summary>
    public static (IReadOnlyList<string> Classes, int Channels, int ImageSize)? SavedData(SafeTensorsContent content)
    {
        var m = content.Metadata;
        if (!m.TryGetValue(ClassesKey, out var classes) || classes.Length == 0
            || !m.TryGetValue(ChannelsKey, out var c) || !int.TryParse(c, System.Globalization.CultureInfo.InvariantCulture, out int channels) || channels is not (1 or 3)
            || !m.TryGetValue(ImageSizeKey, out var s) || !int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out int size) || size is < 1 or > 4096)
            return null;
        return (classes.Split('\n'), channels, size);
    }

    /// <summary>The model named in the file's metadata (train writes it), or null.</summary>
    public static string? SavedModel(SafeTensorsContent content) =>
        content.Metadata.TryGetValue(ModelKey, out var name) && name.Length > 0 ? name : null;

    /// <summary>Loads a bare state dict or the "model." part of a training checkpoint, strictly (names and shapes must match).</summary>
    public static void Load(Module model, string modelName, string path, SafeTensorsContent content)
    {
        var tensors = content.Tensors;
        if (tensors.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal)) && !model.StateDict().Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal)))
            tensors = tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
        try
        {
            model.LoadStateDict(tensors);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or InvalidOperationException)
        {
            string from = SavedModel(content) is { } saved ? $"it was saved from model '{saved}'" : "the file does not say which model it was saved from";
            throw new CliException($"--weights: '{path}' does not fit {modelName} ({from}): {CliRunner.OneLine(e)}");
        }
    }
}
