namespace DeepSharp.Optim;

/// <summary>
/// Changes the learning rate of every parameter group of an optimizer as training progresses.
/// Call <see cref="Step"/> once per epoch (or per batch, for per-batch schedules) after the
/// optimizer's Step. As in PyTorch 1.13, the constructor itself takes the first step (epoch 0), so
/// the optimizer's learning rates are the schedule's first values right after construction.
/// </summary>
public abstract class LRScheduler
{
    private double[] _baseLrs = [];
    private double[] _lastLr;

    /// <summary>A scheduler for the parameter groups of <paramref name="optimizer"/>.</summary>
    protected LRScheduler(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        _lastLr = [.. optimizer.ParamGroups.Select(g => g.Lr)];
    }

    /// <summary>The optimizer whose learning rates are scheduled.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Index of the current epoch: 0 right after construction, +1 per <see cref="Step"/> (PyTorch's last_epoch).</summary>
    public int LastEpoch { get; private protected set; } = -1;

    /// <summary>Number of steps taken, the constructor's included (PyTorch's _step_count).</summary>
    public int StepCount { get; private set; }

    /// <summary>Each group's learning rate when the schedule started (PyTorch's base_lrs, from group initial_lr).</summary>
    public IReadOnlyList<double> BaseLrs => _baseLrs;

    /// <summary>The learning rates the last step set, one per parameter group.</summary>
    public IReadOnlyList<double> GetLastLr() => [.. _lastLr];

    /// <summary>Advances the schedule by one epoch and sets every group's learning rate.</summary>
    public virtual void Step()
    {
        var groups = Optimizer.ParamGroups;
        if (groups.Count != _baseLrs.Length)
            throw new InvalidOperationException($"{GetType().Name}: the optimizer has {groups.Count} parameter groups but the scheduler was created for {_baseLrs.Length}");
        StepCount++;
        LastEpoch++;
        for (int i = 0; i < groups.Count; i++)
        {
            double lr = ComputeLr(i, groups[i]);
            if (groups[i].Lr != lr) groups[i].Lr = lr;
            _lastLr[i] = lr;
        }
    }

    /// <summary>
    /// Starts the schedule over from its base learning rates and advances it by <paramref name="steps"/> steps, so that
    /// the optimizer's learning rates are those of a run that has followed this schedule from the start for that many
    /// steps (epochs, or optimizer steps for a per-batch schedule). A resumed run whose plan changed uses it: build the
    /// schedule for the new plan (e.g. cosine over the new total number of epochs), restore the checkpoint without the
    /// old schedule's state, then restart at the checkpoint's position. The same plan gives the same learning rates
    /// as restoring the saved state would.
    /// </summary>
    public virtual void Restart(long steps)
    {
        if (steps < 0 || steps >= int.MaxValue) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"{GetType().Name}.Restart: steps must be in [0, {int.MaxValue})");
        var groups = Optimizer.ParamGroups;
        if (groups.Count != _baseLrs.Length)
            throw new InvalidOperationException($"{GetType().Name}: the optimizer has {groups.Count} parameter groups but the scheduler was created for {_baseLrs.Length}");
        for (int i = 0; i < groups.Count; i++)
        {
            groups[i].InitialLr = _baseLrs[i];
            groups[i].Lr = _baseLrs[i];
        }
        LastEpoch = -1;
        StepCount = 0;
        Step(); // the constructor's step (epoch 0)
        for (long s = 0; s < steps; s++) Step();
    }

    /// <summary>Group <paramref name="index"/>'s learning rate for epoch <see cref="LastEpoch"/>; the group still holds the previous one.</summary>
    protected abstract double ComputeLr(int index, ParamGroup group);

    /// <summary>
    /// Ends a derived constructor as PyTorch's does: each group's initial_lr (kept if an earlier
    /// scheduler set it) becomes its base lr, then the schedule takes its first step (epoch 0).
    /// </summary>
    protected void InitialStep()
    {
        var groups = Optimizer.ParamGroups;
        foreach (var g in groups) g.InitialLr ??= g.Lr;
        _baseLrs = [.. groups.Select(g => g.InitialLr!.Value)];
        _lastLr = new double[groups.Count];
        StepCount = 0;
        Step();
    }

    /// <summary>Records the groups' current learning rates as the last ones (for schedulers that set them themselves).</summary>
    private protected void RecordLastLr() => _lastLr = [.. Optimizer.ParamGroups.Select(g => g.Lr)];

    // ---- state dict: rank-0 float64 tensors, so that it fits in a safetensors checkpoint ----

    /// <summary>
    /// The scheduler's state: <c>last_epoch</c>, <c>step_count</c>, <c>base_lrs.G</c>, <c>last_lr.G</c>
    /// and the scheduler's own counters and hyper-parameters, each a rank-0 float64 tensor.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>
        {
            ["last_epoch"] = StateDictReader.Scalar(LastEpoch),
            ["step_count"] = StateDictReader.Scalar(StepCount),
        };
        PutAll(dict, "base_lrs", _baseLrs);
        PutAll(dict, "last_lr", _lastLr);
        SaveState(dict);
        return dict;
    }

    /// <summary>Restores a <see cref="StateDict"/>; nothing changes unless the whole dict is valid.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict) => PrepareLoadStateDict(stateDict)();

    /// <summary>The checking half of <see cref="LoadStateDict"/>: throws on an invalid dict and changes nothing; otherwise returns the action that applies it.</summary>
    internal Action PrepareLoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var reader = new StateDictReader(GetType().Name, stateDict);
        int lastEpoch = reader.Int("last_epoch"), stepCount = reader.Int("step_count");
        var baseLrs = reader.Doubles("base_lrs", _baseLrs.Length);
        var lastLr = reader.Doubles("last_lr", _lastLr.Length);
        var commit = LoadState(reader);
        reader.EnsureAllUsed();
        return () =>
        {
            LastEpoch = lastEpoch;
            StepCount = stepCount;
            _baseLrs = baseLrs;
            _lastLr = lastLr;
            commit();
        };
    }

    /// <summary>Adds the derived scheduler's fields to a state dict.</summary>
    private protected virtual void SaveState(Dictionary<string, Tensor> dict) { }

    /// <summary>Reads the derived scheduler's fields (throwing on a bad dict) and returns the action that assigns them.</summary>
    private protected virtual Action LoadState(StateDictReader reader) => static () => { };

    private protected static void PutAll(Dictionary<string, Tensor> dict, string key, IReadOnlyList<double> values)
    {
        for (int i = 0; i < values.Count; i++) dict[$"{key}.{i}"] = StateDictReader.Scalar(values[i]);
    }
}
