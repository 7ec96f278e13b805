using System.Diagnostics;

namespace DeepSharp.Bench.Workloads;

/// <summary>Per-op overhead: one 16-element add with autograd recording, graph bookkeeping included.</summary>
internal static class TensorWorkloads
{
    public static IEnumerable<IWorkload> Create()
    {
        yield return new Workload("tiny_op_us", TinyOp);
    }

    private static double TinyOp()
    {
        var a = Tensor.Randn([16], new Generator(1)).SetRequiresGrad();
        var b = Tensor.Randn([16], new Generator(2)).SetRequiresGrad();
        Tensor c = a;
        for (int i = 0; i < 200_000; i++) c = a + b; // warm-up: tiered JIT reaches its optimised code
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            const int n = 1_000_000;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++) c = a + b;
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / n);
        }
        GC.KeepAlive(c);
        return best;
    }
}
