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

    /// <summary>Writes a checkpoint of the model, optimizer, scheduler, generator states and progress to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The safetensors file to write.</param>
    /// <param name="model">Its state dict is stored under "model.*".</param>
    /// <param name="optimizer">Its state dict is stored under "optimizer.*"; null stores none.</param>
    /// <param name="scheduler">Its state dict is stored under "scheduler.*"; null stores none.</param>
    /// <param name="generators">Generators whose states are stored, in the order they must be restored.</param>
    /// <param name="progress">Epoch, step and data-loader position.</param>
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
            progress.Loader is { } l ? string.Create(CultureInfo.InvariantCulture, $"{l.Epoch}:{l.Seed}:{l.Offset}:{l.Batch}{(l.Samples is long n ? $":{n}" : "")}") : null);
        Dictionary<string, string> entries = metadata is null ? [] : metadata.Where(kv => kv.Key != "deepsharp").ToDictionary(kv => kv.Key, kv => kv.Value);
        entries["deepsharp"] = JsonSerializer.Serialize(meta, TrainingJson.Default.CheckpointMetadata);
        SafeTensors.Save(path, tensors, entries);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="Save"/>. Everything is parsed and checked first (file
    /// format, metadata, generator and data-loader states, and the model, optimizer and scheduler states
    /// against the objects given); only then is anything applied, so a failed load leaves every object as
    /// it was. A malformed or mismatching checkpoint is an <see cref="InvalidDataException"/> naming the problem.
    /// </summary>
    public static CheckpointProgress Load(string path, Module model, Optimizer? optimizer, LRScheduler? scheduler, IReadOnlyList<Generator> generators)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(generators);
        return Load(SafeTensors.Load(path), $"checkpoint {path}", model, optimizer, scheduler, generators);
    }

    /// <summary><see cref="Load(string, Module, Optimizer?, LRScheduler?, IReadOnlyList{Generator})"/> from a loaded file; <paramref name="where"/> starts every error.</summary>
    internal static CheckpointProgress Load(SafeTensorsContent content, string where, Module model, Optimizer? optimizer, LRScheduler? scheduler, IReadOnlyList<Generator> generators)
    {
        if (!content.Metadata.TryGetValue("deepsharp", out var json))
            throw new InvalidDataException($"{where}: not a DeepSharp checkpoint (no 'deepsharp' metadata); to load bare weights use Module.LoadStateDict");
        var meta = ParseMetadata(json, where);
        if (meta.Generators.Count != generators.Count)
            throw new InvalidDataException($"{where}: holds {meta.Generators.Count} generator states but {generators.Count} generators are being restored");

        var apply = new List<Action>
        {
            Prepare(where, "model", () => model.PrepareLoadStateDict(Part(content.Tensors, "model."), strict: true, out _)),
        };
        if (optimizer is not null) apply.Add(Prepare(where, "optimizer", () => optimizer.PrepareLoadStateDict(Part(content.Tensors, "optimizer."))));
        if (scheduler is not null) apply.Add(Prepare(where, "scheduler", () => scheduler.PrepareLoadStateDict(Part(content.Tensors, "scheduler."))));

        // Everything is valid: apply it all (none of these actions can fail).
        foreach (var action in apply) action();
        for (int i = 0; i < generators.Count; i++) generators[i].SetState(meta.Generators[i]);
        return new CheckpointProgress(meta.Epoch, meta.Step, meta.Loader);
    }

    /// <summary>Runs a state's checks, reporting a state that does not fit as invalid data of this checkpoint.</summary>
    private static Action Prepare(string where, string part, Func<Action> prepare)
    {
        try { return prepare(); }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{where}: the {part} state does not fit the {part} being restored: {e.Message}", e);
        }
    }

    private sealed record Metadata(int Epoch, long Step, List<(ulong Seed, long Offset)> Generators, DataLoaderState? Loader);

    /// <summary>The "deepsharp" metadata entry, every field checked (written by <see cref="CheckpointMetadata"/>'s serializer, PascalCase).</summary>
    private static Metadata ParseMetadata(string json, string where)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 }); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: the 'deepsharp' metadata is not valid JSON: {e.Message}", e); }
        using (doc)
        try
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: the 'deepsharp' metadata must be a JSON object, found {root.ValueKind}");
            var format = Field(root, "Format", where);
            if (format.ValueKind != JsonValueKind.String || format.GetString() != Format)
                throw new InvalidDataException($"{where}: format {format.GetRawText()} is not '{Format}'");
            var epoch = Field(root, "Epoch", where);
            int epochValue = 0;
            if (epoch.ValueKind != JsonValueKind.Number || !epoch.TryGetInt32(out epochValue) || epochValue < 0)
                throw new InvalidDataException($"{where}: 'Epoch' must be a non-negative 32-bit integer, found {epoch.GetRawText()}");
            var step = Field(root, "Step", where);
            long stepValue = 0;
            if (step.ValueKind != JsonValueKind.Number || !step.TryGetInt64(out stepValue) || stepValue < 0)
                throw new InvalidDataException($"{where}: 'Step' must be a non-negative 64-bit integer, found {step.GetRawText()}");
            var generators = Field(root, "Generators", where);
            if (generators.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{where}: 'Generators' must be an array of \"seed:offset\" strings, found {generators.ValueKind}");
            var states = new List<(ulong, long)>();
            foreach (var g in generators.EnumerateArray())
            {
                var parts = Split(g, [2], $"generator state {states.Count}", "seed:offset", where);
                states.Add((UInt64(parts[0], $"generator state {states.Count} seed", where), NonNegative(parts[1], $"generator state {states.Count} offset", where)));
            }
            DataLoaderState? loader = null;
            if (root.TryGetProperty("Loader", out var l) && l.ValueKind != JsonValueKind.Null)
            {
                // epoch:seed:offset:batch, then the position in examples of the epoch's order (any batch or world size) when known.
                var p = Split(l, [4, 5], "'Loader'", "epoch:seed:offset:batch[:samples]", where);
                loader = new DataLoaderState(checked((int)NonNegative(p[0], "loader epoch", where, int.MaxValue)), UInt64(p[1], "loader seed", where),
                    NonNegative(p[2], "loader offset", where), checked((int)NonNegative(p[3], "loader batch", where, int.MaxValue)))
                {
                    Samples = p.Length == 5 ? NonNegative(p[4], "loader samples", where, int.MaxValue) : null,
                };
            }
            return new Metadata(epochValue, stepValue, states, loader);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"{where}: the 'deepsharp' metadata holds a string that is not valid Unicode: {e.Message}", e);
        }
    }

    private static JsonElement Field(JsonElement root, string name, string where) =>
        root.TryGetProperty(name, out var value) ? value : throw new InvalidDataException($"{where}: the 'deepsharp' metadata has no '{name}'");

    private static string[] Split(JsonElement value, int[] counts, string what, string form, string where)
    {
        if (value.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: {what} must be a \"{form}\" string, found {value.GetRawText()}");
        var parts = value.GetString()!.Split(':');
        if (!counts.Contains(parts.Length))
            throw new InvalidDataException($"{where}: {what} '{value.GetString()}' has {parts.Length} field(s), expected {string.Join(" or ", counts)} ({form})");
        return parts;
    }

    private static ulong UInt64(string text, string what, string where) =>
        ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v
            : throw new InvalidDataException($"{where}: {what} '{text}' is not an integer in [0, {ulong.MaxValue}]");

    private static long NonNegative(string text, string what, string where, long max = long.MaxValue) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v <= max ? v
            : throw new InvalidDataException($"{where}: {what} '{text}' is not an integer in [0, {max}]");

    private static Dictionary<string, Tensor> Part(IReadOnlyDictionary<string, Tensor> all, string prefix) =>
        all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
}
