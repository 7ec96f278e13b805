using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Optim;

/// <summary>Hyper-parameters of <see cref="Adadelta"/>, with PyTorch's defaults.</summary>
public sealed record AdadeltaOptions(double Lr = 1.0, double Rho = 0.9, double Eps = 1e-6, double WeightDecay = 0,
    bool Maximize = false) : OptimizerOptions(Lr)
{
    /// <inheritdoc/>
    public override IEnumerable<(string Name, double Value)> HyperParameters() =>
        [("lr", Lr), ("rho", Rho), ("eps", Eps), ("weight_decay", WeightDecay), ("maximize", Flag(Maximize))];

    /// <inheritdoc/>
    public override OptimizerOptions FromHyperParameters(Func<string, double> value) =>
        new AdadeltaOptions(value("lr"), value("rho"), value("eps"), value("weight_decay"), value("maximize") != 0);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Rho >= 0 && Rho <= 1)) throw new ArgumentOutOfRangeException(nameof(Rho), Rho, $"AdadeltaOptions: invalid rho {Rho} (expected 0 <= rho <= 1)");
        NonNegative(Eps, "eps");
        NonNegative(WeightDecay, "weight_decay");
    }
}

/// <summary>Adadelta (Zeiler): steps scaled by the ratio of running RMS of updates to running RMS of gradients.</summary>
public sealed class Adadelta : Optimizer<AdadeltaOptions>
{
    /// <summary>One parameter group with <paramref name="options"/>, PyTorch's defaults when null (<c>torch.optim.Adadelta(params)</c>).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the parameter list is empty.</exception>
    public Adadelta(IEnumerable<Tensor> parameters, AdadeltaOptions? options = null) : this([new ParamGroup(parameters, options ?? new AdadeltaOptions())]) { }

    /// <summary>Several parameter groups, each with its own options (PyTorch's list of param-group dicts).</summary>
    /// <exception cref="ArgumentException">A group's options are not AdadeltaOptions, a parameter appears twice, or there are no parameters.</exception>
    public Adadelta(IEnumerable<ParamGroup> groups) : base("Adadelta", groups, ["square_avg", "acc_delta"], hasStepCount: true) { }

    /// <inheritdoc/>
    protected override void Update(ParamState state, Tensor param, Tensor grad, AdadeltaOptions o)
    {
        var squareAvg = Buffer(state, 0, param);
        var accDelta = Buffer(state, 1, param);
        state.Step++;
        if (param.DType == DType.Float32) Run<float>(param, grad, squareAvg, accDelta, o);
        else Run<double>(param, grad, squareAvg, accDelta, o);
    }

    private static void Run<T>(Tensor param, Tensor grad, Tensor squareAvg, Tensor accDelta, AdadeltaOptions o) where T : unmanaged, IFloatingPointIeee754<T> =>
        AdadeltaKernel.Step(Elements<T>(param), Elements<T>(grad), Elements<T>(squareAvg), Elements<T>(accDelta), o.Lr, o.Rho, o.Eps, o.WeightDecay, o.Maximize);
}
