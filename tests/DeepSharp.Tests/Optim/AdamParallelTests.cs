using DeepSharp.Optim;
using DeepSharp.Tests.Kernels;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// Adam's update of a large parameter runs as ranges over the worker pool: element-wise, so two threads must give
/// exactly one thread's parameters and moments (AMSGrad and weight decay included), also for a length that is no
/// multiple of the vector width.
/// </summary>
[Collection("WorkerPool")]
public sealed class AdamParallelTests
{
    private static float[] Train(int threads, AdamOptions options, int length)
    {
        float[] result = [];
        WorkerPoolTests.WithThreads(threads, () =>
        {
            var rng = new Random(7);
            var w = Tensor.From(Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), length);
            w.RequiresGrad = true;
            var adam = new Adam([w], options);
            for (int step = 0; step < 3; step++)
            {
                w.Grad = Tensor.From(Enumerable.Range(0, length).Select(i => (float)Math.Sin(i * 0.37 + step)).ToArray(), length);
                adam.Step();
            }
            result = w.ToArray<float>();
        });
        return result;
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(true, 0.01)]
    public void TwoThreadsUpdateExactlyAsOne(bool amsgrad, double weightDecay)
    {
        var options = new AdamOptions(Lr: 1e-2, WeightDecay: weightDecay, Amsgrad: amsgrad);
        const int Length = 100_003;
        var one = Train(1, options, Length);
        var two = Train(2, options, Length);
        Assert.Equal(one, two);
        Assert.Contains(one, v => v != 0);
    }
}
