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
}
