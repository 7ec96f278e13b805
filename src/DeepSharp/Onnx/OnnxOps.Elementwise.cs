namespace DeepSharp.Onnx;

// Element-wise operators with NumPy broadcasting. Floating-point math uses DeepSharp's differentiable ops; integer
// math (shape arithmetic in exported graphs) runs in float64 and is cast back, exact for the sizes shapes have.
internal static partial class OnnxOps
{
    private static void RegisterElementwise(Dictionary<string, Op> ops)
    {
        ops["Add"] = n => One(Arith(n.Input(0), n.Input(1), (a, b) => a + b));
        ops["Sub"] = n => One(Arith(n.Input(0), n.Input(1), (a, b) => a - b));
        ops["Mul"] = n => One(Arith(n.Input(0), n.Input(1), (a, b) => a * b));
        ops["Div"] = n => One(Arith(n.Input(0), n.Input(1), (a, b) => a / b));
        ops["Pow"] = n => One(Pow(n.Input(0), n.Input(1)));
        ops["Mod"] = n => One(Mod(n.Input(0), n.Input(1), n.Int("fmod", 0) != 0));
        ops["Max"] = n => One(Variadic(n, (a, b) => Arith(a, b, (x, y) => x.Maximum(y))));
        ops["Min"] = n => One(Variadic(n, (a, b) => Arith(a, b, (x, y) => x.Minimum(y))));
        ops["Sum"] = n => One(Variadic(n, (a, b) => Arith(a, b, (x, y) => x + y)));
        ops["Mean"] = n => One(Variadic(n, (a, b) => a + b) / n.Inputs.Length);
        ops["Equal"] = n => One(Compare(n.Input(0), n.Input(1), (a, b) => a.Eq(b)));
        ops["Greater"] = n => One(Compare(n.Input(0), n.Input(1), (a, b) => a.Gt(b)));
        ops["Less"] = n => One(Compare(n.Input(0), n.Input(1), (a, b) => a.Lt(b)));
        ops["GreaterOrEqual"] = n => One(Compare(n.Input(0), n.Input(1), (a, b) => a.Ge(b)));
        ops["LessOrEqual"] = n => One(Compare(n.Input(0), n.Input(1), (a, b) => a.Le(b)));
        ops["And"] = n => One(n.Input(0).LogicalAnd(n.Input(1)));
        ops["Or"] = n => One(n.Input(0).LogicalOr(n.Input(1)));
        ops["Xor"] = n => One(n.Input(0).Ne(n.Input(1)));
        ops["Not"] = n => One(n.Input(0).LogicalNot());
        ops["Where"] = n => One(Where(n.Input(0), n.Input(1), n.Input(2)));

        ops["Identity"] = n => [n.Value(0)]; // any kind of value
        ops["Neg"] = n => One(Unary(n.Input(0), x => x.Neg()));
        ops["Abs"] = n => One(Unary(n.Input(0), x => x.Abs()));
        ops["Sign"] = n => One(Unary(n.Input(0), x => x.Sign()));
        ops["Relu"] = n => One(n.Input(0).Relu());
        ops["Sigmoid"] = n => One(n.Input(0).Sigmoid());
        ops["Tanh"] = n => One(n.Input(0).Tanh());
        ops["Exp"] = n => One(n.Input(0).Exp());
        ops["Log"] = n => One(n.Input(0).Log());
        ops["Sqrt"] = n => One(n.Input(0).Sqrt());
        ops["Reciprocal"] = n => One(n.Input(0).Reciprocal());
        ops["Erf"] = n => One(n.Input(0).Erf());
        ops["Sin"] = n => One(n.Input(0).Sin());
        ops["Cos"] = n => One(n.Input(0).Cos());
        ops["Tan"] = n => One(n.Input(0).Sin() / n.Input(0).Cos());
        ops["Floor"] = n => One(Map(n.Input(0), Math.Floor));
        ops["Ceil"] = n => One(Map(n.Input(0), Math.Ceiling));
        ops["Round"] = n => One(Map(n.Input(0), v => Math.Round(v, MidpointRounding.ToEven)));
        ops["Asin"] = n => One(Map(n.Input(0), Math.Asin));
        ops["Acos"] = n => One(Map(n.Input(0), Math.Acos));
        ops["Atan"] = n => One(Map(n.Input(0), Math.Atan));
        ops["Sinh"] = n => One((n.Input(0).Exp() - n.Input(0).Neg().Exp()) * 0.5);
        ops["Cosh"] = n => One((n.Input(0).Exp() + n.Input(0).Neg().Exp()) * 0.5);
        ops["Asinh"] = n => One(Map(n.Input(0), Math.Asinh));
        ops["Acosh"] = n => One(Map(n.Input(0), Math.Acosh));
        ops["Atanh"] = n => One(Map(n.Input(0), Math.Atanh));
        ops["Shrink"] = n => One(Shrink(n.Input(0), n.Float("lambd", 0.5), n.Float("bias", 0)));
        ops["IsNaN"] = n => One(n.Input(0).Ne(n.Input(0)));
        ops["IsInf"] = n => One(IsInf(n));
        ops["LeakyRelu"] = n => One(n.Input(0).LeakyRelu(n.Float("alpha", 0.01)));
        ops["Elu"] = n => One(n.Input(0).Elu(n.Float("alpha", 1)));
        ops["Selu"] = n => One(n.Input(0).Elu(n.Float("alpha", 1.67326319217681884765625)) * n.Float("gamma", 1.05070102214813232421875));
        ops["Celu"] = n => One(Celu(n.Input(0), n.Float("alpha", 1)));
        ops["ThresholdedRelu"] = n => One(Tensor.Where(n.Input(0).Gt(n.Float("alpha", 1)), n.Input(0), Tensor.ZerosLike(n.Input(0))));
        ops["PRelu"] = n => One(PRelu(n.Input(0), n.Input(1)));
        ops["Softplus"] = n => One(n.Input(0).Softplus());
        ops["Softsign"] = n => One(n.Input(0) / (n.Input(0).Abs() + 1));
        ops["HardSigmoid"] = n => One((n.Input(0) * n.Float("alpha", 0.2) + n.Float("beta", 0.5)).Clamp(0, 1));
        ops["HardSwish"] = n => One(n.Input(0) * (n.Input(0) * (1.0 / 6) + 0.5).Clamp(0, 1));
        ops["Mish"] = n => One(n.Input(0) * n.Input(0).Softplus().Tanh());
        ops["Gelu"] = n => One(n.Input(0).Gelu(GeluApproximationNames.Parse(n.String("approximate", "none"), "Gelu")));
        ops["Clip"] = n => One(Clip(n));
    }

