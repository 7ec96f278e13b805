using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>Span kernels against scalar references at every vector width, for lengths 0..67 and 300 (vector bodies and all tails).</summary>
public sealed class ElementwiseKernelTests
{
    private static float[] Data(int n, int seed, float lo = -3, float hi = 3)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)r.NextDouble();
        return x;
    }

    private static void ForEachLength(Action<int> check) => KernelCases.ForEachWidthAndLength(check);

    [Fact]
    public void FusedGradientOperatorsMatchScalarFormulas()
    {
        ForEachLength(n =>
        {
            var g = Data(n, n);
            var y = Data(n, n + 1000, -1, 1);
            var d = new float[n];
            Vectorized.Map(g, y, d, default(FloatBinary<ReluGrad, float>));
            for (int i = 0; i < n; i++) Assert.Equal(y[i] > 0 ? g[i] : 0f, d[i]);
            Vectorized.Map(g, y, d, default(FloatBinary<SigmoidGrad, float>));
            for (int i = 0; i < n; i++) Assert.Equal(g[i] * y[i] * (1 - y[i]), d[i], 1e-6f);
            Vectorized.Map(g, y, d, default(FloatBinary<TanhGrad, float>));
            for (int i = 0; i < n; i++) Assert.Equal(g[i] * (1 - y[i] * y[i]), d[i], 1e-6f);
            Vectorized.Map(g, y, d, new FloatBinary<LeakyReluGrad, float>(0.2f, 0));
            for (int i = 0; i < n; i++) Assert.Equal(y[i] > 0 ? g[i] : g[i] * 0.2f, d[i]);
            Vectorized.Map(g, y, d, new FloatBinary<EluGrad, float>(0.5f, 0));
            for (int i = 0; i < n; i++) Assert.Equal(y[i] > 0 ? g[i] : g[i] * (y[i] + 0.5f), d[i], 1e-6f);
        });
    }

    [Fact]
    public void UnaryOperatorsMatchScalarFormulasInDouble()
    {
        ForEachLength(n =>
        {
            var x = Data(n, n).Select(v => (double)v).ToArray();
            var d = new double[n];
            Vectorized.Map(x, d, new FloatUnary<LeakyReluOp, double>(0.01, 0));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] > 0 ? x[i] : 0.01 * x[i], d[i]);
        });
    }

    [Fact]
    public void ArithmeticAndMathSpanOpsMatchScalarReferences()
    {
        ForEachLength(n =>
        {
            var x = Data(n, n, 0.1f, 3);
            var y = Data(n, n + 7, 0.1f, 3);
            var d = new float[n];
            default(AddOp<float>).Apply(x, y, d);
            for (int i = 0; i < n; i++) Assert.Equal(x[i] + y[i], d[i]);
            default(SubOp<float>).Apply(2f, x, d);
            for (int i = 0; i < n; i++) Assert.Equal(2f - x[i], d[i]);
            default(DivOp<float>).Apply(x, y, d);
            for (int i = 0; i < n; i++) Assert.Equal(x[i] / y[i], d[i]);
            default(PowOp<float>).Apply(x, 3f, d);
            for (int i = 0; i < n; i++) Assert.Equal(x[i] * x[i] * x[i], d[i], 1e-5f * MathF.Max(1, d[i]));
            ExpOp.Apply<float>(x, d);
            for (int i = 0; i < n; i++) Assert.Equal(MathF.Exp(x[i]), d[i], 2e-6f * d[i]);
            LogOp.Apply<float>(x, d);
            for (int i = 0; i < n; i++) Assert.Equal(MathF.Log(x[i]), d[i], 1e-6f);
            Vectorized.Map(x, d, new FloatUnary<ClampOp, float>(0.5f, 2f));
            for (int i = 0; i < n; i++) Assert.Equal(Math.Clamp(x[i], 0.5f, 2f), d[i]);
            var s = Data(n, n + 3);
            Vectorized.Map(s, d, default(FloatUnary<SignOp, float>));
            for (int i = 0; i < n; i++) Assert.Equal(MathF.Sign(s[i]), d[i]);
        });
    }

    [Fact]
    public void GuardedGradientFunctionsMatchScalarFormulas()
    {
        ForEachLength(n =>
        {
            var g = Data(n, n);
            var x = Data(n, n + 1000);
            for (int i = 0; i < n; i += 5) x[i] = 0; // zeros and ties exercise the guards
            var y = Data(n, n + 2000);
            for (int i = 0; i < n; i += 3) y[i] = x[i];
            var d = new float[n];
            Vectorized.Map(g, x, d, new FloatBinary<ClampGrad, float>(-1, 1));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] >= -1 && x[i] <= 1 ? g[i] : 0f, d[i]);
            Vectorized.Map(g, x, d, default(FloatBinary<DivOrZero, float>));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] == 0 ? 0f : g[i] / x[i], d[i]);
            Vectorized.Map(x, g, d, default(FloatBinary<ZeroWhereZero, float>));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] == 0 ? 0f : g[i], d[i]);
            Vectorized.Map(x, y, d, new FloatBinary<WinnerShare, float>(1, 0));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] == y[i] ? 0.5f : x[i] > y[i] ? 1f : 0f, d[i]);
            Vectorized.Map(x, y, d, new FloatBinary<WinnerShare, float>(0, 0));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] == y[i] ? 0.5f : x[i] < y[i] ? 1f : 0f, d[i]);
            Vectorized.Map(x, d, default(FloatUnary<StepOp, float>));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] > 0 ? 1f : 0f, d[i]);
            if (n > 2) (x[0], x[1]) = (float.PositiveInfinity, float.NegativeInfinity);
            Vectorized.Map(x, d, default(FloatUnary<FiniteOrZero, float>));
            for (int i = 0; i < n; i++) Assert.Equal(float.IsInfinity(x[i]) ? 0f : x[i], d[i]);
        });
    }

    [Fact]
    public void LaneByLaneFunctionsMatchTheirDoubleFormulasAtEveryWidth()
    {
        ForEachLength(n =>
        {
            var x = Data(n, n, -30, 30).Select(v => (double)v).ToArray();
            var d = new double[n];
            Vectorized.Map(x, d, default(FloatUnary<ErfOp, double>));
            for (int i = 0; i < n; i++) Assert.Equal(SpecialFunctions.Erf(x[i]), d[i]);
            Vectorized.Map(x, d, new FloatUnary<SoftplusOp, double>(0.5, 10));
            for (int i = 0; i < n; i++)
            {
                double z = 0.5 * x[i];
                double expected = z > 10 ? x[i] : (z > 0 ? z + Math.Log(1 + Math.Exp(-z)) : Math.Log(1 + Math.Exp(z))) / 0.5;
                Assert.Equal(expected, d[i]);
            }
            Vectorized.Map(x, d, default(FloatUnary<GeluErf, double>));
            for (int i = 0; i < n; i++) Assert.Equal(x[i] * 0.5 * (1 + SpecialFunctions.Erf(x[i] / Math.Sqrt(2))), d[i]);
        });
    }

    [Fact]
    public void ErfMatchesKnownValues()
    {
        // Reference values of erf (Abramowitz & Stegun table / high-precision evaluation).
        (double X, double Erf)[] table =
        [
            (0, 0), (0.1, 0.1124629160182849), (0.5, 0.5204998778130465), (1, 0.8427007929497149),
            (1.5, 0.9661051464753108), (2, 0.9953222650189527), (2.9, 0.9999589021219005),
            (3, 0.9999779095030014), (3.5, 0.9999992569016276), (4, 0.9999999845827421), (-1, -0.8427007929497149),
        ];
        foreach (var (x, erf) in table) Assert.Equal(erf, SpecialFunctions.Erf(x), 1e-14);
    }

    [Fact]
    public void StridedCopyHandlesTransposesBroadcastAndEmpty()
    {
        for (int rows = 0; rows <= 17; rows++)
            for (int cols = 0; cols <= 19; cols += 3)
            {
                var src = Data(rows * cols, rows * 31 + cols);
                var dst = new float[rows * cols];
                // Transposed read: dst[c, r] = src[r, c].
                StridedCopy.Copy<float>(src, 0, [1, cols], dst, 0, [rows, 1], [cols, rows]);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) Assert.Equal(src[r * cols + c], dst[c * rows + r]);
                // Broadcast of one row over all rows (source stride 0).
                if (cols > 0 && rows > 0)
                {
                    StridedCopy.Copy<float>(src, 0, [0, 1], dst, 0, [cols, 1], [rows, cols]);
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++) Assert.Equal(src[c], dst[r * cols + c]);
                }
            }
    }
}
