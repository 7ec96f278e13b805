namespace DeepSharp.Optim;

/// <summary>How <see cref="OneCycleLR"/> moves between its learning-rate points.</summary>
public enum AnnealStrategy
{
    /// <summary>Cosine annealing (PyTorch's 'cos', the default).</summary>
    Cos,
    /// <summary>Linear annealing.</summary>
    Linear,
}

/// <summary>
/// The 1cycle policy (Smith): the learning rate rises from maxLr/divFactor to maxLr over the first
/// pctStart of <see cref="TotalSteps"/>, then anneals to maxLr/divFactor/finalDivFactor (with
/// threePhase: back down to the initial lr, then to the minimum). When cycleMomentum is set, the
/// optimizer's momentum (SGD, RMSprop) or beta1 (Adam, AdamW) moves the opposite way between
/// maxMomentum and baseMomentum. Step once per batch; the constructor takes step 0.
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    private enum Point { InitialLr, MaxLr, MinLr }

    private readonly record struct Phase(double EndStep, Point StartLr, Point EndLr, bool StartAtMaxMomentum, bool EndAtMaxMomentum);

    private Phase[] _phases = [];
    private double[] _initialLrs, _maxLrs, _minLrs, _maxMomentums, _baseMomentums;

    /// <summary>The 1cycle schedule with the same peak <paramref name="maxLr"/> for every group, PyTorch's defaults otherwise.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="maxLr">Peak learning rate.</param>
    /// <param name="totalSteps">Steps in the cycle; stepping more often is an error.</param>
    /// <param name="pctStart">Fraction of the steps spent increasing the learning rate (default 0.3).</param>
    /// <param name="annealStrategy">Cosine (default) or linear annealing.</param>
    /// <param name="cycleMomentum">Move the momentum (or Adam's beta1) inversely to the learning rate.</param>
    /// <param name="baseMomentum">Momentum at the peak learning rate (default 0.85).</param>
    /// <param name="maxMomentum">Momentum at the start and end (default 0.95).</param>
    /// <param name="divFactor">Initial lr = maxLr / divFactor (default 25).</param>
    /// <param name="finalDivFactor">Minimum lr = initial lr / finalDivFactor (default 1e4).</param>
    /// <param name="threePhase">Go back down to the initial lr before annealing to the minimum (fastai's schedule).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="totalSteps"/> is not positive or <paramref name="pctStart"/> is outside [0, 1].</exception>
    /// <exception cref="ArgumentException"><paramref name="cycleMomentum"/> is set but an optimizer's options have no momentum.</exception>
    public OneCycleLR(Optimizer optimizer, double maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4,
        bool threePhase = false)
        : this(optimizer, Repeat(optimizer, maxLr), totalSteps, pctStart, annealStrategy, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase)
    {
    }

    /// <summary>The 1cycle schedule with a peak learning rate per group; the other parameters are as in the single-rate constructor.</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="maxLrs">One peak learning rate per parameter group.</param>
    /// <param name="totalSteps">Steps in the cycle; stepping more often is an error.</param>
    /// <param name="pctStart">Fraction of the steps spent increasing the learning rate (default 0.3).</param>
    /// <param name="annealStrategy">Cosine (default) or linear annealing.</param>
    /// <param name="cycleMomentum">Move the momentum (or Adam's beta1) inversely to the learning rate.</param>
    /// <param name="baseMomentum">Momentum at the peak learning rate (default 0.85).</param>
    /// <param name="maxMomentum">Momentum at the start and end (default 0.95).</param>
    /// <param name="divFactor">Initial lr = maxLr / divFactor (default 25).</param>
    /// <param name="finalDivFactor">Minimum lr = initial lr / finalDivFactor (default 1e4).</param>
    /// <param name="threePhase">Go back down to the initial lr before annealing to the minimum (fastai's schedule).</param>
    /// <exception cref="ArgumentException"><paramref name="maxLrs"/> does not have one value per group, or momentum cycling is asked of options without momentum.</exception>
    public OneCycleLR(Optimizer optimizer, IReadOnlyList<double> maxLrs, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25, double finalDivFactor = 1e4,
        bool threePhase = false)
        : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(maxLrs);
        var groups = optimizer.ParamGroups;
        if (maxLrs.Count != groups.Count) throw new ArgumentException($"OneCycleLR: expected {groups.Count} values for maxLrs, got {maxLrs.Count}");
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "OneCycleLR: expected a positive number of total steps");
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "OneCycleLR: expected pctStart between 0 and 1");
        if (cycleMomentum)
            foreach (var g in groups)
                if (g.Options.CycledMomentum is null)
                    throw new ArgumentException($"OneCycleLR: optimizer must support momentum with cycleMomentum enabled ({g.Options.GetType().Name} has neither momentum nor betas); pass cycleMomentum: false");

        TotalSteps = totalSteps;
        PctStart = pctStart;
        AnnealStrategy = annealStrategy;
        ThreePhase = threePhase;
        CycleMomentum = cycleMomentum;
        _phases = Phases(totalSteps, pctStart, threePhase);
        _maxLrs = [.. maxLrs];
        _initialLrs = [.. maxLrs.Select(m => m / divFactor)];
        _minLrs = [.. _initialLrs.Select(i => i / finalDivFactor)];
        _maxMomentums = [.. groups.Select(_ => maxMomentum)];
        _baseMomentums = [.. groups.Select(_ => baseMomentum)];
        for (int i = 0; i < groups.Count; i++)
        {
            groups[i].InitialLr = _initialLrs[i];
            if (cycleMomentum) groups[i].SetOptionsUnchecked(groups[i].Options.WithCycledMomentum(maxMomentum));
        }
        InitialStep();
    }

    /// <summary>Steps in the cycle.</summary>
    public int TotalSteps { get; private set; }

    /// <summary>Fraction of the steps spent increasing the learning rate.</summary>
    public double PctStart { get; private set; }

    /// <summary>Cosine or linear annealing.</summary>
    public AnnealStrategy AnnealStrategy { get; private set; }

    /// <summary>Whether the schedule has three phases (up, back to the initial lr, down to the minimum).</summary>
    public bool ThreePhase { get; private set; }

    /// <summary>Whether momentum moves inversely to the learning rate.</summary>
    public bool CycleMomentum { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group)
    {
        int step = LastEpoch;
        if (step > TotalSteps)
            throw new InvalidOperationException($"OneCycleLR: tried to step {step + 1} times; the specified number of total steps is {TotalSteps}");
        double start = 0, lr = 0, momentum = 0;
        for (int i = 0; i < _phases.Length; i++)
        {
            var phase = _phases[i];
            if (step <= phase.EndStep || i == _phases.Length - 1)
            {
                double pct = (step - start) / (phase.EndStep - start);
                lr = Anneal(LrAt(phase.StartLr, index), LrAt(phase.EndLr, index), pct);
                momentum = Anneal(MomentumAt(phase.StartAtMaxMomentum, index), MomentumAt(phase.EndAtMaxMomentum, index), pct);
                break;
            }
            start = phase.EndStep;
        }
        if (CycleMomentum) group.SetOptionsUnchecked(group.Options.WithCycledMomentum(momentum));
        return lr;
    }

    private double Anneal(double start, double end, double pct) => AnnealStrategy == AnnealStrategy.Cos
        ? end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1)
        : (end - start) * pct + start;

    private double LrAt(Point point, int group) => point switch
    {
        Point.InitialLr => _initialLrs[group],
        Point.MaxLr => _maxLrs[group],
        _ => _minLrs[group],
    };

    private double MomentumAt(bool max, int group) => max ? _maxMomentums[group] : _baseMomentums[group];

    // PyTorch's _schedule_phases: end steps are float(pct_start * total_steps) - 1 etc.
    private static Phase[] Phases(int totalSteps, double pctStart, bool threePhase) => threePhase
        ? [
            new(pctStart * totalSteps - 1, Point.InitialLr, Point.MaxLr, true, false),
            new(2 * pctStart * totalSteps - 2, Point.MaxLr, Point.InitialLr, false, true),
            new(totalSteps - 1, Point.InitialLr, Point.MinLr, true, true),
        ]
        : [
            new(pctStart * totalSteps - 1, Point.InitialLr, Point.MaxLr, true, false),
            new(totalSteps - 1, Point.MaxLr, Point.MinLr, false, true),
        ];

    private static double[] Repeat(Optimizer optimizer, double value)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return [.. optimizer.ParamGroups.Select(_ => value)];
    }

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["total_steps"] = StateDictReader.Scalar(TotalSteps);
        dict["pct_start"] = StateDictReader.Scalar(PctStart);
        dict["anneal_strategy"] = StateDictReader.Scalar((int)AnnealStrategy);
        dict["three_phase"] = StateDictReader.Scalar(ThreePhase ? 1 : 0);
        dict["cycle_momentum"] = StateDictReader.Scalar(CycleMomentum ? 1 : 0);
        PutAll(dict, "initial_lr", _initialLrs);
        PutAll(dict, "max_lr", _maxLrs);
        PutAll(dict, "min_lr", _minLrs);
        PutAll(dict, "max_momentum", _maxMomentums);
        PutAll(dict, "base_momentum", _baseMomentums);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        int n = _maxLrs.Length;
        int totalSteps = reader.Int("total_steps");
        double pctStart = reader.Double("pct_start");
        int anneal = reader.Int("anneal_strategy");
        if (anneal is not (0 or 1)) throw new ArgumentException($"OneCycleLR.LoadStateDict: unknown anneal_strategy {anneal}");
        bool threePhase = reader.Bool("three_phase"), cycleMomentum = reader.Bool("cycle_momentum");
        var initial = reader.Doubles("initial_lr", n);
        var max = reader.Doubles("max_lr", n);
        var min = reader.Doubles("min_lr", n);
        var maxMomentum = reader.Doubles("max_momentum", n);
        var baseMomentum = reader.Doubles("base_momentum", n);
        return () =>
        {
            (TotalSteps, PctStart, AnnealStrategy, ThreePhase, CycleMomentum) = (totalSteps, pctStart, (AnnealStrategy)anneal, threePhase, cycleMomentum);
            _phases = Phases(totalSteps, pctStart, threePhase);
            (_initialLrs, _maxLrs, _minLrs, _maxMomentums, _baseMomentums) = (initial, max, min, maxMomentum, baseMomentum);
        };
    }
}
