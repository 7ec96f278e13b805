using System.Text.Json.Serialization;
using DeepSharp.Distributed;
using DeepSharp.Training;

namespace DeepSharp.Cli.Support;

/// <summary>The metrics.json of a run (snake_case keys).</summary>
internal sealed record RunMetrics(
    string Model,
    string Data,
    double? TestAccuracy,
    double TestLoss,
    int Epochs,
    double WallSeconds,
    double SamplesPerSecond,
    List<Dictionary<string, double>> History,
    long[][]? ConfusionMatrix,
    IReadOnlyList<string>? Classes,
    double[]? Precision,
    double[]? Recall,
    double[]? F1)
{
    /// <summary>A data-parallel run's compute/communication split on rank 0 (DataParallel.Statistics over every step), else null.</summary>
    public DataParallelStatistics? Communication { get; init; }

    /// <summary>The metrics of a run: <paramref name="epochs"/> holds every epoch's logs (those before a resume included).</summary>
    public static RunMetrics From(string model, DataChoice data, EvaluationResult test, IReadOnlyList<EpochLogs> epochs, double wallSeconds, int epochCount)
    {
        long[][]? confusion = null;
        double[]? precision = null, recall = null, f1 = null;
        if (test.Predictions is not null && test.Targets is not null)
        {
            var m = Metrics.ConfusionMatrix(test.Predictions, test.Targets, data.Classes);
            confusion = Enumerable.Range(0, data.Classes).Select(i => Enumerable.Range(0, data.Classes).Select(j => m[i, j]).ToArray()).ToArray();
            (precision, recall, f1) = Metrics.PrecisionRecallF1(m);
        }
        var rows = epochs.Select(e => new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 }).ToList();
        double sps = rows.Count > 0 ? rows.Average(r => r.GetValueOrDefault("samples_per_second")) : 0;
        return new RunMetrics(model, data.Name, test.Accuracy, test.Loss, epochCount, wallSeconds, sps, rows, confusion, data.ClassNames,
            precision, recall, f1);
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunMetrics))]
internal sealed partial class CliJson : JsonSerializerContext;
