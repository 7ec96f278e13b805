using DeepSharp.Inference;
using DeepSharp.Kernels;

namespace DeepSharp.Tests.Inference;

/// <summary>
/// A plan's outputs for one batch do not depend on the thread count. Plans through Winograd's kernels keep the batch
/// whole: a share per thread could be too small for them (the cnn's 28x28 layers take groups of six images with 16 lanes)
/// and run another kernel with other roundings, and whether a batch is cut follows the thread count. (Concurrent callers
/// of one plan saw different outputs when a test elsewhere changed the thread count in between.)
/// </summary>
[Collection("WorkerPool")]
public sealed class InferenceThreadCountTests
{
    [Theory]
    [InlineData("cnn", 6)]
    [InlineData("resnet20", 4)]
    public void PlansGiveTheSameOutputsWhateverTheThreadCount(string name, int batch)
    {
        var (model, sample) = InferenceModelTests.Create(name);
        int saved = WorkerPool.Threads;
        try
        {
            WorkerPool.Threads = 2;
            var plan = InferenceModel.Build(model, [batch, .. sample], winograd: true).Plan;
            plan.TuneThreading();
            if (plan.Steps.Any(s => s.Contains(" winograd ", StringComparison.Ordinal))) Assert.Equal(int.MaxValue, plan.SplitFromBatch);
            var x = Tensor.Randn([batch, .. sample], new Generator(3));
            WorkerPool.Threads = 1;
            var reference = plan.Run(x).ToArray<float>();
            foreach (int threads in new[] { 2, 3 })
            {
                WorkerPool.Threads = threads;
                Assert.Equal(reference, plan.Run(x).ToArray<float>());
            }
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }
}
