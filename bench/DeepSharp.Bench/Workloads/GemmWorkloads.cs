using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using DeepSharp.Kernels;

namespace DeepSharp.Bench.Workloads;

/// <summary>SGEMM throughput on square matrices, measured like peer_torch.py, and the machine's FMA peak.</summary>
internal static unsafe class GemmWorkloads
{
    public static IEnumerable<IWorkload> Create()
    {
        foreach (int n in new[] { 128, 256, 512, 1024, 2048 })
            yield return new Workload($"sgemm{n}_gflops", () => SgemmGflops(n));
        yield return new Workload("fma_peak_gflops", FmaPeakGflops);
    }

    /// <summary>
    /// As the TorchSharp peer: random normal n x n A and B, 3 warm-up calls, then three rounds of
    /// reps = max(3, 2e9 / (2 n^3)) calls, the best round's mean time per call; GFLOPS = 2 n^3 / seconds / 1e9.
    /// </summary>
    public static double SgemmGflops(int n)
    {
        nuint bytes = (nuint)n * (nuint)n * sizeof(float);
        float* a = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        float* b = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        float* c = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        try
        {
            var rng = new Random(0);
            FillNormal(rng, a, n * n);
            FillNormal(rng, b, n * n);
            int reps = Math.Max(3, (int)(2e9 / (2.0 * n * n * n)));
            for (int i = 0; i < 3; i++)
                Gemm.Sgemm(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n);
            double seconds = double.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++)
                    Gemm.Sgemm(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n);
                seconds = Math.Min(seconds, Stopwatch.GetElapsedTime(start).TotalSeconds / reps);
            }
            return 2.0 * n * n * n / seconds / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    private static void FillNormal(Random rng, float* x, int count)
    {
        for (int i = 0; i < count; i++)
        {
            // Box-Muller; 1 - NextDouble() avoids log(0).
            double u = 1.0 - rng.NextDouble(), v = rng.NextDouble();
            x[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * v));
        }
    }

    /// <summary>
    /// Dependent-FMA probe: every pool thread runs 16 independent FMA chains of the widest accelerated vector
    /// (12 with AVX2's 16 registers), more than FMA latency x pipes (4 x 2 on Zen 5) needs, so the figure is the
    /// FMA ceiling a GEMM kernel can approach.
    /// </summary>
    public static double FmaPeakGflops()
    {
        var probe = new FmaProbe { Iterations = 20_000_000 };
        int threads = WorkerPool.Threads;
        WorkerPool.For(threads, probe); // warm up: JIT, wake the workers
        // Best of three, as the GEMM workloads: on a shared (virtual) machine one round can lose a core for a while.
        double seconds = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            long start = Stopwatch.GetTimestamp();
            WorkerPool.For(threads, probe);
            seconds = Math.Min(seconds, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return threads * probe.Iterations * FmaProbe.FlopsPerIteration / seconds / 1e9;
    }

    private sealed class FmaProbe : IParallelTask
    {
        public long Iterations;
        public float Sink;

        // Chains x lanes x 2 flops per FMA.
        public static double FlopsPerIteration =>
            Vector512.IsHardwareAccelerated ? 16 * 16 * 2 : Vector256.IsHardwareAccelerated ? 12 * 8 * 2 : 12 * 4 * 2;

        public void Run(int index)
        {
            float r = Vector512.IsHardwareAccelerated ? Run512() : Vector256.IsHardwareAccelerated ? Run256() : Run128();
            Sink += r;
        }

        private float Run512()
        {
            Vector512<float> m = Vector512.Create(0.999999f), d = Vector512.Create(1e-7f);
            Vector512<float> x0 = Vector512.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0;
            Vector512<float> x8 = x0, x9 = x0, xa = x0, xb = x0, xc = x0, xd = x0, xe = x0, xf = x0;
            for (long i = 0; i < Iterations; i++)
            {
                x0 = Vector512.FusedMultiplyAdd(x0, m, d); x1 = Vector512.FusedMultiplyAdd(x1, m, d);
                x2 = Vector512.FusedMultiplyAdd(x2, m, d); x3 = Vector512.FusedMultiplyAdd(x3, m, d);
                x4 = Vector512.FusedMultiplyAdd(x4, m, d); x5 = Vector512.FusedMultiplyAdd(x5, m, d);
                x6 = Vector512.FusedMultiplyAdd(x6, m, d); x7 = Vector512.FusedMultiplyAdd(x7, m, d);
                x8 = Vector512.FusedMultiplyAdd(x8, m, d); x9 = Vector512.FusedMultiplyAdd(x9, m, d);
                xa = Vector512.FusedMultiplyAdd(xa, m, d); xb = Vector512.FusedMultiplyAdd(xb, m, d);
                xc = Vector512.FusedMultiplyAdd(xc, m, d); xd = Vector512.FusedMultiplyAdd(xd, m, d);
                xe = Vector512.FusedMultiplyAdd(xe, m, d); xf = Vector512.FusedMultiplyAdd(xf, m, d);
            }
            return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + xa + xb + xc + xd + xe + xf);
        }

        private float Run256()
        {
            Vector256<float> m = Vector256.Create(0.999999f), d = Vector256.Create(1e-7f);
            Vector256<float> x0 = Vector256.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
            Vector256<float> x6 = x0, x7 = x0, x8 = x0, x9 = x0, xa = x0, xb = x0;
            for (long i = 0; i < Iterations; i++)
            {
                x0 = Vector256.FusedMultiplyAdd(x0, m, d); x1 = Vector256.FusedMultiplyAdd(x1, m, d);
                x2 = Vector256.FusedMultiplyAdd(x2, m, d); x3 = Vector256.FusedMultiplyAdd(x3, m, d);
                x4 = Vector256.FusedMultiplyAdd(x4, m, d); x5 = Vector256.FusedMultiplyAdd(x5, m, d);
                x6 = Vector256.FusedMultiplyAdd(x6, m, d); x7 = Vector256.FusedMultiplyAdd(x7, m, d);
                x8 = Vector256.FusedMultiplyAdd(x8, m, d); x9 = Vector256.FusedMultiplyAdd(x9, m, d);
                xa = Vector256.FusedMultiplyAdd(xa, m, d); xb = Vector256.FusedMultiplyAdd(xb, m, d);
            }
            return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + xa + xb);
        }

        private float Run128()
        {
            Vector128<float> m = Vector128.Create(0.999999f), d = Vector128.Create(1e-7f);
            Vector128<float> x0 = Vector128.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
            Vector128<float> x6 = x0, x7 = x0, x8 = x0, x9 = x0, xa = x0, xb = x0;
            for (long i = 0; i < Iterations; i++)
            {
                x0 = Vector128.FusedMultiplyAdd(x0, m, d); x1 = Vector128.FusedMultiplyAdd(x1, m, d);
                x2 = Vector128.FusedMultiplyAdd(x2, m, d); x3 = Vector128.FusedMultiplyAdd(x3, m, d);
                x4 = Vector128.FusedMultiplyAdd(x4, m, d); x5 = Vector128.FusedMultiplyAdd(x5, m, d);
                x6 = Vector128.FusedMultiplyAdd(x6, m, d); x7 = Vector128.FusedMultiplyAdd(x7, m, d);
                x8 = Vector128.FusedMultiplyAdd(x8, m, d); x9 = Vector128.FusedMultiplyAdd(x9, m, d);
                xa = Vector128.FusedMultiplyAdd(xa, m, d); xb = Vector128.FusedMultiplyAdd(xb, m, d);
            }
            return Vector128.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + xa + xb);
        }
    }
}
