using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// Element-wise and layer-norm kernels that split long inputs over the worker pool, with two threads, against the
/// float64 formulas: the parts must tile the input exactly (no element twice, none missed) and the per-part column
/// sums of the layer-norm backward must add up.
/// </summary>
[Collection("WorkerPool")]
public sealed class ParallelKernelTests
{
    private static void WithTwoThreads(Action body)
    {
        int saved = WorkerPool.Threads;
        WorkerPool.Threads = 2;
        try
        {
            body();
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeluOfALongSpanIsRightInEveryPartAtEveryWidth(bool tanh) => WithTwoThreads(() => KernelCases.AtEveryWidth(_ =>
    {
        foreach (int n in new[] { (1 << 15) * 2, (1 << 18) + 13 })
        {
            var x = GeluKernelTests.Inputs(n, n);
            var y = new float[n];
            GeluKernels.Forward(x, y, tanh);
            var g = new float[n];
            for (int i = 0; i < n; i++) g[i] = 1 + i % 3;
            var dx = new float[n];
            GeluKernels.Backward(g, x, dx, tanh);
            for (int i = 0; i < n; i++)
            {
                GeluKernelTests.AssertClose(GeluKernelTests.Reference(x[i], tanh, grad: false), y[i], x[i], tanh, $"gelu n={n} i={i}");
                double slope = GeluKernelTests.Reference(x[i], tanh, grad: true);
                Assert.True(Math.Abs(dx[i] - g[i] * slope) <= 1e-5 * g[i] * Math.Max(1, Math.Abs(slope)), $"gelu' n={n} i={i}: {dx[i]} vs {g[i] * slope}");
            }
        }
    }));

    [Theory]
    [InlineData(1000, 64)]
    [InlineData(517, 129)]
    public void LayerNormOfManyRowsMatchesFloat64(int rows, int n) => WithTwoThreads(() =>
    {
        var rng = new Random(rows + n);
        var x = new float[rows * n];
        var g = new float[rows * n];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 4 - 2 + i / n % 7); // rows with different means
            g[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        var gammaD = Enumerable.Range(0, n).Select(j => 0.5 + j % 5 * 0.25).ToArray();
        var gamma = gammaD.Select(v => (float)v).ToArray();
        var beta = Enumerable.Range(0, n).Select(j => (float)(j % 3 - 1)).ToArray();
        var mean = new double[rows];
        var invStd = new double[rows];
        Normalization.RowStats<float>(x, rows, n, 1e-5, mean, invStd);
        var y = new float[x.Length];
        Normalization.LayerNormForward<float>(x, y, rows, n, mean, invStd, gamma, beta);
        var dx = new float[x.Length];
        var dGamma = new double[n];
        var dBeta = new double[n];
        Normalization.LayerNormBackward<float>(x, g, dx, rows, n, mean, invStd, gammaD, dGamma, dBeta);

        var refGamma = new double[n];
        var refBeta = new double[n];
        for (int r = 0; r < rows; r++)
        {
            double m = 0, v = 0;
            for (int j = 0; j < n; j++) m += x[r * n + j];
            m /= n;
            for (int j = 0; j < n; j++) v += (x[r * n + j] - m) * (x[r * n + j] - m);
            double s = 1 / Math.Sqrt(v / n + 1e-5);
            Assert.Equal(m, mean[r], 1e-9);
            Assert.Equal(s, invStd[r], 1e-9);
            double meanGh = 0, meanGhX = 0;
            for (int j = 0; j < n; j++)
            {
                int i = r * n + j;
                double xh = (x[i] - m) * s;
                Assert.True(Math.Abs(y[i] - (xh * gammaD[j] + beta[j])) <= 2e-6 * (1 + Math.Abs(xh * gammaD[j])), $"y row {r} col {j}");
                meanGh += g[i] * gammaD[j] / n;
                meanGhX += g[i] * gammaD[j] * xh / n;
                refGamma[j] += g[i] * xh;
                refBeta[j] += g[i];
            }
            for (int j = 0; j < n; j++)
            {
                int i = r * n + j;
                double xh = (x[i] - m) * s;
                double expected = s * (g[i] * gammaD[j] - meanGh - xh * meanGhX);
                Assert.True(Math.Abs(dx[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"dx row {r} col {j}: {dx[i]} vs {expected}");
            }
        }
        for (int j = 0; j < n; j++)
        {
            Assert.True(Math.Abs(dGamma[j] - refGamma[j]) <= 1e-5 * rows, $"dGamma {j}: {dGamma[j]} vs {refGamma[j]}");
            Assert.True(Math.Abs(dBeta[j] - refBeta[j]) <= 1e-5 * rows, $"dBeta {j}: {dBeta[j]} vs {refBeta[j]}");
        }
    });
}
