using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>The float32 GELU kernels against the float64 formulas at every vector width, every tail length and over the real line.</summary>
public sealed class GeluKernelTests
{
    private static double Phi(double x) => 0.5 * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2)));

    // Phi(x) for x < 0 as erfc/2 so that the reference itself keeps relative accuracy in the tail.
    private static double Cdf(double x) => x < 0 ? 0.5 * Erfc(-x / Math.Sqrt(2)) : Phi(x);

    private static double Erfc(double z) => z < 3 ? 1 - SpecialFunctions.Erf(z) : ErfcTail(z);

    // Continued fraction, valid for z >= 3 (as SpecialFunctions uses internally).
    private static double ErfcTail(double z)
    {
        double f = 0;
        for (int n = 200; n >= 1; n--) f = n / 2.0 / (z + f);
        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / (z + f);
    }

    private const double K = 0.7978845608028654; // sqrt(2/pi)

    internal static double Reference(double x, bool tanh, bool grad)
    {
        if (!tanh)
            return grad ? Cdf(x) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI) : x * Cdf(x);
        double twoU = 2 * K * (x + 0.044715 * x * x * x);
        double s = 1 / (1 + Math.Exp(-twoU)); // 0.5(1 + tanh u)
        return grad ? s + x * s * (1 - s) * 2 * K * (1 + 3 * 0.044715 * x * x) : x * s;
    }

    /// <summary>Values spread over [-12, 12] (dense near 0) plus exact special points.</summary>
    internal static float[] Inputs(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble() * 2 - 1;
            x[i] = (float)(Math.Sign(u) * 12 * u * u);
        }
        float[] special = [0f, -0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, -0.7518f, 3f, -3f, 5f, -5f, 9f, -9f];
        for (int i = 0; i < Math.Min(n, special.Length); i++) x[i] = special[i];
        return x;
    }

    /// <summary>
    /// Relative error bound 1e-6 for the value at x, plus a tiny absolute floor. The tanh form's e^-2u has condition
    /// number |2u|, and 2u = 2k(x + 0.044715x^3) is itself rounded to float: past |2u| = 6 (x &lt; -2.9, values
    /// below 2e-5) the bound grows with it (PyTorch's float32 0.5x(1 + tanh u) loses all digits there).
    /// </summary>
    internal static void AssertClose(double expected, float actual, double x, bool tanh, string what)
    {
        double twoU = Math.Abs(2 * K * (x + 0.044715 * x * x * x));
        double tol = 1e-6 * Math.Abs(expected) * (tanh ? Math.Max(1, twoU / 6) : 1) + 1e-37;
        Assert.True(Math.Abs(actual - expected) <= tol, $"{what}: x = {x:R}: expected {expected:R}, got {actual:R} (relative error {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardIsWithinAMillionthAtEveryWidthAndLength(bool tanh) => KernelCases.ForEachWidthAndLength(n =>
    {
        var x = Inputs(n, n);
        var y = new float[n];
        GeluKernels.Forward(x, y, tanh);
        for (int i = 0; i < n; i++) AssertClose(Reference(x[i], tanh, grad: false), y[i], x[i], tanh, $"gelu tanh={tanh} n={n}");
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BackwardIsWithinAMillionthAtEveryWidthAndLength(bool tanh) => KernelCases.ForEachWidthAndLength(n =>
    {
        var x = Inputs(n, 1000 + n);
        var g = new float[n];
        for (int i = 0; i < n; i++) g[i] = 1 + i % 3;
        var dx = new float[n];
        GeluKernels.Backward(g, x, dx, tanh);
        for (int i = 0; i < n; i++)
        {
            double expected = g[i] * Reference(x[i], tanh, grad: true);
            // gelu' crosses zero near x = -0.75: there the error is measured against its first term, Phi(x) or s.
            double firstTerm = tanh ? Reference(x[i], true, grad: false) / x[i] : Cdf(x[i]);
            double twoU = Math.Abs(2 * K * (x[i] + 0.044715 * x[i] * x[i] * x[i]));
            double scale = Math.Max(Math.Abs(expected), g[i] * (double.IsFinite(firstTerm) ? firstTerm : 0)) * (tanh ? Math.Max(1, twoU / 6) : 1);
            double tol = 1e-6 * scale + 1e-35; // intermediates past the float range (e^89) flush results near 1e-37 to 0
            Assert.True(Math.Abs(dx[i] - expected) <= tol, $"gelu' tanh={tanh} n={n} x={x[i]:R}: expected {expected:R}, got {dx[i]:R}");
        }
    });

    [Fact]
    public void HandlesInfinitiesAndNaN() => KernelCases.AtEveryWidth(_ =>
    {
        float[] x = [float.PositiveInfinity, float.NegativeInfinity, float.NaN, 200f, -200f, 88.5f, -88.5f, 1e30f, -1e30f];
        foreach (bool tanh in new[] { false, true })
        {
            var y = new float[x.Length];
            GeluKernels.Forward(x, y, tanh);
            Assert.Equal(float.PositiveInfinity, y[0]);
            Assert.True(float.IsNaN(y[1])); // -inf * 0, as PyTorch
            Assert.True(float.IsNaN(y[2]));
            Assert.Equal(200f, y[3]);
            Assert.Equal(0f, y[4]);
            Assert.Equal(88.5f, y[5]);
            Assert.Equal(0f, y[6]);
            Assert.Equal(1e30f, y[7]);
            Assert.Equal(0f, y[8]);
            var dx = new float[x.Length];
            GeluKernels.Backward(Enumerable.Repeat(1f, x.Length).ToArray(), x, dx, tanh);
            Assert.True(float.IsNaN(dx[2]));
            Assert.Equal(1f, dx[3]);
            Assert.Equal(0f, dx[4]);
        }
    });

    [Fact]
    public void ExpIsWithinTwoUlpOverItsRange() => KernelCases.AtEveryWidth(_ =>
    {
        const int n = 4099;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -87f + 175f * i / (n - 1);
        var y = new float[n];
        Vectorized.Map(x, y, default(ExpOperator));
        for (int i = 0; i < n; i++)
        {
            double expected = Math.Exp(x[i]);
            Assert.True(Math.Abs(y[i] - expected) <= 2.5e-7 * expected, $"exp({x[i]:R}) = {expected:R}, got {y[i]:R}");
        }
    });

    private readonly struct ExpOperator : IUnaryOperator<float>
    {
        public TV Invoke<TV, S>(TV x) where S : ISimd<TV, float> => SimdMath.Exp<TV, S>(x);
    }
}
