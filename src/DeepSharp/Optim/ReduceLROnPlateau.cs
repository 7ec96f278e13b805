namespace DeepSharp.Optim;

/// <summary>Whether a lower or a higher metric is better, for <see cref="ReduceLROnPlateau"/>.</summary>
public enum PlateauMode
{
    /// <summary>The monitored metric should decrease (a loss).</summary>
    Min,

    /// <summary>The monitored metric should increase (an accuracy).</summary>
    Max,
}

/// <summary>How <see cref="ReduceLROnPlateau"/> decides that a metric improved on the best so far.</summary>
public enum ThresholdMode
{
    /// <summary>Better means beyond best · (1 ∓ threshold).</summary>
    Rel,

    /// <summary>Better means beyond best ∓ threshold.</summary>
    Abs,
}

/// <summary>
/// Multiplies the learning rate by <see cref="Factor"/> when a metric has not improved for more
/// than <see cref="Patience"/> epochs, then waits <see cref="Cooldown"/> epochs before counting
/// again; never below each group's min lr (changes smaller than eps are skipped). Call
/// <see cref="Step(double)"/> with the metric once per epoch; there is no initial step.
/// </summary>
public sealed class ReduceLROnPlateau : LRScheduler
{
    private double[] _minLrs;

    /// <summary>A plateau scheduler with one minimum learning rate for every group, PyTorch's defaults otherwise.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="mode">Min for a loss (default), Max for an accuracy.</param>
    /// <param name="factor">Multiplier applied on a plateau (default 0.1; must be below 1).</param>
    /// <param name="patience">Epochs without improvement tolerated before reducing (default 10).</param>
    /// <param name="threshold">Smallest change that counts as an improvement (default 1e-4).</param>
    /// <param name="thresholdMode">Whether the threshold is relative (default) or absolute.</param>
    /// <param name="cooldown">Epochs to wait after a reduction before counting again (default 0).</param>
    /// <param name="minLr">Lower bound on every group's learning rate (default 0).</param>
    /// <param name="eps">Reductions smaller than this are skipped (default 1e-8).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is not below 1.</exception>
    public ReduceLROnPlateau(Optimizer optimizer, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10,
        double threshold = 1e-4, ThresholdMode thresholdMode = ThresholdMode.Rel, int cooldown = 0, double minLr = 0, double eps = 1e-8)
        : this(optimizer, [.. (optimizer ?? throw new ArgumentNullException(nameof(optimizer))).ParamGroups.Select(_ => minLr)],
            mode, factor, patience, threshold, thresholdMode, cooldown, eps)
    {
    }

