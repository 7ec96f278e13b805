using System.Runtime.CompilerServices;
using DeepSharp.NN;
using DeepSharp.Training;

namespace DeepSharp.Insight;

/// <summary>
/// Settings of an <see cref="InsightRecorder"/>. Thresholds (on the L2 norm of one parameter's gradient):
/// a norm below <see cref="VanishingThreshold"/> (1e-7) warns "vanishing"; above
/// <see cref="ExplodingThreshold"/> (1e3) warns "exploding"; NaN or infinity warns "non-finite".
/// </summary>
public sealed record InsightOptions
{
    /// <summary>Record on steps 1, 1 + Every, 1 + 2 Every, ... (default 50).</summary>
    public int Every { get; init; } = 50;

    /// <summary>Bins of each activation histogram (default 32).</summary>
    public int HistogramBins { get; init; } = 32;

    /// <summary>A parameter whose gradient norm is below this gets a "vanishing" warning (default 1e-7).</summary>
    public double VanishingThreshold { get; init; } = 1e-7;

    /// <summary>A parameter whose gradient norm is above this gets an "exploding" warning (default 1e3).</summary>
    public double ExplodingThreshold { get; init; } = 1e3;

    /// <summary>Record activation statistics of the hooked layers (default true).</summary>
    public bool RecordActivations { get; init; } = true;

    /// <summary>Record gradient norms and update ratios of the parameters (default true).</summary>
    public bool RecordGradients { get; init; } = true;

    /// <summary>
    /// Which leaf modules get activation hooks, by (dotted name, module). Default: every leaf module
    /// except the shape-only ones (Flatten, Unflatten, Identity) and Dropout.
    /// </summary>
    public Func<string, Module, bool>? LayerFilter { get; init; }

    /// <summary>Called for each warning as it is found (e.g. print it); warnings are also kept in the log.</summary>
    public Action<InsightWarning>? OnWarning { get; init; }

    /// <summary>Called with each recorded step as soon as it is complete (e.g. to show it live); records are also kept in the log.</summary>
    public Action<StepRecord>? OnStep { get; init; }

    /// <summary>When set, the log is saved there after every epoch and at the end of training.</summary>
    public string? LogPath { get; init; }
}

/// <summary>
/// A training callback that looks inside the network every <see cref="InsightOptions.Every"/> steps:
/// per-layer activation statistics through forward hooks (mean, std, exact zeros, saturation,
/// fixed-bin histograms) and per-parameter gradient norms and update-to-weight ratios, with warnings
/// for vanishing and exploding gradients. Hooks are attached only for the recorded step (after the
/// previous step ends, removed when it ends), so other steps run exactly as without the recorder.
/// It reads values only: training results are bit-identical with and without it.
/// <para>
/// Histograms have a fixed number of bins over [0, 1] for sigmoid and [-1, 1] for tanh layers, and
/// over the batch's own range (plus 5% margins) for other layers, so nothing is clipped as activations
/// grow; reports put the records of a layer on one axis with <see cref="ActivationStatistics.Rebin"/>.
/// Hooks ignore forwards in eval mode or without gradient recording (validation runs between epochs).
/// Gradient warnings are checked on recorded steps; a non-finite loss is checked on every step.
/// </para>
/// </summary>
public sealed class InsightRecorder : ICallback
{
    private static readonly HashSet<string> s_shapeOnly = ["Flatten", "Unflatten", "Identity", "Dropout"];

    private readonly List<HookHandle> _hooks = [];
    private readonly Dictionary<string, ActivationSummary> _captured = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _warningState = new(StringComparer.Ordinal);
    private readonly Dictionary<Tensor, double[]> _before = new(ReferenceEqualityComparer.Instance); // reused between records
    private bool _snapshot;
    private List<(string Name, Module Module)>? _layers;
    private Module? _model;
    private int _epoch;
    private bool _lossWarned;
    private double _lr = double.NaN; // the learning rate the armed step trains with
    private double _nextLr = double.NaN; // the learning rate the next step trains with (a per-batch scheduler moves it after each step)

    /// <param name="options">What to record and how often.</param>
    /// <param name="earlier">
    /// The log of the run this training resumes (e.g. the insight.json a checkpointed run wrote): recording continues in
    /// it. When training begins, everything recorded after the trainer's current step is dropped (a resume from an older
    /// checkpoint), and steps the log does not cover up to there are marked missing (NaN), so the log stays aligned by step.
    /// </param>
    public InsightRecorder(InsightOptions? options = null, InsightLog? earlier = null)
    {
        Options = options ?? new InsightOptions();
        if (Options.Every < 1) throw new ArgumentOutOfRangeException(nameof(options), $"InsightRecorder: Every must be at least 1, got {Options.Every}");
        if (Options.HistogramBins < 1) throw new ArgumentOutOfRangeException(nameof(options), $"InsightRecorder: HistogramBins must be at least 1, got {Options.HistogramBins}");
        Log = earlier ?? new InsightLog();
        (Log.Every, Log.VanishingThreshold, Log.ExplodingThreshold) = (Options.Every, Options.VanishingThreshold, Options.ExplodingThreshold);
    }

