namespace DeepSharp.Optim;

/// <summary>
/// Cosine annealing from the base lr to <see cref="EtaMin"/> over <see cref="TMax"/> epochs, and
/// back up over the next TMax (SGDR without restarts). Computed with PyTorch's recursive form,
/// lr_t = (1 + cos(π t/T)) / (1 + cos(π (t−1)/T)) · (lr_{t−1} − η_min) + η_min, so that it gives
/// the same values as PyTorch, also when something else changes the lr in between.
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Anneals each group's learning rate from its base value to <paramref name="etaMin"/> over <paramref name="tMax"/> epochs (PyTorch's <c>CosineAnnealingLR(optimizer, T_max, eta_min)</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tMax"/> is not positive.</exception>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        if (tMax <= 0) throw new ArgumentOutOfRangeException(nameof(tMax), tMax, "CosineAnnealingLR: tMax must be positive");
        TMax = tMax;
        EtaMin = etaMin;
        InitialStep();
    }

    /// <summary>Epochs of half a cosine period (PyTorch's T_max).</summary>
    public int TMax { get; private set; }

    /// <summary>The minimum learning rate (PyTorch's eta_min).</summary>
    public double EtaMin { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group)
    {
        if (LastEpoch == 0) return group.Lr;
        // At the bottom of a cycle the recursive ratio is 0/0: PyTorch steps up by the first increment instead.
        if ((LastEpoch - 1 - TMax) % (2 * TMax) == 0)
            return group.Lr + (BaseLrs[index] - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2;
        return (1 + Math.Cos(Math.PI * LastEpoch / TMax)) / (1 + Math.Cos(Math.PI * (LastEpoch - 1) / TMax)) * (group.Lr - EtaMin) + EtaMin;
    }

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["T_max"] = StateDictReader.Scalar(TMax);
        dict["eta_min"] = StateDictReader.Scalar(EtaMin);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        int tMax = reader.Int("T_max");
        double etaMin = reader.Double("eta_min");
        if (tMax <= 0) throw new ArgumentException($"CosineAnnealingLR.LoadStateDict: 'T_max' must be positive, got {tMax}");
        return () => (TMax, EtaMin) = (tMax, etaMin);
    }
}
