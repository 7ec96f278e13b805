using DeepSharp.Kernels;

namespace DeepSharp;

// Unary math: exp, log, log1p, sqrt, rsqrt, abs, sign, sin, cos, erf. Forward, then d/dx.
public sealed partial class Tensor
{
    /// <summary>e^x; d/dx = y.</summary>
    public Tensor Exp() => Record(Unary<ExpOp>("exp", this),
        "ExpBackward", Saves.Output, static (g, _, y) => g * y!);

    /// <summary>ln x; d/dx = 1/x.</summary>
    public Tensor Log() => Record(Unary<LogOp>("log", this),
        "LogBackward", Saves.Input, static (g, x, _) => g / x!);

    /// <summary>ln(1 + x), accurate near 0; d/dx = 1/(1+x).</summary>
    public Tensor Log1p() => Record(Unary<Log1pOp>("log1p", this),
        "Log1pBackward", Saves.Input, static (g, x, _) => g / (x! + 1));

    /// <summary>sqrt x; d/dx = 1/(2y).</summary>
    public Tensor Sqrt() => Record(Unary<SqrtOp>("sqrt", this),
        "SqrtBackward", Saves.Output, static (g, _, y) => g / (y! * 2));

    /// <summary>1/sqrt x; d/dx = -y^3/2.</summary>
    public Tensor Rsqrt() => Record(Unary<RsqrtOp>("rsqrt", this),
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
        return Record(Map<AbsOp>("abs", this),
            "AbsBackward", Saves.Input, static (g, x, _) => g * x!.Sign());
    }

    /// <summary>-1, 0 or 1; its gradient is zero everywhere.</summary>
    public Tensor Sign() => Record(Map<SignOp>("sign", this),
        "SignBackward", Saves.None, static (g, _, _) => ZerosLike(g));

    /// <summary>sin x; d/dx = cos x.</summary>
    public Tensor Sin() => Record(Unary<SinOp>("sin", this),
        "SinBackward", Saves.Input, static (g, x, _) => g * x!.Cos());

    /// <summary>cos x; d/dx = -sin x.</summary>
    public Tensor Cos() => Record(Unary<CosOp>("cos", this),
        "CosBackward", Saves.Input, static (g, x, _) => -(g * x!.Sin()));

    /// <summary>erf x; d/dx = 2/sqrt(pi) e^{-x^2}.</summary>
    public Tensor Erf() => Record(Map<ErfOp>("erf", this),
        "ErfBackward", Saves.Input, static (g, x, _) => g * (x! * x!).Neg().Exp() * (2 / Math.Sqrt(Math.PI)));

    /// <summary>x^2 (a cheap alias of Pow(2)).</summary>
    public Tensor Square() => Pow(2);

    /// <summary>1/x.</summary>
    public Tensor Reciprocal() => RDiv(1);
}