    /// <summary>Binary arithmetic: floating point directly, integers through float64 (truncating division, as ONNX's integer Div).</summary>
    private static Tensor Arith(Tensor a, Tensor b, Func<Tensor, Tensor, Tensor> f)
    {
        if (a.IsFloatingPoint && b.IsFloatingPoint) return f(a, b);
        if (a.IsFloatingPoint) return f(a, b.To(a.DType));
        if (b.IsFloatingPoint) return f(a.To(b.DType), b);
        var r = f(a.To(DType.Float64), b.To(DType.Float64));
        return Map(r, Math.Truncate).To(a.DType == DType.Bool ? DType.Int64 : a.DType);
    }

    private static Tensor Unary(Tensor x, Func<Tensor, Tensor> f) => x.IsFloatingPoint ? f(x) : f(x.To(DType.Float64)).To(x.DType);

    private static Tensor Compare(Tensor a, Tensor b, Func<Tensor, Tensor, Tensor> f) =>
        a.DType == b.DType ? f(a, b) : f(a.To(DType.Float64), b.To(DType.Float64));

    private static Tensor Variadic(OnnxNode n, Func<Tensor, Tensor, Tensor> f)
    {
        var acc = n.Input(0);
        for (int i = 1; i < n.Inputs.Length; i++) acc = f(acc, n.Input(i));
        return acc;
    }

