using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Optim;

/// <summary>Hyper-parameters of <see cref="Sgd"/> (PyTorch's defaults; the learning rate has none).</summary>
public sealed record SgdOptions(double Lr, double Momentum = 0, double Dampening = 0, double WeightDecay = 0,
    bool Nesterov = false, bool Maximize = false) : OptimizerOptions(Lr)
{
    /// <inheritdoc/>
    public override IEnumerable<(string Name, double Value)> HyperParameters() =>
        [("lr", Lr), ("momentum", Momentum), ("dampening", Dampening), ("weight_decay", WeightDecay), ("nesterov", Flag(Nesterov)), ("maximize", Flag(Maximize))];

    /// <inheritdoc/>
    public override OptimizerOptions FromHyperParameters(Func<string, double> value) =>
        new SgdOptions(value("lr"), value("momentum"), value("dampening"), value("weight_decay"), value("nesterov") != 0, value("maximize") != 0);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        NonNegative(Momentum, "momentum");
        NonNegative(WeightDecay, "weight_decay");
        if (Nesterov && (Momentum <= 0 || Dampening != 0))
            throw new ArgumentException($"SgdOptions: Nesterov momentum requires a momentum and zero dampening (got momentum={Momentum}, dampening={Dampening})");
    }

    /// <inheritdoc/>
    public override double? CycledMomentum => Momentum;

    /// <inheritdoc/>
    public override OptimizerOptions WithCycledMomentum(double momentum) => this with { Momentum = momentum };
}

/// <summary>
/// Stochastic gradient descent with optional (Nesterov) momentum and weight decay, as PyTorch's
/// SGD: the momentum buffer starts as the first step's gradient.
/// </summary>
public sealed class Sgd : Optimizer<SgdOptions>
{
    /// <summary>One parameter group with <paramref name="options"/> (PyTorch's <c>torch.optim.SGD(params, lr, ...)</c>).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the parameter list is empty.</exception>
    public Sgd(IEnumerable<Tensor> parameters, SgdOptions options) : this([new ParamGroup(parameters, options)]) { }

    /// <summary>Several parameter groups, each with its own options (PyTorch's list of param-group dicts).</summary>
    /// <exception cref="ArgumentException">A group's options are not SgdOptions, a parameter appears twice, or there are no parameters.</exception>
    public Sgd(IEnumerable<ParamGroup> groups) : base("SGD", groups, ["momentum_buffer"], hasStepCount: false) { }

    /// <inheritdoc/>
    protected override void Update(ParamState state, Tensor param, Tensor grad, SgdOptions o)
    {
        bool firstStep = state.Buffers[0] is null;
        var buffer = o.Momentum != 0 ? Buffer(state, 0, param) : null;
        if (param.DType == DType.Float32) Run<float>(param, grad, buffer, o, firstStep);
        else Run<double>(param, grad, buffer, o, firstStep);
    }

    private static void Run<T>(Tensor param, Tensor grad, Tensor? buffer, SgdOptions o, bool firstStep) where T : unmanaged, IFloatingPointIeee754<T> =>
        SgdKernel.Step(Elements<T>(param), Elements<T>(grad), Elements<T>(buffer),
            o.Lr, o.Momentum, o.Dampening, o.WeightDecay, o.Nesterov, o.Maximize, firstStep);
}
