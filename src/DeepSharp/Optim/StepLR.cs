namespace DeepSharp.Optim;

/// <summary>Multiplies the learning rate by <see cref="Gamma"/> every <see cref="StepSize"/> epochs.</summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Decays the learning rate by <paramref name="gamma"/> every <paramref name="stepSize"/> epochs (PyTorch's <c>StepLR</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stepSize"/> is not positive.</exception>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize <= 0) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "StepLR: stepSize must be positive");
        StepSize = stepSize;
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; private set; }

    /// <summary>The decay factor (default 0.1).</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group) =>
        LastEpoch == 0 || LastEpoch % StepSize != 0 ? group.Lr : group.Lr * Gamma;

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["step_size"] = StateDictReader.Scalar(StepSize);
        dict["gamma"] = StateDictReader.Scalar(Gamma);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        int stepSize = reader.Int("step_size");
        double gamma = reader.Double("gamma");
        return () => (StepSize, Gamma) = (stepSize, gamma);
    }
}