    /// <summary>What is recorded and how often.</summary>
    public InsightOptions Options { get; }

    /// <summary>What has been recorded so far (the earlier run's log when resuming).</summary>
    public InsightLog Log { get; }

    /// <summary>True between <see cref="RecordNextStep"/> and <see cref="CompleteStep"/>: hooks are attached.</summary>
    public bool Armed { get; private set; }

    /// <summary>Whether step <paramref name="step"/> (1-based) is recorded.</summary>
    public bool IsRecordedStep(long step) => (step - 1) % Options.Every == 0;

    // ---- ICallback ----

    /// <summary>Aligns the log with the trainer's step and arms the hooks if the first step is recorded.</summary>
    public void OnTrainBegin(Trainer trainer)
    {
        ContinueAt(trainer.Step);
        if (Log.BatchLosses.Count == 0) Log.FirstStep = trainer.Step + 1;
        _nextLr = trainer.Optimizer.ParamGroups[0].Lr;
        if (IsRecordedStep(trainer.Step + 1)) Arm(trainer);
    }

    /// <summary>Notes the epoch and the learning rate the next step trains with.</summary>
    public void OnEpochBegin(Trainer trainer, int epoch)
    {
        _epoch = epoch;
        _nextLr = trainer.Optimizer.ParamGroups[0].Lr; // an epoch scheduler has just stepped
        if (Armed) _lr = _nextLr;
    }

    /// <summary>Appends the batch loss and learning rate, warns once about a non-finite loss, completes an armed step and arms the next recorded one.</summary>
    public void OnBatchEnd(Trainer trainer, long step, double loss)
    {
        Log.BatchLosses.Add(loss);
        Log.Lrs.Add(_nextLr);
        _nextLr = trainer.Optimizer.ParamGroups[0].Lr;
        if (!double.IsFinite(loss) && !_lossWarned)
        {
            _lossWarned = true;
            Warn(new InsightWarning(step, "loss", "non-finite-loss", loss, $"step {step}: the loss is {loss} (training diverged; lower the learning rate or clip gradients)"));
        }
        if (Armed) CompleteStep(trainer.Model, step, loss, _epoch, _lr);
        if (IsRecordedStep(step + 1)) Arm(trainer);
    }

    private void Arm(Trainer trainer)
    {
        RecordNextStep(trainer.Model);
        _lr = trainer.Optimizer.ParamGroups[0].Lr;
    }

    /// <summary>Marks the epoch's end and saves the log when <see cref="InsightOptions.LogPath"/> is set.</summary>
    public void OnEpochEnd(Trainer trainer, EpochLogs logs)
    {
        Log.EpochEnds.Add(trainer.Step);
        if (Options.LogPath is { } path) Log.Save(path);
    }

    /// <summary>Removes the hooks and saves the log when <see cref="InsightOptions.LogPath"/> is set.</summary>
    public void OnTrainEnd(Trainer trainer, TrainingHistory history)
    {
        Disarm();
        if (Options.LogPath is { } path) Log.Save(path);
    }

    /// <summary>Aligns an earlier log with a trainer at <paramref name="step"/>: later records are dropped, missing steps filled with NaN.</summary>
    private void ContinueAt(long step)
    {
        if (Log.BatchLosses.Count == 0) return;
        long keep = step - Log.FirstStep + 1;
        if (keep < 0)
        {
            // The log starts after the checkpoint: nothing in it belongs to this run's past.
            (Log.BatchLosses, Log.Lrs, Log.Steps, Log.EpochEnds, Log.Warnings) = ([], [], [], [], []);
            return;
        }
        while (Log.Lrs.Count < Log.BatchLosses.Count) Log.Lrs.Add(double.NaN); // a log from before learning rates were recorded
        foreach (var list in new[] { Log.BatchLosses, Log.Lrs })
        {
            if (list.Count > keep) list.RemoveRange((int)keep, list.Count - (int)keep);
            while (list.Count < keep) list.Add(double.NaN);
        }
        Log.Steps.RemoveAll(s => s.Step > step);
        Log.EpochEnds.RemoveAll(e => e > step);
        Log.Warnings.RemoveAll(w => w.Step > step);
    }

    // ---- manual use (custom training loops) ----

