using System.Globalization;
using System.Text.Json;
using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;

namespace DeepSharp.Training;

/// <summary>Epoch, step and data-loader position stored in a checkpoint.</summary>
public sealed record CheckpointProgress(int Epoch, long Step, DataLoaderState? Loader);

internal sealed record CheckpointMetadata(string Format, int Epoch, long Step, List<string> Generators, string? Loader);

/// <summary>
/// A training checkpoint is one safetensors file: tensors "model.*", "optimizer.*", "scheduler.*" and a
/// JSON metadata entry with epoch, step, generator states and data-loader position. Nothing in it is
/// executed on load; it is written atomically (temp file, then rename).
/// </summary>
public static class Checkpoint
{
    private const string Format = "deepsharp-checkpoint-v1";

    /// <param name="metadata">Extra metadata entries stored beside the checkpoint's own (e.g. "model"); the key "deepsharp" is reserved.</param>
    public static void Save(string path, Module model, Optimizer? optimizer, LRScheduler? scheduler, IReadOnlyList<Generator> generators, CheckpointProgress progress,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (k, v) in model.StateDict()) tensors["model." + k] = v;
        if (optimizer is not null) foreach (var (k, v) in optimizer.StateDict()) tensors["optimizer." + k] = v;
        if (scheduler is not null) foreach (var (k, v) in scheduler.StateDict()) tensors["scheduler." + k] = v;
        var meta = new CheckpointMetadata(Format, progress.Epoch, progress.Step,
            generators.Select(g => $"{g.Seed.ToString(CultureInfo.InvariantCulture)}:{g.Offset.ToString(CultureInfo.InvariantCulture)}").ToList(),
            progress.Loader is { } l ? string.Create(CultureInfo.InvariantCulture, $"{l.Epoch}:{l.Seed}:{l.Offset}:{l.Batch}") : null);
        Dictionary<string, string> entries = metadata is null ? [] : metadata.Where(kv => kv.Key != "deepsharp").ToDictionary(kv => kv.Key, kv => kv.Value);
        entries["deepsharp"] = JsonSerializer.Serialize(meta, TrainingJson.Default.CheckpointMetadata);
        SafeTensors.Save(path, tensors, entries);
    }

    public static CheckpointProgress Load(string path, Module model, Optimizer? optimizer, LRScheduler? scheduler, IReadOnlyList<Generator> generators)
    {
        var content = SafeTensors.Load(path);
        if (content.Metadata is null || !content.Metadata.TryGetValue("deepsharp", out var json))
            throw new InvalidDataException($"checkpoint {path}: not a DeepSharp checkpoint (no 'deepsharp' metadata); to load bare weights use Module.LoadStateDict");
        var meta = JsonSerializer.Deserialize(json, TrainingJson.Default.CheckpointMetadata)
            ?? throw new InvalidDataException($"checkpoint {path}: unreadable metadata");
        if (meta.Format != Format) throw new InvalidDataException($"checkpoint {path}: format '{meta.Format}' is not '{Format}'");
        model.LoadStateDict(Part(content.Tensors, "model."));
        optimizer?.LoadStateDict(Part(content.Tensors, "optimizer."));
        scheduler?.LoadStateDict(Part(content.Tensors, "scheduler."));
        if (meta.Generators.Count != generators.Count)
            throw new InvalidDataException($"checkpoint {path}: holds {meta.Generators.Count} generator states but {generators.Count} generators are being restored");
        for (int i = 0; i < generators.Count; i++)
        {
            var parts = meta.Generators[i].Split(':');
            generators[i].SetState((ulong.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture)));
        }
        DataLoaderState? loader = null;
        if (meta.Loader is not null)
        {
            var p = meta.Loader.Split(':');
            loader = new DataLoaderState(int.Parse(p[0], CultureInfo.InvariantCulture), ulong.Parse(p[1], CultureInfo.InvariantCulture),
                long.Parse(p[2], CultureInfo.InvariantCulture), int.Parse(p[3], CultureInfo.InvariantCulture));
        }
        return new CheckpointProgress(meta.Epoch, meta.Step, loader);
    }

    private static Dictionary<string, Tensor> Part(IReadOnlyDictionary<string, Tensor> all, string prefix) =>
        all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
}
