using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// Initialisers beyond <see cref="Init"/> (kept apart because Init is not a partial class):
/// torch.nn.init.trunc_normal_, which GoogLeNet and vision transformers use.
/// </summary>
public static class InitExtra
{
    /// <summary>
    /// Fills <paramref name="tensor"/> with N(mean, std^2) truncated to [a, b] (absolute bounds, as torch).
    /// When most of the mass lies inside the bounds (the usual case, e.g. std 0.01 within [-2, 2]) samples
    /// outside are redrawn, which is exact and cheap; otherwise PyTorch's inverse-CDF method is used:
    /// u ~ U(2 Phi(alpha) - 1, 2 Phi(beta) - 1), x = mean + std sqrt(2) erfinv(u), clamped to [a, b].
    /// </summary>
    public static Tensor TruncNormal(Tensor tensor, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!tensor.IsFloatingPoint) throw new ArgumentException($"init.trunc_normal_: expected a floating-point tensor, got {tensor.DType.Name()}");
        if (!(std > 0) || !(a < b)) throw new ArgumentException($"init.trunc_normal_: expected std > 0 and a < b, got std={std}, a={a}, b={b}");
        if (tensor.Numel == 0) return tensor;
        double lo = NormalCdf((a - mean) / std), hi = NormalCdf((b - mean) / std);
        var values = hi - lo >= 0.5 ? Rejection(tensor.ShapeArray, mean, std, a, b, generator) : InverseCdf(tensor.ShapeArray, mean, std, a, b, lo, hi, generator);
        using (Autograd.NoGrad()) tensor.CopyFrom(values);
        return tensor;
    }

    /// <summary>Normal samples with the ones outside [a, b] redrawn until none is left (at most a few rounds when P(inside) &gt;= 1/2).</summary>
    private static Tensor Rejection(int[] shape, double mean, double std, double a, double b, Generator? generator)
    {
        var values = Tensor.Normal(shape, mean, std, generator, DType.Float64);
        var v = values.Span<double>();
        var outside = new List<int>();
        for (int i = 0; i < v.Length; i++)
            if (!(v[i] >= a && v[i] <= b)) outside.Add(i);
        while (outside.Count > 0)
        {
            var draws = Tensor.Normal([outside.Count], mean, std, generator, DType.Float64);
            var redraw = draws.Span<double>();
            var still = new List<int>();
            for (int j = 0; j < outside.Count; j++)
            {
                v[outside[j]] = redraw[j];
                if (!(redraw[j] >= a && redraw[j] <= b)) still.Add(outside[j]);
            }
            Tensor.KeepAlive(draws); // the loop allocates while reading it
            outside = still;
        }
        return values;
    }

    private static Tensor InverseCdf(int[] shape, double mean, double std, double a, double b, double lo, double hi, Generator? generator)
    {
        var u = Tensor.Uniform(shape, 2 * lo - 1, 2 * hi - 1, generator, DType.Float64);
        var v = u.Span<double>();
        double scale = std * Math.Sqrt(2);
        for (int i = 0; i < v.Length; i++) v[i] = Math.Clamp(mean + scale * ErfInv(v[i]), a, b);
        return u;
    }

    private static double NormalCdf(double x) => 0.5 * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2)));

    /// <summary>erf^-1(y) for y in (-1, 1): Giles' single-precision approximation refined by two Newton steps on erf.</summary>
    internal static double ErfInv(double y)
    {
        if (y <= -1) return double.NegativeInfinity;
        if (y >= 1) return double.PositiveInfinity;
        double w = -Math.Log((1 - y) * (1 + y)), x;
        if (w < 5)
        {
            w -= 2.5;
            double p = 2.81022636e-08;
            p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w; p = 0.00021858087 + p * w;
            p = -0.00125372503 + p * w; p = -0.00417768164 + p * w; p = 0.246640727 + p * w; p = 1.50140941 + p * w;
            x = p * y;
        }
        else
        {
            w = Math.Sqrt(w) - 3;
            double p = -0.000200214257;
            p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w; p = 0.00573950773 + p * w;
            p = -0.0076224613 + p * w; p = 0.00943887047 + p * w; p = 1.00167406 + p * w; p = 2.83297682 + p * w;
            x = p * y;
        }
        for (int i = 0; i < 2; i++)
            x -= (SpecialFunctions.Erf(x) - y) / (2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x));
        return x;
    }
}
