namespace DeepSharp.Onnx;

// Math outside the element-wise and reduction families: BitShift, Det, MeanVarianceNormalization.
internal static partial class OnnxOps
{
    private static void RegisterMath(Dictionary<string, Op> ops)
    {
        ops["BitShift"] = n => One(BitShift(n));
        ops["Det"] = n => One(Det(n));
        ops["MeanVarianceNormalization"] = n => One(MeanVarianceNormalization(n));
    }

    /// <summary>
    /// BitShift of unsigned integers. DeepSharp holds every integer type as int64 (as the rest of the importer), so a
    /// left shift past the width of a narrower type is not wrapped to that width.
    /// </summary>
    private static Tensor BitShift(OnnxNode n)
    {
        string direction = n.String("direction", "");
        if (direction is not ("LEFT" or "RIGHT")) throw new InvalidDataException($"ONNX {n.Describe}: direction '{direction}' is not LEFT or RIGHT");
        var x = n.Input(0);
        var y = n.Input(1);
        if (x.IsFloatingPoint || y.IsFloatingPoint) throw new InvalidDataException($"ONNX {n.Describe}: BitShift takes unsigned integers");
        int[] shape = Shapes.Broadcast("BitShift", x.ShapeArray, y.ShapeArray);
        var a = Expand(x.To(DType.Int64), [.. shape.Select(d => (long)d)]).ToArray<long>();
        var b = Expand(y.To(DType.Int64), [.. shape.Select(d => (long)d)]).ToArray<long>();
        var result = new long[a.Length];
        for (int i = 0; i < a.Length; i++)
        {
            int by = (int)Math.Clamp(b[i], 0, 64);
            ulong v = (ulong)a[i];
            result[i] = by == 64 ? 0 : (long)(direction == "LEFT" ? v << by : v >> by);
        }
        return OnnxTensors.Make(result, shape);
    }

    /// <summary>Det of [*, M, M] by LU decomposition with partial pivoting, in float64 (not differentiable).</summary>
    private static Tensor Det(OnnxNode n)
    {
        var x = n.Input(0);
        if (x.Rank < 2 || x.ShapeArray[^1] != x.ShapeArray[^2])
            throw new InvalidDataException($"ONNX {n.Describe}: Det needs square matrices [*, M, M], got {Shapes.Format(x.ShapeArray)}");
        int m = x.ShapeArray[^1];
        var values = x.To(DType.Float64).Contiguous().ToArray<double>();
        int count = values.Length / Math.Max(m * m, 1);
        var dets = new double[count];
        var a = new double[m * m];
        for (int k = 0; k < count; k++)
        {
            Array.Copy(values, k * m * m, a, 0, m * m);
            double det = 1;
            for (int c = 0; c < m && det != 0; c++)
            {
                int pivot = c;
                for (int r = c + 1; r < m; r++) if (Math.Abs(a[r * m + c]) > Math.Abs(a[pivot * m + c])) pivot = r;
                if (a[pivot * m + c] == 0) { det = 0; break; }
                if (pivot != c)
                {
                    for (int j = 0; j < m; j++) (a[c * m + j], a[pivot * m + j]) = (a[pivot * m + j], a[c * m + j]);
                    det = -det;
                }
                det *= a[c * m + c];
                for (int r = c + 1; r < m; r++)
                {
                    double f = a[r * m + c] / a[c * m + c];
                    for (int j = c; j < m; j++) a[r * m + j] -= f * a[c * m + j];
                }
            }
            dets[k] = det;
        }
        return OnnxTensors.Make(dets, x.ShapeArray[..^2]).To(x.DType);
    }

    /// <summary>(X - mean) / (sqrt(variance) + 1e-9) over axes (default [0, 2, 3]), as the operator's function body.</summary>
    private static Tensor MeanVarianceNormalization(OnnxNode n)
    {
        var x = n.Input(0);
        var axes = (n.Ints("axes") ?? [0, 2, 3]).Select(a => Axis(a, x.Rank, n)).Distinct().ToArray();
        var centered = x - x.Mean(axes, true);
        return centered / ((centered * centered).Mean(axes, true).Sqrt() + 1e-9);
    }
}
