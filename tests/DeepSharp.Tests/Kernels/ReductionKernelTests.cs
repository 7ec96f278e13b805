using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>Reduction and softmax kernels against scalar references over many [outer, r, inner] shapes.</summary>
public sealed class ReductionKernelTests
{
    private static double[] Data(int n, int seed)
    {
        var r = new Random(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = r.NextDouble() * 4 - 2;
        return x;
    }

    public static IEnumerable<object[]> Shapes()
    {
        foreach (int outer in new[] { 1, 3 })
            foreach (int r in new[] { 0, 1, 2, 7, 16, 33, 300 })
                foreach (int inner in new[] { 1, 5, 17 })
                    yield return [outer, r, inner];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SumProdAndArgMaxMatchScalarLoops(int outer, int r, int inner)
    {
        var x = Data(outer * r * inner, outer * 1000 + r * 10 + inner);
        var sum = new double[outer * inner];
        ReductionKernels.Sum<double>(x, outer, r, inner, sum);
        var prod = new double[outer * inner];
        ReductionKernels.Prod<double>(x, outer, r, inner, prod);
        var max = new double[outer * inner];
        var idx = new long[outer * inner];
        if (r > 0) ReductionKernels.ArgExtreme<double>(x, outer, r, inner, true, max, idx);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0, p = 1, m = double.NegativeInfinity;
                int mj = 0;
                for (int j = 0; j < r; j++)
                {
                    double v = x[(o * r + j) * inner + i];
                    s += v;
                    p *= v;
                    if (v > m) { m = v; mj = j; }
                }
                Assert.Equal(s, sum[o * inner + i], 1e-9);
                Assert.Equal(p, prod[o * inner + i], 1e-9 * Math.Max(1, Math.Abs(p)));
                if (r > 0)
                {
                    Assert.Equal(m, max[o * inner + i]);
                    Assert.Equal(mj, idx[o * inner + i]);
                }
            }
    }

    [Fact]
    public void SoftmaxRowsMatchReferenceForEveryLength()
    {
        for (int n = 1; n <= 300; n++)
        {
            var x = Data(2 * n, n);
            var y = new double[2 * n];
            var ly = new double[2 * n];
            ReductionKernels.Softmax<double>(x, y, 2, n, log: false);
            ReductionKernels.Softmax<double>(x, ly, 2, n, log: true);
            for (int row = 0; row < 2; row++)
            {
                double m = x.Skip(row * n).Take(n).Max();
                double z = x.Skip(row * n).Take(n).Sum(v => Math.Exp(v - m));
                for (int j = 0; j < n; j++)
                {
                    Assert.Equal(Math.Exp(x[row * n + j] - m) / z, y[row * n + j], 1e-12);
                    Assert.Equal(x[row * n + j] - m - Math.Log(z), ly[row * n + j], 1e-12);
                }
            }
        }
    }

    [Fact]
    public void ProdBackwardIsExactWithZeros()
    {
        double[] x = [2, 0, 3, 0.5];
        double[] g = [1];
        var d = new double[4];
        ReductionKernels.ProdBackward<double>(x, g, 1, 4, 1, d);
        Assert.Equal([0.0, 3.0, 0.0, 0.0], d);
    }
}
