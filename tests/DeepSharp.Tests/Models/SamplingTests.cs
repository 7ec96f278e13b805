using DeepSharp.Models;

namespace DeepSharp.Tests.Models;

public sealed class SamplingTests
{
    private static readonly float[] Logits = [0.5f, 2.0f, -1.0f, 2.0f, 1.5f, 0.0f, 3.0f, -0.5f];

    [Fact]
    public void TemperatureZeroIsGreedyWithTheFirstMaximumOnTies()
    {
        Assert.Equal(6, Sampling.Sample(Logits, new SamplingOptions(0), new Generator(1)));
        Assert.Equal(1, Sampling.Argmax([1f, 4f, 4f, float.NaN]));
        Assert.Equal(2, Sampling.Argmax([float.NaN, float.NegativeInfinity, 0f]));
        var p = Sampling.Probabilities(Logits, new SamplingOptions(0));
        Assert.Equal(1.0, p[6]);
        Assert.Equal(1.0, p.Sum());
    }

    [Fact]
    public void ProbabilitiesAreSoftmaxOfLogitsOverTemperature()
    {
        foreach (double t in new[] { 0.5, 1.0, 2.0 })
        {
            var p = Sampling.Probabilities(Logits, new SamplingOptions(t));
            double z = Logits.Sum(l => Math.Exp(l / t));
            for (int i = 0; i < Logits.Length; i++) Assert.Equal(Math.Exp(Logits[i] / t) / z, p[i], 12);
        }
        // Tiny temperatures do not overflow: almost all mass on the maximum.
        Assert.True(Sampling.Probabilities(Logits, new SamplingOptions(1e-4))[6] > 0.999999);
    }

    [Fact]
    public void TopKNeverSamplesOutsideTheTopK()
    {
        // Ties at 2.0 (indices 1 and 3): top-3 is {6, 1, 3}, top-2 is {6, 1} (lower index wins the tie).
        var p = Sampling.Probabilities(Logits, new SamplingOptions(1.0, TopK: 2));
        Assert.Equal(2, p.Count(x => x > 0));
        Assert.True(p[6] > 0 && p[1] > 0);
        var g = new Generator(5);
        var counts = new int[Logits.Length];
        for (int i = 0; i < 4000; i++) counts[Sampling.Sample(Logits, new SamplingOptions(2.0, TopK: 3), g)]++;
        Assert.Equal(4000, counts[6] + counts[1] + counts[3]);
        Assert.All(new[] { 6, 1, 3 }, i => Assert.True(counts[i] > 300, $"token {i} drawn {counts[i]} times"));
        // Frequencies follow the renormalised softmax over the kept logits.
        double z = Math.Exp(3 / 2.0) + 2 * Math.Exp(2 / 2.0);
        Assert.Equal(Math.Exp(3 / 2.0) / z, counts[6] / 4000.0, 1);
        // k larger than the vocabulary keeps everything.
        Assert.Equal(Logits.Length, Sampling.Probabilities(Logits, new SamplingOptions(1, TopK: 100)).Count(x => x > 0));
    }

    [Fact]
    public void SamplingIsReproducibleForAGeneratorState()
    {
        var g1 = new Generator(9);
        var g2 = new Generator(9);
        for (int i = 0; i < 50; i++)
            Assert.Equal(Sampling.Sample(Logits, new SamplingOptions(1.3), g1), Sampling.Sample(Logits, new SamplingOptions(1.3), g2));
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Sample(Logits, new SamplingOptions(-1), new Generator()));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Sample(Logits, new SamplingOptions(1, TopK: 0), new Generator()));
        Assert.Throws<ArgumentException>(() => Sampling.Sample([], new SamplingOptions(1), new Generator()));
        Assert.Throws<ArgumentException>(() => Sampling.Probabilities([float.NegativeInfinity, float.NegativeInfinity], new SamplingOptions(1)));
    }
    [Fact]
    public void TopPKeepsTheSmallestNucleusReachingP()
    {
        // softmax of ln(p) gives p back: 0.5, 0.25, 0.15, 0.1
        float[] logits = [MathF.Log(0.25f), MathF.Log(0.5f), MathF.Log(0.1f), MathF.Log(0.15f)];
        var p = Sampling.Probabilities(logits, new SamplingOptions(1.0, TopP: 0.7));
        Assert.Equal(4, p.Length);
        Assert.Equal(0.25 / 0.75, p[0], 1e-6); // 0.5 + 0.25 = 0.75 >= 0.7: two tokens, renormalised
        Assert.Equal(0.5 / 0.75, p[1], 1e-6);
        Assert.Equal(0, p[2]);
        Assert.Equal(0, p[3]);
        Assert.Equal(1.0, Sampling.Probabilities(logits, new SamplingOptions(1.0, TopP: 0.3))[1], 1e-12); // the top token alone
        Assert.Equal(3, Sampling.Probabilities(logits, new SamplingOptions(1.0, TopP: 0.8)).Count(x => x > 0)); // 0.75 < 0.8: a third
        Assert.Equal(4, Sampling.Probabilities(logits, new SamplingOptions(1.0, TopP: 1.0)).Count(x => x > 0));
        var g = new Generator(4);
        for (int i = 0; i < 500; i++) Assert.Contains(Sampling.Sample(logits, new SamplingOptions(1.0, TopP: 0.7), g), new[] { 0, 1 });
    }

    [Fact]
    public void TopKThenTopPCombine()
    {
        float[] logits = [MathF.Log(0.25f), MathF.Log(0.5f), MathF.Log(0.1f), MathF.Log(0.15f)];
        // top-k 3 keeps 0.5, 0.25, 0.15 (renormalised by 0.9); top-p 0.9 then needs all three (0.556 + 0.278 < 0.9).
        var p = Sampling.Probabilities(logits, new SamplingOptions(1.0, TopK: 3, TopP: 0.9));
        Assert.Equal(0, p[2]);
        Assert.Equal(0.15 / 0.9, p[3], 1e-6);
        Assert.Equal(1.0, p.Sum(), 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Probabilities(logits, new SamplingOptions(1.0, TopP: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Probabilities(logits, new SamplingOptions(1.0, TopP: 1.5)));
        Assert.Equal(1, Sampling.Sample(logits, new SamplingOptions(0, TopP: 0.1), new Generator())); // greedy ignores it
    }
}
