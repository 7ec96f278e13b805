using System.Text.Json;
using System.Text.Json.Serialization;
using DeepSharp.Serialization;

namespace DeepSharp.Insight;

/// <summary>
/// Gradient of one parameter on a recorded step. <see cref="UpdateRatio"/> is the update actually
/// applied by the optimizer relative to the weights, ||w_after - w_before|| / ||w_before|| (so it
/// includes momentum, Adam's scaling and weight decay); healthy training typically sits near 1e-3.
/// <see cref="GradNorm"/> is the L2 norm of the gradient the optimizer used (after any clipping).
/// </summary>
public sealed record ParameterGradient(string Parameter, string Layer, double GradNorm, double WeightNorm, double UpdateNorm, double UpdateRatio);

/// <summary>A gradient problem found on a recorded step: "vanishing", "exploding", "non-finite" or "non-finite-loss".</summary>
public sealed record InsightWarning(long Step, string Parameter, string Kind, double Norm, string Message);

/// <summary>A hooked layer: its dotted name, module type and output shape on the first recorded batch.</summary>
public sealed record LayerInfo(string Name, string Type, int[] Shape);

/// <summary>Everything recorded on one step: the batch loss, the learning rate, activations and gradients.</summary>
public sealed record StepRecord(long Step, int Epoch, double Loss, double Lr, List<ActivationSummary> Activations, List<ParameterGradient> Gradients);

/// <summary>
/// What an <see cref="InsightRecorder"/> collected during training; saved as JSON next to a run
/// (<see cref="FileName"/>) and read back by reports.
/// </summary>
public sealed class InsightLog
{
    /// <summary>The log's file name in a run folder.</summary>
    public const string FileName = "insight.json";
    /// <summary>The format tag written to and required in <see cref="Format"/>.</summary>
    public const string CurrentFormat = "deepsharp-insight-v1";

    /// <summary>Format tag of the file; <see cref="Load"/> accepts only <see cref="CurrentFormat"/>.</summary>
    public string Format { get; set; } = CurrentFormat;

    /// <summary>Statistics were recorded on steps 1, 1 + Every, 1 + 2 Every, ...</summary>
    public int Every { get; set; }

    /// <summary>Gradient norms below this were warned about as vanishing.</summary>
    public double VanishingThreshold { get; set; }

    /// <summary>Gradient norms above this were warned about as exploding.</summary>
    public double ExplodingThreshold { get; set; }

    /// <summary>The hooked layers, with their output shapes.</summary>
    public List<LayerInfo> Layers { get; set; } = [];

    /// <summary>The recorded steps, in order.</summary>
    public List<StepRecord> Steps { get; set; } = [];

    /// <summary>The loss of every training batch, in order; entry i belongs to step <see cref="FirstStep"/> + i.</summary>
    public List<double> BatchLosses { get; set; } = [];

    /// <summary>The step of <see cref="BatchLosses"/>[0].</summary>
    public long FirstStep { get; set; } = 1;

    /// <summary>The learning rate of every training batch, in order, aligned with <see cref="BatchLosses"/> (empty in logs written before it was recorded).</summary>
    public List<double> Lrs { get; set; } = [];

    /// <summary>The step count at the end of each epoch (for epoch markers on charts).</summary>
    public List<long> EpochEnds { get; set; } = [];

    /// <summary>Gradient problems found, in order.</summary>
    public List<InsightWarning> Warnings { get; set; } = [];

    /// <summary>Per layer (parameters grouped by their module path), the gradient norm sqrt(sum ||g_p||^2) on every recorded step.</summary>
    public IReadOnlyList<(string Layer, long[] Steps, double[] Norms)> LayerGradientNorms() =>
        GroupByLayer(static (g, acc) => acc + g.GradNorm * g.GradNorm, Math.Sqrt);

    /// <summary>Per layer, the update-to-weight ratio ||Δw|| / ||w|| over all its parameters on every recorded step.</summary>
    public IReadOnlyList<(string Layer, long[] Steps, double[] Ratios)> LayerUpdateRatios()
    {
        var updates = GroupByLayer(static (g, acc) => acc + g.UpdateNorm * g.UpdateNorm, Math.Sqrt);
        var weights = GroupByLayer(static (g, acc) => acc + g.WeightNorm * g.WeightNorm, Math.Sqrt);
        var result = new List<(string, long[], double[])>();
        for (int i = 0; i < updates.Count; i++)
        {
            var ratio = new double[updates[i].Values.Length];
            for (int k = 0; k < ratio.Length; k++) ratio[k] = weights[i].Values[k] > 0 ? updates[i].Values[k] / weights[i].Values[k] : double.NaN;
            result.Add((updates[i].Layer, updates[i].Steps, ratio));
        }
        return result;
    }

    private List<(string Layer, long[] Steps, double[] Values)> GroupByLayer(Func<ParameterGradient, double, double> accumulate, Func<double, double> finish)
    {
        var order = new List<string>();
        foreach (var s in Steps)
            foreach (var g in s.Gradients)
                if (!order.Contains(g.Layer)) order.Add(g.Layer);
        var result = new List<(string, long[], double[])>();
        foreach (var layer in order)
        {
            var steps = new List<long>();
            var values = new List<double>();
            foreach (var s in Steps)
            {
                double acc = 0;
                bool any = false;
                foreach (var g in s.Gradients)
                {
                    if (g.Layer != layer) continue;
                    acc = accumulate(g, acc);
                    any = true;
                }
                if (!any) continue;
                steps.Add(s.Step);
                values.Add(finish(acc));
            }
            result.Add((layer, steps.ToArray(), values.ToArray()));
        }
        return result;
    }

    /// <summary>Writes the log as JSON, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, InsightJson.Default.InsightLog));

    /// <summary>Reads a log written by <see cref="Save"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON or not in <see cref="CurrentFormat"/>.</exception>
    public static InsightLog Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"insight log '{path}' not found", path);
        InsightLog? log;
        try
        {
            log = JsonSerializer.Deserialize(File.ReadAllText(path), InsightJson.Default.InsightLog);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"insight log '{path}': not valid JSON ({ex.Message})", ex);
        }
        if (log is null || log.Format != CurrentFormat)
            throw new InvalidDataException($"insight log '{path}': format '{log?.Format}' is not '{CurrentFormat}'");
        return log;
    }
}

/// <summary>Source-generated JSON for the insight log (no reflection: AOT-safe). Keys are snake_case.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(InsightLog))]
internal sealed partial class InsightJson : JsonSerializerContext;