    /// <summary>A plateau scheduler with a minimum learning rate per group; the other parameters are as in the single-bound constructor.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="minLrs">One lower bound per parameter group.</param>
    /// <param name="mode">Min for a loss (default), Max for an accuracy.</param>
    /// <param name="factor">Multiplier applied on a plateau (default 0.1; must be below 1).</param>
    /// <param name="patience">Epochs without improvement tolerated before reducing (default 10).</param>
    /// <param name="threshold">Smallest change that counts as an improvement (default 1e-4).</param>
    /// <param name="thresholdMode">Whether the threshold is relative (default) or absolute.</param>
    /// <param name="cooldown">Epochs to wait after a reduction before counting again (default 0).</param>
    /// <param name="eps">Reductions smaller than this are skipped (default 1e-8).</param>
    /// <exception cref="ArgumentException"><paramref name="minLrs"/> does not have one value per group, or <paramref name="factor"/> is not below 1.</exception>
    public ReduceLROnPlateau(Optimizer optimizer, IReadOnlyList<double> minLrs, PlateauMode mode = PlateauMode.Min, double factor = 0.1,
        int patience = 10, double threshold = 1e-4, ThresholdMode thresholdMode = ThresholdMode.Rel, int cooldown = 0, double eps = 1e-8)
        : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(minLrs);
        if (!(factor < 1.0)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "ReduceLROnPlateau: factor should be < 1.0");
        if (minLrs.Count != optimizer.ParamGroups.Count)
            throw new ArgumentException($"ReduceLROnPlateau: expected {optimizer.ParamGroups.Count} min lrs, got {minLrs.Count}");
        Mode = mode;
        Factor = factor;
        Patience = patience;
        Threshold = threshold;
        ThresholdMode = thresholdMode;
        Cooldown = cooldown;
        Eps = eps;
        _minLrs = [.. minLrs];
        LastEpoch = 0;
        Best = WorstValue(mode);
    }

    /// <summary>Whether a lower (Min) or a higher (Max) metric is better.</summary>
    public PlateauMode Mode { get; private set; }

    /// <summary>Multiplier applied to the learning rate on a plateau.</summary>
    public double Factor { get; private set; }

    /// <summary>Epochs without improvement tolerated before a reduction.</summary>
    public int Patience { get; private set; }

    /// <summary>Smallest change that counts as an improvement.</summary>
    public double Threshold { get; private set; }

    /// <summary>Whether <see cref="Threshold"/> is relative or absolute.</summary>
    public ThresholdMode ThresholdMode { get; private set; }

    /// <summary>Epochs to wait after a reduction before counting bad epochs again.</summary>
    public int Cooldown { get; private set; }

    /// <summary>Reductions smaller than this are skipped.</summary>
    public double Eps { get; private set; }

    /// <summary>Lower bound of each group's learning rate.</summary>
    public IReadOnlyList<double> MinLrs => _minLrs;

    /// <summary>The best metric seen so far (±infinity before the first step).</summary>
    public double Best { get; private set; }

    /// <summary>Consecutive epochs without improvement so far.</summary>
    public int NumBadEpochs { get; private set; }

    /// <summary>Epochs of cooldown left.</summary>
    public int CooldownCounter { get; private set; }

    /// <summary>Not available: the plateau schedule depends on the metrics it was given, which a restart cannot replay.</summary>
    public override void Restart(long steps) =>
        throw new NotSupportedException("ReduceLROnPlateau.Restart: the schedule depends on the monitored metric's history and cannot be replayed; restore its saved state instead");

    /// <summary>Not available: this scheduler needs the monitored metric.</summary>
    public override void Step() =>
        throw new InvalidOperationException("ReduceLROnPlateau.Step: pass the monitored metric, Step(metric)");

    /// <summary>Records one epoch's metric and reduces the learning rates if it has plateaued.</summary>
    public void Step(double metric)
    {
        LastEpoch++;
        if (IsBetter(metric, Best))
        {
            Best = metric;
            NumBadEpochs = 0;
        }
        else
        {
            NumBadEpochs++;
        }
        if (CooldownCounter > 0)
        {
            CooldownCounter--;
            NumBadEpochs = 0; // bad epochs in cooldown do not count
        }
        if (NumBadEpochs > Patience)
        {
            ReduceLr();
            CooldownCounter = Cooldown;
            NumBadEpochs = 0;
        }
        RecordLastLr();
    }

    /// <summary>Returns the group's current rate: this scheduler changes rates only in <see cref="Step(double)"/>.</summary>
    protected override double ComputeLr(int index, ParamGroup group) => group.Lr;

    private void ReduceLr()
    {
        var groups = Optimizer.ParamGroups;
        if (groups.Count != _minLrs.Length)
            throw new InvalidOperationException($"ReduceLROnPlateau: the optimizer has {groups.Count} parameter groups but the scheduler was created for {_minLrs.Length}");
        for (int i = 0; i < groups.Count; i++)
        {
            double old = groups[i].Lr;
            double reduced = Math.Max(old * Factor, _minLrs[i]);
            if (old - reduced > Eps) groups[i].Lr = reduced;
        }
    }

    private bool IsBetter(double a, double best) => (Mode, ThresholdMode) switch
    {
        (PlateauMode.Min, ThresholdMode.Rel) => a < best * (1.0 - Threshold),
        (PlateauMode.Min, ThresholdMode.Abs) => a < best - Threshold,
        (PlateauMode.Max, ThresholdMode.Rel) => a > best * (Threshold + 1.0),
        _ => a > best + Threshold,
    };

    private static double WorstValue(PlateauMode mode) => mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["mode"] = StateDictReader.Scalar((int)Mode);
        dict["factor"] = StateDictReader.Scalar(Factor);
        dict["patience"] = StateDictReader.Scalar(Patience);
        dict["threshold"] = StateDictReader.Scalar(Threshold);
        dict["threshold_mode"] = StateDictReader.Scalar((int)ThresholdMode);
        dict["cooldown"] = StateDictReader.Scalar(Cooldown);
        dict["eps"] = StateDictReader.Scalar(Eps);
        PutAll(dict, "min_lrs", _minLrs);
        dict["best"] = StateDictReader.Scalar(Best);
        dict["num_bad_epochs"] = StateDictReader.Scalar(NumBadEpochs);
        dict["cooldown_counter"] = StateDictReader.Scalar(CooldownCounter);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        int mode = reader.Int("mode"), thresholdMode = reader.Int("threshold_mode");
        if (mode is not (0 or 1) || thresholdMode is not (0 or 1))
            throw new ArgumentException($"ReduceLROnPlateau.LoadStateDict: unknown mode {mode} or threshold_mode {thresholdMode}");
        double factor = reader.Double("factor"), threshold = reader.Double("threshold"), eps = reader.Double("eps"), best = reader.Double("best");
        int patience = reader.Int("patience"), cooldown = reader.Int("cooldown");
        int bad = reader.Int("num_bad_epochs"), counter = reader.Int("cooldown_counter");
        var minLrs = reader.Doubles("min_lrs", _minLrs.Length);
        return () =>
        {
            (Mode, Factor, Patience, Threshold, ThresholdMode, Cooldown, Eps) = ((PlateauMode)mode, factor, patience, threshold, (ThresholdMode)thresholdMode, cooldown, eps);
            (_minLrs, Best, NumBadEpochs, CooldownCounter) = (minLrs, best, bad, counter);
        };
    }
}
