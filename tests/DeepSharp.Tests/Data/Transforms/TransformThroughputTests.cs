using System.Diagnostics;
using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

/// <summary>
/// Augmentation runs on the loader's worker while the model trains, so it must outpace a small CNN:
/// more than 20k 28x28 images/s for flip+crop on one core. The fastest of many batches is compared,
/// which a busy machine slows far less than an average.
/// </summary>
[Collection(nameof(TimingSensitive))]
public sealed class TransformThroughputTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("flip,crop", 20_000)]
    [InlineData("flip,crop,rotate", 10_000)]
    public void AugmentationKeepsUpWithTraining(string spec, double minImagesPerSecond)
    {
        var x = Tensor.Rand([64, 1, 28, 28], new Generator(1));
        var t = AugmentationParser.Parse(spec, 28, 1);
        // Warm up long enough for tiered JIT to replace the first-tier code of the kernels.
        var warmup = Stopwatch.StartNew();
        for (int i = 0; warmup.ElapsedMilliseconds < 300; i++) t.Apply(x, new Generator((ulong)i));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        double fastest = double.MaxValue, total = 0;
        const int Batches = 100;
        for (int i = 0; i < Batches; i++)
        {
            long start = Stopwatch.GetTimestamp();
            var y = t.Apply(x, new Generator((ulong)i));
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            Assert.Equal(x.Numel, y.Numel);
            fastest = Math.Min(fastest, seconds);
            total += seconds;
            // Tensor buffers return to the pool when the GC finalizes dead tensors. A training loop collects
            // often; this loop hardly allocates otherwise, so collect outside the timed region, or every
            // batch would pay for fresh large-object-heap pages instead of the transforms.
            if (i % 10 == 9)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        double best = 64 / fastest, mean = 64 * Batches / total;
        output.WriteLine($"{spec}: {best:N0} images/s at best, {mean:N0} on average (batches of 64 at 28x28)");
        Assert.True(best > minImagesPerSecond, $"{spec}: {best:N0} images/s, expected more than {minImagesPerSecond:N0}");
    }
}
