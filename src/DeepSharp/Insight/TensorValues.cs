namespace DeepSharp.Insight;

/// <summary>Fast read-only access to float tensors for statistics (span loops, no per-element delegates).</summary>
internal static class TensorValues
{
    /// <summary>The elements as doubles (a copy), row-major.</summary>
    public static double[] ToDoubles(Tensor t)
    {
        var result = new double[t.Numel];
        CopyTo(t, result);
        return result;
    }

    /// <summary>Copies the elements, row-major, into <paramref name="destination"/> (of length Numel).</summary>
    public static void CopyTo(Tensor t, double[] destination)
    {
        var c = t.ContiguousData();
        switch (c.DType)
        {
            case DType.Float32:
                var f = c.ReadSpan<float>();
                for (int i = 0; i < f.Length; i++) destination[i] = f[i];
                break;
            case DType.Float64:
                c.ReadSpan<double>().CopyTo(destination);
                break;
            default:
                c.ToDoubleArray().CopyTo(destination, 0);
                break;
        }
        Tensor.KeepAlive(t, c); // c may be a contiguous copy only the span points into
    }

    /// <summary>Sum of squares in double precision (the square of the L2 norm); NaN/inf propagate.</summary>
    public static double SumSquares(Tensor t)
    {
        var c = t.ContiguousData();
        double s = 0;
        if (c.DType == DType.Float32)
        {
            var f = c.ReadSpan<float>();
            for (int i = 0; i < f.Length; i++) s += (double)f[i] * f[i];
        }
        else if (c.DType == DType.Float64)
        {
            var d = c.ReadSpan<double>();
            for (int i = 0; i < d.Length; i++) s += d[i] * d[i];
        }
        else
        {
            foreach (double v in c.ToDoubleArray()) s += v * v;
        }
        Tensor.KeepAlive(t, c);
        return s;
    }

    /// <summary>||t - reference||^2 with reference a copy taken earlier by <see cref="ToDoubles"/>.</summary>
    public static double DistanceSquared(Tensor t, double[] reference)
    {
        var c = t.ContiguousData();
        if (c.Numel != reference.Length) return double.NaN;
        double s = 0;
        if (c.DType == DType.Float32)
        {
            var f = c.ReadSpan<float>();
            for (int i = 0; i < f.Length; i++)
            {
                double d = f[i] - reference[i];
                s += d * d;
            }
        }
        else if (c.DType == DType.Float64)
        {
            var v = c.ReadSpan<double>();
            for (int i = 0; i < v.Length; i++)
            {
                double d = v[i] - reference[i];
                s += d * d;
            }
        }
        else
        {
            var v = c.ToDoubleArray();
            for (int i = 0; i < v.Length; i++) s += (v[i] - reference[i]) * (v[i] - reference[i]);
        }
        Tensor.KeepAlive(t, c);
        return s;
    }
}
