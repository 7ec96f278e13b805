namespace DeepSharp.Optim;

/// <summary>
/// Multiplies the learning rate by <see cref="Gamma"/> at each milestone epoch (by Gamma^k for a
/// milestone listed k times, as PyTorch's Counter of milestones does).
/// </summary>
public sealed class MultiStepLR : LRScheduler
{
    private int[] _milestones;

    /// <summary>Decays the learning rate by <paramref name="gamma"/> at each of <paramref name="milestones"/> (PyTorch's <c>MultiStepLR</c>).</summary>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1) : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        _milestones = [.. milestones.Order()];
        Gamma = gamma;
        InitialStep();
    }

    /// <summary>The milestone epochs, sorted, repeated ones kept.</summary>
    public IReadOnlyList<int> Milestones => _milestones;

    /// <summary>The factor applied at each milestone (default 0.1).</summary>
    public double Gamma { get; private set; }

    /// <inheritdoc/>
    protected override double ComputeLr(int index, ParamGroup group)
    {
        int count = 0;
        foreach (int m in _milestones) if (m == LastEpoch) count++;
        return count == 0 ? group.Lr : group.Lr * Math.Pow(Gamma, count);
    }

    private protected override void SaveState(Dictionary<string, Tensor> dict)
    {
        dict["milestones"] = Tensor.From(Array.ConvertAll(_milestones, m => (long)m), _milestones.Length);
        dict["gamma"] = StateDictReader.Scalar(Gamma);
    }

    private protected override Action LoadState(StateDictReader reader)
    {
        var milestones = reader.Get("milestones").ToDoubleArray();
        if (milestones.Any(m => m != Math.Floor(m)))
            throw new ArgumentException("MultiStepLR.LoadStateDict: 'milestones' must hold integers");
        double gamma = reader.Double("gamma");
        return () => (_milestones, Gamma) = ([.. milestones.Select(m => (int)m).Order()], gamma);
    }
}
