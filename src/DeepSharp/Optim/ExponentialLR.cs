namespace DeepSharp.Optim;

/// <summary>Multiplies the learning rate by <see cref="Gamma"/> every epoch.</summary>
public sealed class ExponentialLR : LRScheduler
{
    /// <summary>Decays each group's learning rate by <paramref name="gamma"/> per epoch (PyTorch's <c>ExponentialLR</c>).</summary>
    public ExponentialLR(Optimizer optimizer, double gamma) : base(optimizer)
    {
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>The factor applied every epoch.</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group) => LastEpoch == 0 ? group.Lr : group.Lr * Gamma;

    private protected override void SaveState(Dictionary<string, Tensor> dict) => dict["gamma"] = StateDictReader.Scalar(Gamma);

    private protected override Action LoadState(StateDictReader reader)
    {
        double gamma = reader.Double("gamma");
        return () => Gamma = gamma;
    }
}
