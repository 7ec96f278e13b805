using DeepSharp.Kernels;

namespace DeepSharp;

// Unary math: exp, log, log1p, sqrt, rsqrt, abs, sign, sin, cos, erf. Forward, then d/dx.
public sealed partial class Tensor
{
    /// <summary>e^x; d/dx = y.</summary>
    public Tensor Exp() => Record(UnaryFloat("exp", this, default(ExpOp<float>), default(ExpOp<double>)),
        "ExpBackward", Saves.Output, static (g, _, y) => g * y!);

    /// <summary>ln x; d/dx = 1/x.</summary>
    public Tensor Log() => Record(UnaryFloat("log", this, default(LogOp<float>), default(LogOp<double>)),
        "LogBackward", Saves.Input, static (g, x, _) => g / x!);

    /// <summary>ln(1 + x), accurate near 0; d/dx = 1/(1+x).</summary>
    public Tensor Log1p() => Record(UnaryFloat("log1p", this, default(Log1pOp<float>), default(Log1pOp<double>)),
        "Log1pBackward", Saves.Input, static (g, x, _) => g / (x! + 1));

    /// <summary>sqrt x; d/dx = 1/(2y).</summary>
    public Tensor Sqrt() => Record(UnaryFloat("sqrt", this, default(SqrtOp<float>), default(SqrtOp<double>)),
        "SqrtBackward", Saves.Output, static (g, _, y) => g / (y! * 2));

    /// <summary>1/sqrt x; d/dx = -y^3/2.</summary>
    public Tensor Rsqrt() => Record(UnaryFloat("rsqrt", this, default(RsqrtOp<float>), default(RsqrtOp<double>)),
        "RsqrtBackward", Saves.Output, static (g, _, y) => g * y!.Pow(3) * -0.5);

    /// <summary>|x|; d/dx = sign(x) (0 at 0, as PyTorch).</summary>
    public Tensor Abs()
    {
        if (DType == DType.Int64)
        {
            var r = EmptyLike(this);
            var x = ContiguousData();
            System.Numerics.Tensors.TensorPrimitives.Abs(x.ReadSpan<long>(), r.Span<long>());
            KeepAlive(this, x);
            return r;
        }
        return Record(UnaryFloat("abs", this, default(AbsOp<float>), default(AbsOp<double>)),
            "AbsBackward", Saves.Input, static (g, x, _) => g * x!.Sign());
    }

    /// <summary>-1, 0 or 1; its gradient is zero everywhere.</summary>
    public Tensor Sign() => Record(UnaryFloat("sign", this, default(SignOp<float>), default(SignOp<double>)),
        "SignBackward", Saves.None, static (g, _, _) => ZerosLike(g));

    /// <summary>sin x; d/dx = cos x.</summary>
    public Tensor Sin() => Record(UnaryFloat("sin", this, default(SinOp<float>), default(SinOp<double>)),
        "SinBackward", Saves.Input, static (g, x, _) => g * x!.Cos());

    /// <summary>cos x; d/dx = -sin x.</summary>
    public Tensor Cos() => Record(UnaryFloat("cos", this, default(CosOp<float>), default(CosOp<double>)),
        "CosBackward", Saves.Input, static (g, x, _) => -(g * x!.Sin()));

    /// <summary>erf x; d/dx = 2/sqrt(pi) e^{-x^2}.</summary>
    public Tensor Erf() => Record(MapScalar("erf", this, SpecialFunctions.Erf),
        "ErfBackward", Saves.Input, static (g, x, _) => g * (x! * x!).Neg().Exp() * (2 / Math.Sqrt(Math.PI)));

    /// <summary>x^2 (a cheap alias of Pow(2)).</summary>
    public Tensor Square() => Pow(2);

    /// <summary>1/x.</summary>
    public Tensor Reciprocal() => RDiv(1);
}
