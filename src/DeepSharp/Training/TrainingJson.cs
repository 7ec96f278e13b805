using System.Text.Json.Serialization;

namespace DeepSharp.Training;

/// <summary>Source-generated JSON metadata (no reflection: the library stays trim- and AOT-compatible).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(List<Dictionary<string, double>>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(CheckpointMetadata))]
internal sealed partial class TrainingJson : JsonSerializerContext;
