using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Optim;

/// <summary>Hyper-parameters of <see cref="RmsProp"/>, with PyTorch's defaults.</summary>
public sealed record RmsPropOptions(double Lr = 1e-2, double Alpha = 0.99, double Eps = 1e-8, double WeightDecay = 0,
    double Momentum = 0, bool Centered = false, bool Maximize = false) : OptimizerOptions(Lr)
{
    /// <inheritdoc/>
    public override IEnumerable<(string Name, double Value)> HyperParameters() =>
        [("lr", Lr), ("alpha", Alpha), ("eps", Eps), ("weight_decay", WeightDecay), ("momentum", Momentum),
         ("centered", Flag(Centered)), ("maximize", Flag(Maximize))];

    /// <inheritdoc/>
    public override OptimizerOptions FromHyperParameters(Func<string, double> value) =>
        new RmsPropOptions(value("lr"), value("alpha"), value("eps"), value("weight_decay"), value("momentum"), value("centered") != 0, value("maximize") != 0);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        NonNegative(Alpha, "alpha");
        NonNegative(Eps, "eps");
        NonNegative(WeightDecay, "weight_decay");
        NonNegative(Momentum, "momentum");
    }

    /// <inheritdoc/>
    public override double? CycledMomentum => Momentum;

    /// <inheritdoc/>
    public override OptimizerOptions WithCycledMomentum(double momentum) => this with { Momentum = momentum };
}

/// <summary>RMSprop (Hinton): divides the gradient by a running RMS of recent gradients; optionally centered and with momentum.</summary>
public sealed class RmsProp : Optimizer<RmsPropOptions>
{
    /// <summary>One parameter group with <paramref name="options"/>, PyTorch's defaults when null (<c>torch.optim.RMSprop(params)</c>).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the parameter list is empty.</exception>
    public RmsProp(IEnumerable<Tensor> parameters, RmsPropOptions? options = null) : this([new ParamGroup(parameters, options ?? new RmsPropOptions())]) { }

    /// <summary>Several parameter groups, each with its own options (PyTorch's list of param-group dicts).</summary>
    /// <exception cref="ArgumentException">A group's options are not RmsPropOptions, a parameter appears twice, or there are no parameters.</exception>
    public RmsProp(IEnumerable<ParamGroup> groups) : base("RMSprop", groups, ["square_avg", "momentum_buffer", "grad_avg"], hasStepCount: true) { }

    /// <inheritdoc/>
    protected override void Update(ParamState state, Tensor param, Tensor grad, RmsPropOptions o)
    {
        var squareAvg = Buffer(state, 0, param);
        var momentumBuffer = o.Momentum > 0 ? Buffer(state, 1, param) : null;
        var gradAvg = o.Centered ? Buffer(state, 2, param) : null;
        state.Step++;
        if (param.DType == DType.Float32) Run<float>(param, grad, squareAvg, gradAvg, momentumBuffer, o);
        else Run<double>(param, grad, squareAvg, gradAvg, momentumBuffer, o);
    }

    private static void Run<T>(Tensor param, Tensor grad, Tensor squareAvg, Tensor? gradAvg, Tensor? momentumBuffer, RmsPropOptions o)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        RmsPropKernel.Step(Elements<T>(param), Elements<T>(grad), Elements<T>(squareAvg), Elements<T>(gradAvg), Elements<T>(momentumBuffer),
            o.Lr, o.Alpha, o.Eps, o.WeightDecay, o.Momentum, o.Centered, o.Maximize);
}
