namespace DeepSharp.Optim;

/// <summary>
/// Scales the learning rate by a factor that goes linearly from <see cref="StartFactor"/> to
/// <see cref="EndFactor"/> over <see cref="TotalIters"/> epochs, then stays (a warm-up when
/// StartFactor &lt; 1). PyTorch's recursive form.
/// </summary>
public sealed class LinearLR : LRScheduler
{
    /// <summary>A linear change of the learning-rate factor, with PyTorch's defaults (1/3 to 1 over 5 epochs).</summary>
    /// <param name="optimizer">The optimizer to schedule.</param>
    /// <param name="startFactor">Factor at epoch 0, in (0, 1].</param>
    /// <param name="endFactor">Factor from epoch <paramref name="totalIters"/> on, in [0, 1].</param>
    /// <param name="totalIters">Epochs over which the factor changes.</param>
    /// <exception cref="ArgumentOutOfRangeException">A factor or <paramref name="totalIters"/> is out of range.</exception>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5) : base(optimizer)
    {
        if (!(startFactor > 0 && startFactor <= 1))
            throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "LinearLR: startFactor must be in (0, 1]");
        if (!(endFactor >= 0 && endFactor <= 1))
            throw new ArgumentOutOfRangeException(nameof(endFactor), endFactor, "LinearLR: endFactor must be in [0, 1]");
        if (totalIters <= 0) throw new ArgumentOutOfRangeException(nameof(totalIters), totalIters, "LinearLR: totalIters must be positive");
        StartFactor = startFactor;
        EndFactor = endFactor;
        TotalIters = totalIters;
        InitialStep();
    }

    /// <summary>Factor of the base learning rate at epoch 0.</summary>
    public double StartFactor { get; private set; }

    /// <summary>Factor reached after <see cref="TotalIters"/> epochs.</summary>
    public double EndFactor { get; private set; }

    /// <summary>Epochs over which the factor goes from start to end.</summary>
    public int TotalIters { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group)
    {
        if (LastEpoch == 0) return group.Lr * StartFactor;
        if (LastEpoch > TotalIters) return group.Lr;
        return group.Lr * (1.0 + (EndFactor - StartFactor) / (TotalIters * StartFactor + (LastEpoch - 1) * (EndFactor - StartFactor)));
    }

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["start_factor"] = StateDictReader.Scalar(StartFactor);
        dict["end_factor"] = StateDictReader.Scalar(EndFactor);
        dict["total_iters"] = StateDictReader.Scalar(TotalIters);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        double start = reader.Double("start_factor"), end = reader.Double("end_factor");
        int total = reader.Int("total_iters");
        return () => (StartFactor, EndFactor, TotalIters) = (start, end, total);
    }
}