    private static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        if (a.DType != b.DType) b = b.To(a.DType);
        if (a.IsFloatingPoint) return Tensor.Where(condition, a, b);
        return Tensor.Where(condition, a.To(DType.Float64), b.To(DType.Float64)).To(a.DType);
    }

    private static Tensor Pow(Tensor x, Tensor y)
    {
        if (!x.IsFloatingPoint) return Arith(x, y, (a, b) => a.Pow(b));
        if (y.Numel == 1 && y.Rank <= x.Rank) return x.Pow(y.To(DType.Float64).ToArray<double>()[0]); // the common x^2, x^0.5
        return x.Pow(y.To(x.DType));
    }

    private static Tensor Mod(Tensor a, Tensor b, bool fmod)
    {
        var x = a.To(DType.Float64);
        var y = b.To(DType.Float64);
        var q = Map(x / y, fmod ? Math.Truncate : Math.Floor);
        var r = x - q * y;
        return r.To(a.DType);
    }

    /// <summary>A 1-D slope of the channel count is per channel (dim 1), as opset 6 defines it and old exporters write it.</summary>
    private static Tensor PRelu(Tensor x, Tensor slope)
    {
        if (slope.Rank == 1 && x.Rank > 2 && slope.Numel == x.ShapeArray[1] && slope.Numel != x.ShapeArray[^1])
            slope = slope.Reshape([slope.Numel, .. Enumerable.Repeat(1, x.Rank - 2)]);
        return Tensor.Where(x.Lt(0), x * slope, x);
    }

    private static Tensor Shrink(Tensor x, double lambda, double bias)
    {
        var t = x.IsFloatingPoint ? x : x.To(DType.Float64);
        var zero = Tensor.ZerosLike(t);
        var y = Tensor.Where(t.Lt(-lambda), t + bias, Tensor.Where(t.Gt(lambda), t - bias, zero));
        return x.IsFloatingPoint ? y : y.To(x.DType);
    }

    private static Tensor Celu(Tensor x, double alpha) =>
        x.Relu() + ((x / alpha).Exp() - 1).Mul(alpha).Clamp(max: 0);

    private static Tensor IsInf(OnnxNode n)
    {
        var x = n.Input(0).To(DType.Float64);
        bool pos = n.Int("detect_positive", 1) != 0, neg = n.Int("detect_negative", 1) != 0;
        var p = x.Eq(double.PositiveInfinity);
        var m = x.Eq(double.NegativeInfinity);
        return pos && neg ? p.LogicalOr(m) : pos ? p : neg ? m : x.Ne(x).LogicalAnd(x.Eq(x));
    }

    private static Tensor Clip(OnnxNode n)
    {
        var x = n.Input(0);
        double? lo = n.Opset < 11 ? n.Float("min", double.NegativeInfinity) : n.Optional(1)?.To(DType.Float64).ToArray<double>()[0];
        double? hi = n.Opset < 11 ? n.Float("max", double.PositiveInfinity) : n.Optional(2)?.To(DType.Float64).ToArray<double>()[0];
        return lo is null && hi is null ? x : Unary(x, t => t.Clamp(lo, hi));
    }

    private static Tensor Cast(Tensor x, int to, OnnxNode n)
    {
        var dtype = OnnxTensors.DTypeOf(to) ?? throw n.Unsupported($"casting to {OnnxTensors.ElementTypeName(to)}");
        if (dtype == DType.Int64 && x.IsFloatingPoint) x = Map(x, Math.Truncate);
        return x.DType == dtype ? x : x.To(dtype);
    }

    /// <summary>A non-differentiable element-wise function computed on the values (rounding, truncation).</summary>
    private static Tensor Map(Tensor x, Func<double, double> f)
    {
        var values = x.To(DType.Float64).ToArray<double>();
        for (int i = 0; i < values.Length; i++) values[i] = f(values[i]);
        return OnnxTensors.Make(values, x.ShapeArray).To(x.DType == DType.Bool ? DType.Float64 : x.DType);
    }
}
