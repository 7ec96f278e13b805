using DeepSharp.Kernels;
using Xunit;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The vector fills of <see cref="CounterRandom"/> against its one-element formulas, element by element and bit for bit,
/// over lengths around every vector width and odd counter offsets; every CI instruction-set leg runs them, so the
/// streams are the same on AVX-512, AVX2, 128-bit and scalar code.
/// </summary>
public class CounterRandomTests
{
    private static readonly int[] Lengths = [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1027];
    private static readonly (ulong Seed, long Counter)[] Starts = [(0, 0), (42, 1), (0x5DEECE66DUL, 12345), (ulong.MaxValue, 987654321)];

    [Fact]
    public void UniformFillsEqualTheScalarFormula()
    {
        foreach (var (seed, counter) in Starts)
            foreach (int n in Lengths)
            {
                var f = new float[n];
                var d = new double[n];
                CounterRandom.FillUniform(seed, counter, f, -2f, 5f);
                CounterRandom.FillUniform(seed, counter, d, -2.0, 5.0);
                for (int i = 0; i < n; i++)
                {
                    ulong bits = CounterRandom.Bits(seed, counter + i);
                    Assert.Equal(-2f + 5f * CounterRandom.Single(bits), f[i]);
                    Assert.Equal(-2.0 + 5.0 * CounterRandom.Double(bits), d[i]);
                }
            }
    }

    [Fact]
    public void DropoutMasksEqualThresholdedUniformDraws()
    {
        foreach (var (seed, counter) in Starts)
            foreach (int n in Lengths)
            {
                var f = new float[n];
                var d = new double[n];
                CounterRandom.FillDropoutMask(seed, counter, f, 0.25f, 4f / 3f);
                CounterRandom.FillDropoutMask(seed, counter, d, 0.25, 4.0 / 3.0);
                for (int i = 0; i < n; i++)
                {
                    ulong bits = CounterRandom.Bits(seed, counter + i);
                    Assert.Equal(CounterRandom.Single(bits) < 0.25f ? 0f : 4f / 3f, f[i]);
                    Assert.Equal(CounterRandom.Double(bits) < 0.25 ? 0.0 : 4.0 / 3.0, d[i]);
                }
            }
    }

    [Fact]
    public void DropoutKeepsTheFractionAndScaleAndMatchesRandThresholded()
    {
        var x = Tensor.Ones(200, 300);
        var y = DeepSharp.NN.Functional.Dropout(x, 0.3, generator: new Generator(7));
        var u = Tensor.Rand([200, 300], new Generator(7));
        var ys = y.ToArray<float>();
        var us = u.ToArray<float>();
        int kept = 0;
        for (int i = 0; i < ys.Length; i++)
        {
            Assert.Equal(us[i] < 0.3f ? 0f : (float)(1 / 0.7), ys[i]);
            if (ys[i] != 0) kept++;
        }
        Assert.InRange(kept / (double)ys.Length, 0.69, 0.71);
    }
}
