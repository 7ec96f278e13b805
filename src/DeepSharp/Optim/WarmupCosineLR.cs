namespace DeepSharp.Optim;

/// <summary>
/// Linear warm-up then cosine decay (nanoGPT's get_lr), stepped once per optimizer step: for step t (0 right after
/// construction) the learning rate of a group with base rate lr is lr·(t+1)/(warmup+1) while t &lt; warmup, then
/// minLr + (lr − minLr)·(1 + cos(π·(t − warmup)/(decaySteps − warmup)))/2 up to t = decaySteps, then minLr.
/// <see cref="MinLr"/> is scaled per group by its base rate relative to the first group's, so groups with
/// different rates keep their ratio. Closed form: each step's value depends only on t.
/// </summary>
public sealed class WarmupCosineLR : LRScheduler
{
    /// <summary>Linear warm-up over <paramref name="warmupSteps"/> steps, cosine decay to <paramref name="minLr"/> at step <paramref name="decaySteps"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="warmupSteps"/> or <paramref name="minLr"/> is negative, or <paramref name="decaySteps"/> is smaller than <paramref name="warmupSteps"/>.</exception>
    public WarmupCosineLR(Optimizer optimizer, int warmupSteps, int decaySteps, double minLr = 0) : base(optimizer)
    {
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "WarmupCosineLR: warmupSteps must be non-negative");
        if (decaySteps < warmupSteps)
            throw new ArgumentOutOfRangeException(nameof(decaySteps), decaySteps, $"WarmupCosineLR: decaySteps ({decaySteps}) must be at least warmupSteps ({warmupSteps})");
        if (!(minLr >= 0)) throw new ArgumentOutOfRangeException(nameof(minLr), minLr, "WarmupCosineLR: minLr must be >= 0");
        WarmupSteps = warmupSteps;
        DecaySteps = decaySteps;
        MinLr = minLr;
        InitialStep();
    }

    /// <summary>Steps of linear warm-up.</summary>
    public int WarmupSteps { get; private set; }

    /// <summary>The step at which the cosine decay reaches <see cref="MinLr"/>.</summary>
    public int DecaySteps { get; private set; }

    /// <summary>The final learning rate of the first group.</summary>
    public double MinLr { get; private set; }

    /// <summary>The schedule's value at step <paramref name="t"/> for a base rate <paramref name="lr"/> and final rate <paramref name="minLr"/>.</summary>
    public static double LrAt(long t, double lr, double minLr, int warmupSteps, int decaySteps)
    {
        if (t < warmupSteps) return lr * (t + 1) / (warmupSteps + 1);
        if (t >= decaySteps) return minLr;
        double ratio = (double)(t - warmupSteps) / (decaySteps - warmupSteps);
        return minLr + 0.5 * (1 + Math.Cos(Math.PI * ratio)) * (lr - minLr);
    }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group)
    {
        double base0 = BaseLrs[0], baseLr = BaseLrs[index];
        double min = base0 > 0 ? MinLr * baseLr / base0 : MinLr;
        return LrAt(LastEpoch, baseLr, min, WarmupSteps, DecaySteps);
    }

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["warmup_steps"] = StateDictReader.Scalar(WarmupSteps);
        dict["decay_steps"] = StateDictReader.Scalar(DecaySteps);
        dict["min_lr"] = StateDictReader.Scalar(MinLr);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        int warmup = reader.Int("warmup_steps"), decay = reader.Int("decay_steps");
        double min = reader.Double("min_lr");
        if (warmup < 0 || decay < warmup) throw new ArgumentException($"WarmupCosineLR.LoadStateDict: need 0 <= warmup_steps <= decay_steps, got {warmup} and {decay}");
        return () => (WarmupSteps, DecaySteps, MinLr) = (warmup, decay, min);
    }
}
