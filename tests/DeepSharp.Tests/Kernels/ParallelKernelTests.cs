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
    private static void WithTwoThreads(Action body) => WorkerPoolTests.WithThreads(2, body);

    // The parts must give exactly what one thread gives at the same vector width (the formula itself is checked
    // against float64 at every width in GeluKernelTests).
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GeluOfALongSpanIsRightInEveryPartAtEveryWidth(bool tanh) => KernelCases.AtEveryWidth(_ =>
    {
        foreach (int n in new[] { (1 << 15) * 2, (1 << 18) + 13 })
        {
            var x = GeluKernelTests.Inputs(n, n);
            var g = new float[n];
            for (int i = 0; i < n; i++) g[i] = 1 + i % 3;
            float[] y1 = new float[n], d1 = new float[n], y2 = new float[n], d2 = new float[n];
            WorkerPoolTests.WithThreads(1, () =>
            {
                GeluKernels.Forward(x, y1, tanh);
                GeluKernels.Backward(g, x, d1, tanh);
            });
            WithTwoThreads(() =>
            {
                GeluKernels.Forward(x, y2, tanh);
                GeluKernels.Backward(g, x, d2, tanh);
            });
            Assert.Equal(y1, y2);
            Assert.Equal(d1, d2);
            for (int i = 0; i < n; i += 997) // and the values are GELU's, loosely
                Assert.True(Math.Abs(y2[i] - GeluKernelTests.Reference(x[i], tanh, grad: false)) <= 1e-5 * (1 + Math.Abs(x[i])), $"gelu({x[i]}) = {y2[i]}");
        }
    });

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
    // Batch norm splits channels (statistics, gradient sums) and (n, c) rows (affine, input gradient) over the pool:
    // each channel's sums are taken by one thread in a fixed order, so two threads give one thread's bits.
    [Theory]
    [InlineData(64, 16, 28 * 28)]
    [InlineData(5, 3, 7)]
    [InlineData(2, 33, 1)]
    public void BatchNormIsTheSameOnOneAndTwoThreads(int n, int c, int s)
    {
        (float[] Y, float[] Dx, float[] Dw, float[] Db) Run(int threads)
        {
            (float[], float[], float[], float[]) result = default;
            WorkerPoolTests.WithThreads(threads, () =>
            {
                var g = new Generator(3);
                var x = (Tensor.Randn([n, c, s], g) * 3 + 1).SetRequiresGrad();
                var w = Tensor.Randn([c], g).SetRequiresGrad();
                var b = Tensor.Randn([c], g).SetRequiresGrad();
                var y = Tensor.BatchNorm(x, Tensor.Zeros(c), Tensor.Ones(c), w, b, training: true);
                (y * Tensor.Randn(y.ShapeArray, g)).Sum().Backward();
                result = (y.ToArray<float>(), x.Grad!.ToArray<float>(), w.Grad!.ToArray<float>(), b.Grad!.ToArray<float>());
            });
            return result;
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Dx, two.Dx);
        Assert.Equal(one.Dw, two.Dw);
        Assert.Equal(one.Db, two.Db);
    }

    [Fact]
    public void LongAddsAndCopiesSplitOverThreadsTouchEveryElementOnce() => WithTwoThreads(() =>
    {
        const int n = (1 << 20) + 77; // past the wake-up size too, with a ragged last part
        var g = new Generator(5);
        var a = Tensor.Randn([n], g);
        var b = Tensor.Randn([n], g);
        var sum = a + b;
        float[] av = a.ToArray<float>(), bv = b.ToArray<float>(), sv = sum.ToArray<float>();
        for (int i = 0; i < n; i++) Assert.Equal(av[i] + bv[i], sv[i]);
        a.AddInPlace(b); // in place: the destination aliases the first operand part for part
        Assert.Equal(sv, a.ToArray<float>());

        // A transposing copy split along the first dim.
        var m = Tensor.Randn([1031, 517], g);
        var t = m.Transpose(0, 1).Contiguous();
        float[] mv = m.ToArray<float>(), tv = t.ToArray<float>();
        for (int i = 0; i < 1031; i++)
            for (int j = 0; j < 517; j++) Assert.Equal(mv[i * 517 + j], tv[j * 1031 + i]);
    });
}
