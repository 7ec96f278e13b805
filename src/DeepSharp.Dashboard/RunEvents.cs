using System.Text.Json.Serialization;

namespace DeepSharp.Dashboard;

// The events the page receives, one record per server-sent event type. Keys are snake_case; NaN and infinities
// travel as strings ("NaN", "Infinity"), which the page turns back into numbers.

internal sealed record RunStarted(string Title, int Epochs, int FirstEpoch, long FirstStep, int BatchesPerEpoch, int SamplesPerBatch, string RateUnit, double StartedAt);

/// <summary>
/// Steps since the previous batch of steps; <see cref="Time"/> in seconds since the run started; <see cref="Accuracy"/>
/// holds the batch accuracies of a classifier (null for other models).
/// </summary>
internal sealed record StepBatch(long[] Step, int[] Epoch, double[] Loss, double[] Lr, double[] Time, double?[] Accuracy);

internal sealed record EpochEnded(int Epoch, long Step, double Time, Dictionary<string, double> Logs);

internal sealed record WarningRaised(long Step, string Kind, string Parameter, string Message);

internal sealed record LayerStat(string Layer, string Type, double Mean, double Std, double ZeroFraction, double? Saturation);

internal sealed record GradientStat(string Layer, double GradNorm, double UpdateRatio);

internal sealed record LayersRecorded(long Step, List<LayerStat> Activations, List<GradientStat> Gradients);

internal sealed record ConfusionComputed(string Title, string[] Labels, long[][] Matrix);

internal sealed record RunEnded(string Status, double WallSeconds, string? Report);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(RunStarted))]
[JsonSerializable(typeof(StepBatch))]
[JsonSerializable(typeof(EpochEnded))]
[JsonSerializable(typeof(WarningRaised))]
[JsonSerializable(typeof(LayersRecorded))]
[JsonSerializable(typeof(ConfusionComputed))]
[JsonSerializable(typeof(RunEnded))]
internal sealed partial class DashboardJson : JsonSerializerContext;
