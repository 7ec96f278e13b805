using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Optim;

/// <summary>Hyper-parameters of <see cref="Adagrad"/>, with PyTorch's defaults.</summary>
public sealed record AdagradOptions(double Lr = 1e-2, double LrDecay = 0, double WeightDecay = 0,
    double InitialAccumulatorValue = 0, double Eps = 1e-10, bool Maximize = false) : OptimizerOptions(Lr)
{
    /// <inheritdoc/>
    public override IEnumerable<(string Name, double Value)> HyperParameters() =>
        [("lr", Lr), ("lr_decay", LrDecay), ("weight_decay", WeightDecay), ("initial_accumulator_value", InitialAccumulatorValue),
         ("eps", Eps), ("maximize", Flag(Maximize))];

    /// <inheritdoc/>
    public override OptimizerOptions FromHyperParameters(Func<string, double> value) =>
        new AdagradOptions(value("lr"), value("lr_decay"), value("weight_decay"), value("initial_accumulator_value"), value("eps"), value("maximize") != 0);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        NonNegative(LrDecay, "lr_decay");
        NonNegative(WeightDecay, "weight_decay");
        NonNegative(InitialAccumulatorValue, "initial_accumulator_value");
        NonNegative(Eps, "eps");
    }
}

/// <summary>Adagrad: per-element learning rates from the running sum of squared gradients.</summary>
public sealed class Adagrad : Optimizer<AdagradOptions>
{
    /// <summary>One parameter group with <paramref name="options"/>, PyTorch's defaults when null (<c>torch.optim.Adagrad(params)</c>).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the parameter list is empty.</exception>
    public Adagrad(IEnumerable<Tensor> parameters, AdagradOptions? options = null) : this([new ParamGroup(parameters, options ?? new AdagradOptions())]) { }

    /// <summary>Several parameter groups, each with its own options (PyTorch's list of param-group dicts).</summary>
    /// <exception cref="ArgumentException">A group's options are not AdagradOptions, a parameter appears twice, or there are no parameters.</exception>
    public Adagrad(IEnumerable<ParamGroup> groups) : base("Adagrad", groups, ["sum"], hasStepCount: true) { }

    /// <inheritdoc/>
    protected override void Update(ParamState state, Tensor param, Tensor grad, AdagradOptions o)
    {
        var sum = Buffer(state, 0, param, o.InitialAccumulatorValue);
        state.Step++;
        if (param.DType == DType.Float32) Run<float>(param, grad, sum, state.Step, o);
        else Run<double>(param, grad, sum, state.Step, o);
    }

    private static void Run<T>(Tensor param, Tensor grad, Tensor sum, double step, AdagradOptions o) where T : unmanaged, IFloatingPointIeee754<T> =>
        AdagradKernel.Step(Elements<T>(param), Elements<T>(grad), Elements<T>(sum), step, o.Lr, o.LrDecay, o.WeightDecay, o.Eps, o.Maximize);
}
