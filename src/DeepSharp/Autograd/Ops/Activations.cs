using DeepSharp.Kernels;

namespace DeepSharp;

// Activation functions: tanh, sigmoid, relu, leaky_relu, elu, gelu, softplus, clamp, step.
// Each names its forward function and gradient formula once (Kernels/Elementwise) for float32 and float64.
public sealed partial class Tensor
{
    /// <summary>tanh x; d/dx = 1 - y^2.</summary>
    public Tensor Tanh() => Record(Unary<TanhOp>("tanh", this),
        "TanhBackward", Saves.Output, static (g, _, y) => Map<TanhGrad>("tanh", g, y!));

    /// <summary>1/(1+e^-x); d/dx = y(1-y).</summary>
    public Tensor Sigmoid() => Record(Unary<SigmoidOp>("sigmoid", this),
        "SigmoidBackward", Saves.Output, static (g, _, y) => Map<SigmoidGrad>("sigmoid", g, y!));

    /// <summary>max(x, 0); d/dx = 1 where y &gt; 0.</summary>
    public Tensor Relu() => Record(Scalar<Max>("relu", this, 0),
        "ReluBackward", Saves.Output, static (g, _, y) => Map<ReluGrad>("relu", g, y!));

    /// <summary>x for x &gt; 0, slope*x otherwise.</summary>
    public Tensor LeakyRelu(double negativeSlope = 0.01) => Record(Map<LeakyReluOp>("leaky_relu", this, negativeSlope),
        "LeakyReluBackward", Saves.Input, (g, x, _) => Map<LeakyReluGrad>("leaky_relu", g, x!, negativeSlope));

    /// <summary>x for x &gt; 0, alpha(e^x - 1) otherwise; d/dx = y + alpha there.</summary>
    public Tensor Elu(double alpha = 1.0)
    {
        RequireFloat("elu");
        var result = Unary<ExpM1Op>("elu", this);
        var x = ContiguousData();
        Dispatch.Float(DType, new EluBlend(x, result, alpha));
        KeepAlive(x);
        return Record(result, "EluBackward", Saves.Output, (g, _, y) => Map<EluGrad>("elu", g, y!, alpha));
    }

    /// <summary>y = x where x &gt; 0, alpha * expm1(x) (already in y) elsewhere.</summary>
    private readonly struct EluBlend(Tensor x, Tensor y, double alpha) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            ReadOnlySpan<T> xs = x.ReadSpan<T>();
            Span<T> expm1 = y.Span<T>();
            T a = T.CreateTruncating(alpha);
            for (int i = 0; i < xs.Length; i++) expm1[i] = xs[i] > T.Zero ? xs[i] : a * expm1[i];
        }
    }

    /// <summary>
    /// Gaussian error linear unit x*Phi(x). <paramref name="approximate"/> None uses the exact
    /// normal CDF; Tanh the approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
    /// Formulas and accuracy: Kernels/Elementwise/Gelu.cs.
    /// </summary>
    public Tensor Gelu(GeluApproximation approximate = GeluApproximation.None) => approximate switch
    {
        GeluApproximation.None => Record(Map<GeluErf>("gelu", this), "GeluBackward", Saves.Input, static (g, x, _) => Map<GeluErfGrad>("gelu", g, x!)),
        GeluApproximation.Tanh => Record(Map<GeluTanh>("gelu", this), "GeluBackward", Saves.Input, static (g, x, _) => Map<GeluTanhGrad>("gelu", g, x!)),
        _ => throw GeluApproximationNames.Unknown("gelu", approximate),
    };

    /// <summary>log(1 + e^{beta x})/beta, reverting to x where beta*x &gt; threshold (as PyTorch).</summary>
    public Tensor Softplus(double beta = 1, double threshold = 20) => Record(Map<SoftplusOp>("softplus", this, beta, threshold),
        "SoftplusBackward", Saves.Input, (g, x, _) => Map<SoftplusGrad>("softplus", g, x!, beta, threshold));

    /// <summary>Limits values to [min, max] (either bound optional); the gradient passes where min &lt;= x &lt;= max.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: at least one of min and max must be given");
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        var result = DType == DType.Int64
            ? ClampLong(lo, hi)
            : Map<ClampOp>("clamp", this, lo, hi);
        return Record(result, "ClampBackward", Saves.Input, (g, x, _) => Map<ClampGrad>("clamp", g, x!, lo, hi));
    }

    private Tensor ClampLong(double lo, double hi)
    {
        var r = EmptyLike(this);
        long l = double.IsNegativeInfinity(lo) ? long.MinValue : (long)Math.Ceiling(lo);
        long h = double.IsPositiveInfinity(hi) ? long.MaxValue : (long)Math.Floor(hi);
        var x = ContiguousData();
        System.Numerics.Tensors.TensorPrimitives.Max(x.ReadSpan<long>(), l, r.Span<long>());
        System.Numerics.Tensors.TensorPrimitives.Min(r.Span<long>(), h, r.Span<long>());
        KeepAlive(this, x);
        return r;
    }

    /// <summary>Heaviside step: 1 where x &gt; 0 else 0 (the perceptron's activation). Its gradient is zero.</summary>
    public Tensor Step() => Record(Map<StepOp>("step", this), "StepBackward", Saves.None,
        static (g, _, _) => ZerosLike(g));
}
