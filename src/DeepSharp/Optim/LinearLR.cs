namespace DeepSharp.Optim;

/// <summary>
/// Scales the learning rate by a factor that goes linearly from <see cref="StartFactor"/> to
/// <see cref="EndFactor"/> over <see cref="TotalIters"/> epochs, then stays (a warm-up when
/// StartFactor &lt; 1). PyTorch's recursive form.
/// </summary>
public sealed class LinearLR : LRScheduler
{
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

    public double StartFactor { get; private set; }

    public double EndFactor { get; private set; }

    public int TotalIters { get; private set; }

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
