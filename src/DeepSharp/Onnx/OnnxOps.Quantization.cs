namespace DeepSharp.Onnx;

// Quantized integer arithmetic whose result type does not depend on the input's integer width (DeepSharp holds every
// integer type as int64): DequantizeLinear (to float), DynamicQuantizeLinear (always uint8), MatMulInteger and
// ConvInteger (always int32). QuantizeLinear and the QLinear ops saturate to the zero point's type (uint8 or int8),
// which the held values no longer tell, so they stay unsupported.
internal static partial class OnnxOps
{
    private static void RegisterQuantization(Dictionary<string, Op> ops)
    {
        ops["DequantizeLinear"] = n => One(DequantizeLinear(n));
        ops["DynamicQuantizeLinear"] = n => DynamicQuantizeLinear(n.Input(0));
        ops["MatMulInteger"] = n => One(Map(Shifted(n.Input(0), n.Optional(2), Math.Max(n.Input(0).Rank - 2, 0), n) // per row of A
            .MatMul(Shifted(n.Input(1), n.Optional(3), n.Input(1).Rank - 1, n)), Math.Round).To(DType.Int64));                // per column of B
        ops["ConvInteger"] = n => One(ConvInteger(n));
    }

    /// <summary>
    /// x - zero_point in float64, the zero point a scalar or 1-D along <paramref name="axis"/>; an integer-valued
    /// float64 tensor, so products and sums of them are exact.
    /// </summary>
    private static Tensor Shifted(Tensor x, Tensor? zeroPoint, int axis, OnnxNode n)
    {
        var v = x.To(DType.Float64);
        return zeroPoint is null ? v : v - PerAxis(zeroPoint.To(DType.Float64), x, axis, n);
    }

    /// <summary>A scalar (or one-element) parameter as is, a 1-D one reshaped to broadcast along <paramref name="axis"/> of x.</summary>
    private static Tensor PerAxis(Tensor p, Tensor x, int axis, OnnxNode n)
    {
        if (p.Numel == 1) return p.Reshape([]);
        if (p.Rank != 1 || x.Rank <= axis || p.Numel != x.ShapeArray[axis])
            throw new InvalidDataException($"ONNX {n.Describe}: a per-axis parameter {Shapes.Format(p.ShapeArray)} does not fit axis {axis} of {Shapes.Format(x.ShapeArray)}");
        var shape = Enumerable.Repeat(1, x.Rank).ToArray();
        shape[axis] = p.Numel;
        return p.Reshape(shape);
    }

    /// <summary>DequantizeLinear: (x - zero_point) * scale, per tensor or along axis (default 1).</summary>
    private static Tensor DequantizeLinear(OnnxNode n)
    {
        var x = n.Input(0);
        var scale = n.Input(1);
        int axis = scale.Numel == 1 ? 0 : Axis(n.Int("axis", 1), x.Rank, n); // the axis matters for per-axis scales only
        return (Shifted(x, n.Optional(2), axis, n) * PerAxis(scale.To(DType.Float64), x, axis, n)).To(scale.DType);
    }

    /// <summary>
    /// DynamicQuantizeLinear: uint8 y with scale (max(0, x) - min(0, x)) / 255 and zero point round(-min / scale),
    /// saturated to [0, 255], rounding half to even, in float32 as the operator's reference.
    /// </summary>
    private static Tensor?[] DynamicQuantizeLinear(Tensor x)
    {
        var v = x.To(DType.Float32).ToArray<float>();
        float min = Math.Min(0f, v.Length == 0 ? 0f : v.Min()), max = Math.Max(0f, v.Length == 0 ? 0f : v.Max());
        float scale = (max - min) / 255f;
        float zero = scale == 0 ? 0 : Math.Clamp(MathF.Round(0 - min / scale, MidpointRounding.ToEven), 0, 255);
        var y = new long[v.Length];
        for (int i = 0; i < v.Length; i++)
            y[i] = scale == 0 ? (long)zero : (long)Math.Clamp(MathF.Round(v[i] / scale, MidpointRounding.ToEven) + zero, 0, 255);
        return [OnnxTensors.Make(y, x.ShapeArray), Tensor.Scalar(scale), Tensor.Scalar((long)zero, DType.Int64)];
    }

    /// <summary>ConvInteger: Conv of x - x_zero_point and w - w_zero_point (per output channel) in float64, exact, as int64.</summary>
    private static Tensor ConvInteger(OnnxNode n)
    {
        var x = Shifted(n.Input(0), n.Optional(2), 1, n);
        var w = Shifted(n.Input(1), n.Optional(3), 0, n);
        var conv = new OnnxNode(n.Proto, n.Opset, n.Training) { Inputs = [x, w] };
        return Map(Conv(conv), Math.Round).To(DType.Int64);
    }
}
