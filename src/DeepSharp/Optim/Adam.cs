using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Optim;

/// <summary>Hyper-parameters of <see cref="Adam"/>, with PyTorch's defaults (betas = (Beta1, Beta2)).</summary>
public sealed record AdamOptions(double Lr = 1e-3, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8,
    double WeightDecay = 0, bool Amsgrad = false, bool Maximize = false) : OptimizerOptions(Lr)
{
    /// <inheritdoc/>
    public override IEnumerable<(string Name, double Value)> HyperParameters() => AdamShared.HyperParameters(this, Beta1, Beta2, Eps, WeightDecay, Amsgrad, Maximize);

    /// <inheritdoc/>
    public override OptimizerOptions FromHyperParameters(Func<string, double> value) =>
        new AdamOptions(value("lr"), value("beta1"), value("beta2"), value("eps"), value("weight_decay"), value("amsgrad") != 0, value("maximize") != 0);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        AdamShared.Validate(this, Beta1, Beta2, Eps, WeightDecay);
    }

    /// <inheritdoc/>
    public override double? CycledMomentum => Beta1;

    /// <inheritdoc/>
    public override OptimizerOptions WithCycledMomentum(double momentum) => this with { Beta1 = momentum };
}

/// <summary>
/// Adam (Kingma and Ba) with PyTorch's bias correction; L2 weight decay is added to the gradient
/// (see <see cref="AdamW"/> for the decoupled form). Optionally AMSGrad.
/// </summary>
public sealed class Adam : Optimizer<AdamOptions>
{
    /// <summary>One parameter group with <paramref name="options"/>, PyTorch's defaults when null (<c>torch.optim.Adam(params)</c>).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the parameter list is empty.</exception>
    public Adam(IEnumerable<Tensor> parameters, AdamOptions? options = null) : this([new ParamGroup(parameters, options ?? new AdamOptions())]) { }

    /// <summary>Several parameter groups, each with its own options (PyTorch's list of param-group dicts).</summary>
    /// <exception cref="ArgumentException">A group's options are not AdamOptions, a parameter appears twice, or there are no parameters.</exception>
    public Adam(IEnumerable<ParamGroup> groups) : base("Adam", groups, AdamShared.BufferNames, hasStepCount: true) { }

    /// <inheritdoc/>
    protected override void Update(ParamState state, Tensor param, Tensor grad, AdamOptions o) =>
        AdamShared.Update(state, param, grad, Buffer(state, 0, param), Buffer(state, 1, param), o.Amsgrad ? Buffer(state, 2, param) : null,
            o.Lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, decoupled: false, o.Amsgrad, o.Maximize);
}

/// <summary>What Adam and AdamW share: state layout, validation and the kernel call.</summary>
internal static class AdamShared
{
    public static readonly string[] BufferNames = ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    public static IEnumerable<(string Name, double Value)> HyperParameters(OptimizerOptions o, double beta1, double beta2, double eps, double weightDecay, bool amsgrad, bool maximize) =>
        [("lr", o.Lr), ("beta1", beta1), ("beta2", beta2), ("eps", eps), ("weight_decay", weightDecay), ("amsgrad", amsgrad ? 1 : 0), ("maximize", maximize ? 1 : 0)];

    public static void Validate(OptimizerOptions o, double beta1, double beta2, double eps, double weightDecay)
    {
        string name = o.GetType().Name;
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{name}: invalid eps {eps} (expected >= 0)");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"{name}: invalid beta1 {beta1} (expected 0 <= beta1 < 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"{name}: invalid beta2 {beta2} (expected 0 <= beta2 < 1)");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"{name}: invalid weight_decay {weightDecay} (expected >= 0)");
    }

    public static void Update(ParamState state, Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? maxExpAvgSq,
        double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, bool amsgrad, bool maximize)
    {
        state.Step++;
        if (param.DType == DType.Float32) Run<float>();
        else Run<double>();

        void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            AdamKernel.Step(param.Span<T>(), grad.ReadSpan<T>(), expAvg.Span<T>(), expAvgSq.Span<T>(), maxExpAvgSq is null ? default : maxExpAvgSq.Span<T>(),
                state.Step, lr, beta1, beta2, eps, weightDecay, decoupled, amsgrad, maximize);
    }
}
