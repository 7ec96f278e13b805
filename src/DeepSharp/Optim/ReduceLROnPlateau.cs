namespace DeepSharp.Optim;

public enum PlateauMode
{
    /// <summary>The monitored metric should decrease (a loss).</summary>
    Min,

    /// <summary>The monitored metric should increase (an accuracy).</summary>
    Max,
}

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

    public ReduceLROnPlateau(Optimizer optimizer, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10,
        double threshold = 1e-4, ThresholdMode thresholdMode = ThresholdMode.Rel, int cooldown = 0, double minLr = 0, double eps = 1e-8)
        : this(optimizer, [.. (optimizer ?? throw new ArgumentNullException(nameof(optimizer))).ParamGroups.Select(_ => minLr)],
            mode, factor, patience, threshold, thresholdMode, cooldown, eps)
    {
    }

    /// <param name="minLrs">One lower bound per parameter group.</param>
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

    public PlateauMode Mode { get; private set; }

    public double Factor { get; private set; }

    public int Patience { get; private set; }

    public double Threshold { get; private set; }

    public ThresholdMode ThresholdMode { get; private set; }

    public int Cooldown { get; private set; }

    public double Eps { get; private set; }

    public IReadOnlyList<double> MinLrs => _minLrs;

    /// <summary>The best metric seen so far (±infinity before the first step).</summary>
    public double Best { get; private set; }

    public int NumBadEpochs { get; private set; }

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
