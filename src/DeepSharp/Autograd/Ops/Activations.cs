using DeepSharp.Kernels;

namespace DeepSharp;

// Activation functions: tanh, sigmoid, relu, leaky_relu, elu, gelu, softplus, clamp, step.
// Hot gradients (relu, sigmoid, tanh, leaky relu, elu) use fused SIMD operators.
public sealed partial class Tensor
{
    /// <summary>tanh x; d/dx = 1 - y^2.</summary>
    public Tensor Tanh() => Record(UnaryFloat("tanh", this, default(TanhOp<float>), default(TanhOp<double>)),
        "TanhBackward", Saves.Output, static (g, _, y) => MapFloat(g, y!, default(TanhGradOperator<float>), default(TanhGradOperator<double>)));

    /// <summary>1/(1+e^-x); d/dx = y(1-y).</summary>
    public Tensor Sigmoid() => Record(UnaryFloat("sigmoid", this, default(SigmoidOp<float>), default(SigmoidOp<double>)),
        "SigmoidBackward", Saves.Output, static (g, _, y) => MapFloat(g, y!, default(SigmoidGradOperator<float>), default(SigmoidGradOperator<double>)));

    /// <summary>max(x, 0); d/dx = 1 where y &gt; 0.</summary>
    public Tensor Relu() => Record(Scalar<Max>("relu", this, 0),
        "ReluBackward", Saves.Output, static (g, _, y) => MapFloat(g, y!, default(ReluGradOperator<float>), default(ReluGradOperator<double>)));

    /// <summary>x for x &gt; 0, slope*x otherwise.</summary>
    public Tensor LeakyRelu(double negativeSlope = 0.01)
    {
        var result = MapFloat("leaky_relu", this, new LeakyReluOperator<float>((float)negativeSlope), new LeakyReluOperator<double>(negativeSlope));
        return Record(result, "LeakyReluBackward", Saves.Input,
            (g, x, _) => MapFloat(g, x!, new LeakyReluGradOperator<float>((float)negativeSlope), new LeakyReluGradOperator<double>(negativeSlope)));
    }

    /// <summary>x for x &gt; 0, alpha(e^x - 1) otherwise; d/dx = y + alpha there.</summary>
    public Tensor Elu(double alpha = 1.0)
    {
        RequireFloat("elu");
        var result = UnaryFloat("elu", this, default(ExpM1Op<float>), default(ExpM1Op<double>));
        var x = ContiguousData();
        Dispatch.Float(DType, new EluBlend(x, result, alpha));
        KeepAlive(x);
        return Record(result, "EluBackward", Saves.Output,
            (g, _, y) => MapFloat(g, y!, new EluGradOperator<float>((float)alpha), new EluGradOperator<double>(alpha)));
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
    /// </summary>
    public Tensor Gelu(GeluApproximation approximate = GeluApproximation.None)
    {
        if (approximate is not (GeluApproximation.None or GeluApproximation.Tanh))
            throw GeluApproximationNames.Unknown("gelu", approximate);
        if (DType == DType.Float32)
        {
            // float32: vector kernels (Kernels/Elementwise/Gelu.cs); float64 below stays exact.
            bool tanh = approximate == GeluApproximation.Tanh;
            var xc = ContiguousData();
            var y = EmptyLike(this);
            GeluKernels.Forward(xc.ReadSpan<float>(), y.Span<float>(), tanh);
            KeepAlive(xc);
            return Record(y, "GeluBackward", Saves.Input, (g, x, _) =>
            {
                var gc = g.ContiguousData();
                var xs = x!.ContiguousData();
                var dx = EmptyLike(xs);
                GeluKernels.Backward(gc.ReadSpan<float>(), xs.ReadSpan<float>(), dx.Span<float>(), tanh);
                KeepAlive(g, gc, x, xs);
                return dx;
            });
        }
        switch (approximate)
        {
            case GeluApproximation.None:
                return Record(MapScalar("gelu", this, static v => v * NormalCdf(v)), "GeluBackward", Saves.Input,
                    static (g, x, _) => g * MapScalar("gelu", x!, static v => NormalCdf(v) + v * Math.Exp(-0.5 * v * v) / Math.Sqrt(2 * Math.PI)));
            case GeluApproximation.Tanh:
                return Record(MapScalar("gelu", this, static v => 0.5 * v * (1 + Math.Tanh(GeluInner(v)))), "GeluBackward", Saves.Input,
                    static (g, x, _) => g * MapScalar("gelu", x!, static v =>
                    {
                        double t = Math.Tanh(GeluInner(v));
                        return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GeluK * (1 + 3 * 0.044715 * v * v);
                    }));
            default:
                throw GeluApproximationNames.Unknown("gelu", approximate);
        }
    }

    private static readonly double GeluK = Math.Sqrt(2 / Math.PI);

    private static double GeluInner(double v) => GeluK * (v + 0.044715 * v * v * v);

    private static double NormalCdf(double v) => 0.5 * (1 + SpecialFunctions.Erf(v / Math.Sqrt(2)));

    /// <summary>log(1 + e^{beta x})/beta, reverting to x where beta*x &gt; threshold (as PyTorch).</summary>
    public Tensor Softplus(double beta = 1, double threshold = 20)
    {
        var result = MapScalar("softplus", this, v => v * beta > threshold ? v : LogOnePlusExp(v * beta) / beta);
        return Record(result, "SoftplusBackward", Saves.Input,
            (g, x, _) => g * MapScalar("softplus", x!, v => v * beta > threshold ? 1 : 1 / (1 + Math.Exp(-v * beta))));

        static double LogOnePlusExp(double z) => z > 0 ? z + Math.Log(1 + Math.Exp(-z)) : Math.Log(1 + Math.Exp(z));
    }

    /// <summary>Limits values to [min, max] (either bound optional); the gradient passes where min &lt;= x &lt;= max.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("clamp: at least one of min and max must be given");
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        var result = DType == DType.Int64
            ? ClampLong(lo, hi)
            : UnaryFloat("clamp", this, new ClampOp<float>((float)lo, (float)hi), new ClampOp<double>(lo, hi));
        return Record(result, "ClampBackward", Saves.Input,
            (g, x, _) => MapScalar("clamp", g, x!, (gv, xv) => xv >= lo && xv <= hi ? gv : 0));
    }

    private Tensor ClampLong(double lo, double hi)
    {
        var r = EmptyLike(this);
        long l = double.IsNegativeInfinity(lo) ? long.MinValue : (long)Math.Ceiling(lo);
        long h = double.IsPositiveInfinity(hi) ? long.MaxValue : (long)Math.Floor(hi);
        var x = ContiguousData();
        new ClampOp<long>(l, h).Apply(x.ReadSpan<long>(), r.Span<long>());
        KeepAlive(this, x);
        return r;
    }

    /// <summary>Heaviside step: 1 where x &gt; 0 else 0 (the perceptron's activation). Its gradient is zero.</summary>
    public Tensor Step() => Record(MapScalar("step", this, static v => v > 0 ? 1 : 0), "StepBackward", Saves.None,
        static (g, _, _) => ZerosLike(g));
}
