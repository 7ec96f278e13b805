using System.Diagnostics;
using DeepSharp.Data;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Bench.Workloads;

/// <summary>
/// Training and inference throughput with the definitions of ../shared/bench/peer_torch.py: SGD
/// (lr 0.05, momentum 0.9), cross-entropy, consecutive Fashion-MNIST slices, 3 warm-up steps, then
/// the mean over the measured steps. Also allocation and GC counts per training step.
/// </summary>
internal static class TrainingWorkloads
{
    private static readonly Lazy<TensorDataset> s_data = new(() => FashionMnist.Train());

    public static IEnumerable<IWorkload> Create()
    {
        yield return new Workload("mlp_b64_samples_per_s", () => TrainRate(() => ModelZoo.Create("mlp"), 64, 300));
        yield return new Workload("mlp_b8_samples_per_s", () => TrainRate(() => ModelZoo.Create("mlp"), 8, 500));
        yield return new Workload("mlp_b1_samples_per_s", () => TrainRate(() => ModelZoo.Create("mlp"), 1, 2000));
        yield return new Workload("lenet_b64_samples_per_s", () => TrainRate(() => ModelZoo.Create("lenet5"), 64, 100));
        yield return new Workload("resnet20_b64_samples_per_s", () => TrainRate(() => ModelZoo.Create("resnet20"), 64, 30));
        yield return new Workload("mlp_b64_bytes_per_step", () => Allocation(64, 300).BytesPerStep);
        yield return new Workload("mlp_b64_gc_per_1000_steps", () => Allocation(64, 1000).Gcs * 1000.0 / 1000);
        yield return new Workload("mlp_b64_memory_growth_mb", MemoryGrowth);
        yield return new Workload("infer_varying_batch_peak_rss_mb", VaryingBatchPeakRss);
    }

    /// <summary>A training step over batch i, exactly as peer_torch.py slices the data.</summary>
    private sealed class Stepper(Module<Tensor, Tensor> model, int batchSize)
    {
        private readonly Optimizer _optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.05, Momentum: 0.9));
        private readonly Tensor _x = s_data.Value.Inputs;
        private readonly Tensor _y = s_data.Value.Targets;
        private int _i;

        public void Step()
        {
            int j = _i * batchSize % (60000 - batchSize);
            _i++;
            var x = _x.Narrow(0, j, batchSize);
            var y = _y.Narrow(0, j, batchSize);
            var loss = Functional.CrossEntropy(model.Call(x), y);
            _optimizer.ZeroGrad();
            loss.Backward();
            _optimizer.Step();
        }
    }

    public static double TrainRate(Func<Module<Tensor, Tensor>> create, int batchSize, int steps)
    {
        var stepper = new Stepper(create(), batchSize);
        // Warm-up until the JIT has promoted the hot paths to optimised code (tiering needs ~100 ms
        // without new methods); PyTorch's 3 warm-up steps suffice for it because nothing is compiled.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 20 || warm.Elapsed.TotalSeconds < 1.5; i++) stepper.Step();
        // Best of three timed rounds: the machine is shared, the minimum is the least disturbed.
        double best = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++) stepper.Step();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / steps);
        }
        return batchSize / best;
    }

    private static (double BytesPerStep, int Gcs) Allocation(int batchSize, int steps)
    {
        var stepper = new Stepper(ModelZoo.Create("mlp"), batchSize);
        for (int i = 0; i < 50; i++) stepper.Step();
        long bytes = GC.GetTotalAllocatedBytes(precise: true);
        int gcs = GC.CollectionCount(0);
        for (int i = 0; i < steps; i++) stepper.Step();
        return ((GC.GetTotalAllocatedBytes(precise: true) - bytes) / (double)steps, GC.CollectionCount(0) - gcs);
    }

    /// <summary>
    /// A server's memory: 1,500 no-grad LeNet forwards with seeded random batch sizes 1-256, then the process's
    /// peak resident set (VmHWM) in MB. The pool's size classes, cap and trimming keep it bounded.
    /// </summary>
    private static double VaryingBatchPeakRss()
    {
        var model = ModelZoo.Create("lenet5");
        model.Eval();
        var rng = new Random(1234);
        var images = Tensor.Rand([256, 1, 28, 28], new Generator(5));
        using var _ = Autograd.NoGrad();
        for (int i = 0; i < 1500; i++)
            model.Call(images.Narrow(0, 0, rng.Next(1, 257)));
        return PeakRssMb();
    }

    internal static double PeakRssMb()
    {
        if (!File.Exists("/proc/self/status")) return double.NaN;
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        return double.NaN;
    }

    /// <summary>
    /// Managed heap after 10,000 steps minus after 1,000, each after a full collection with the tensor pool's idle
    /// buffers released: ~0 when nothing leaks. The idle buffers are a cache bounded by its cap
    /// (<see cref="Compute.PoolCapacityBytes"/>); counting them made the figure swing by the cache's fill (-154 to +84 MB).
    /// </summary>
    private static double MemoryGrowth()
    {
        var stepper = new Stepper(ModelZoo.Create("mlp"), 64);
        long after1k = 0;
        for (int i = 1; i <= 10_000; i++)
        {
            stepper.Step();
            if (i == 1000) after1k = Settle();
        }
        return (Settle() - after1k) / 1e6;

        static long Settle()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Compute.TrimPool();
            GC.Collect();
            return GC.GetTotalMemory(forceFullCollection: true);
        }
    }
}
