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
            Vectorized.Map<float, ReluGradOperator<float>>(g, y, d, default);
            for (int i = 0; i < n; i++) Assert.Equal(y[i] > 0 ? g[i] : 0f, d[i]);
            Vectorized.Map<float, SigmoidGradOperator<float>>(g, y, d, default);
            for (int i = 0; i < n; i++) Assert.Equal(g[i] * y[i] * (1 - y[i]), d[i], 1e-6f);
            Vectorized.Map<float, TanhGradOperator<float>>(g, y, d, default);
            for (int i = 0; i < n; i++) Assert.Equal(g[i] * (1 - y[i] * y[i]), d[i], 1e-6f);
            Vectorized.Map(g, y, d, new LeakyReluGradOperator<float>(0.2f));
            for (int i = 0; i < n; i++) Assert.Equal(y[i] > 0 ? g[i] : g[i] * 0.2f, d[i]);
            Vectorized.Map(g, y, d, new EluGradOperator<float>(0.5f));
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
            Vectorized.Map(x, d, new LeakyReluOperator<double>(0.01));
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
            default(ExpOp<float>).Apply(x, d);
            for (int i = 0; i < n; i++) Assert.Equal(MathF.Exp(x[i]), d[i], 2e-6f * d[i]);
            default(LogOp<float>).Apply(x, d);
            for (int i = 0; i < n; i++) Assert.Equal(MathF.Log(x[i]), d[i], 1e-6f);
            new ClampOp<float>(0.5f, 2f).Apply(x, d);
            for (int i = 0; i < n; i++) Assert.Equal(Math.Clamp(x[i], 0.5f, 2f), d[i]);
            default(SignOp<float>).Apply(Data(n, n + 3), d);
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