    /// <summary>
    /// Attaches the forward hooks and snapshots the weights; call before the forward of the step to
    /// record, then call <see cref="CompleteStep"/> after the optimizer step.
    /// </summary>
    public void RecordNextStep(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Armed) Disarm();
        if (_model is not null && !ReferenceEquals(_model, model))
        {
            _layers = null;
            _before.Clear();
        }
        _model = model;
        _captured.Clear();
        if (Options.RecordActivations)
        {
            _layers ??= SelectLayers(model);
            foreach (var (name, module) in _layers)
            {
                var kind = ActivationStatistics.Detect(module);
                _hooks.Add(module.RegisterForwardHook((m, _, output) => Capture(name, m, kind, output)));
            }
        }
        if (Options.RecordGradients)
        {
            foreach (var p in model.Parameters())
            {
                if (!_before.TryGetValue(p, out var buffer) || buffer.Length != p.Numel) _before[p] = buffer = new double[p.Numel];
                TensorValues.CopyTo(p, buffer);
            }
            _snapshot = true;
        }
        Armed = true;
    }

    /// <summary>Removes the hooks and stores the step's activations, gradients and updates in <see cref="Log"/>.</summary>
    public StepRecord CompleteStep(Module model, long step, double loss, int epoch = 0, double lr = double.NaN)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!Armed) throw new InvalidOperationException($"InsightRecorder: step {step} was not armed; call RecordNextStep before its forward pass");
        Disarm();
        var activations = new List<ActivationSummary>();
        foreach (var (name, _) in _layers ?? [])
            if (_captured.TryGetValue(name, out var summary)) activations.Add(summary);
        if (Log.Layers.Count == 0) foreach (var a in activations) Log.Layers.Add(new LayerInfo(a.Layer, a.Type, a.Shape));
        var gradients = Options.RecordGradients ? Gradients(model, step) : [];
        _snapshot = false;
        var record = new StepRecord(step, epoch, loss, lr, activations, gradients);
        Log.Steps.Add(record);
        Options.OnStep?.Invoke(record);
        return record;
    }

    private void Disarm()
    {
        foreach (var h in _hooks) h.Dispose();
        _hooks.Clear();
        Armed = false;
    }

    private List<(string, Module)> SelectLayers(Module model)
    {
        var filter = Options.LayerFilter ?? DefaultFilter;
        var layers = new List<(string, Module)>();
        foreach (var (path, module) in model.NamedModules())
        {
            if (module.Children().Any()) continue; // containers: their leaves are hooked instead
            string name = path.Length == 0 ? module.TypeName : path; // a model that is a single layer
            if (filter(name, module)) layers.Add((name, module));
        }
        return layers;
    }

    private static bool DefaultFilter(string name, Module module) => !s_shapeOnly.Contains(module.TypeName);

    private void Capture(string name, Module module, SaturationKind kind, object? output)
    {
        // Validation forwards between epochs run in eval mode without gradients: not a training step.
        // Tuple outputs (RNN (output, h_n), attention (context, weights)): the first element.
        if (output is ITuple { Length: > 0 } tuple) output = tuple[0];
        if (output is not Tensor t || !module.Training || !Autograd.IsGradEnabled || !t.IsFloatingPoint || _captured.ContainsKey(name)) return;
        _captured[name] = ActivationStatistics.Compute(name, module.TypeName, t, kind, Options.HistogramBins, ActivationStatistics.NaturalRange(kind));
    }

    private List<ParameterGradient> Gradients(Module model, long step)
    {
        var result = new List<ParameterGradient>();
        foreach (var (name, p) in model.NamedParameters())
        {
            if (p.Grad is null) continue;
            double grad = Math.Sqrt(TensorValues.SumSquares(p.Grad));
            double weight = Math.Sqrt(TensorValues.SumSquares(p));
            double[]? before = _snapshot && _before.TryGetValue(p, out var b) ? b : null;
            double update = before is null ? double.NaN : Math.Sqrt(TensorValues.DistanceSquared(p, before));
            double beforeNorm = before is null ? weight : Norm(before);
            int dot = name.LastIndexOf('.');
            string layer = dot < 0 ? "(root)" : name[..dot];
            result.Add(new ParameterGradient(name, layer, grad, weight, update, beforeNorm > 0 ? update / beforeNorm : double.NaN));
            CheckGradient(step, name, grad);
        }
        return result;
    }

    private static double Norm(double[] values)
    {
        double s = 0;
        foreach (double v in values) s += v * v;
        return Math.Sqrt(s);
    }

    /// <summary>Warns when a parameter enters the vanishing, exploding or non-finite state (once, until it recovers).</summary>
    private void CheckGradient(long step, string parameter, double norm)
    {
        string? kind = !double.IsFinite(norm) ? "non-finite"
            : norm > Options.ExplodingThreshold ? "exploding"
            : norm < Options.VanishingThreshold ? "vanishing"
            : null;
        _warningState.TryGetValue(parameter, out var previous);
        if (kind == previous) return;
        if (kind is null)
        {
            _warningState.Remove(parameter);
            return;
        }
        _warningState[parameter] = kind;
        string message = kind switch
        {
            "non-finite" => $"step {step}: gradient of {parameter} is not finite ({norm}); training has diverged",
            "exploding" => $"step {step}: exploding gradient in {parameter}: norm {norm:G3} > {Options.ExplodingThreshold:G3} (lower the learning rate or clip gradients)",
            _ => $"step {step}: vanishing gradient in {parameter}: norm {norm:G3} < {Options.VanishingThreshold:G3} (saturated or dead units upstream?)",
        };
        Warn(new InsightWarning(step, parameter, kind, norm, message));
    }

    private void Warn(InsightWarning warning)
    {
        Log.Warnings.Add(warning);
        Options.OnWarning?.Invoke(warning);
    }
}
