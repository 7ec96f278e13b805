using DeepSharp.NN;
using DeepSharp.Serialization;

namespace DeepSharp.Cli.Support;

internal static class Weights
{
    /// <summary>Loads a bare state dict or the "model." part of a training checkpoint, strictly (names must match).</summary>
    public static void Load(Module model, string path)
    {
        if (!File.Exists(path)) throw new CliException($"--weights: file '{path}' not found");
        var content = SafeTensors.Load(path);
        var tensors = content.Tensors;
        if (tensors.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal)) && !model.StateDict().Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal)))
            tensors = tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
        model.LoadStateDict(tensors);
    }
}
