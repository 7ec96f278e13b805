using System.Diagnostics;
using DeepSharp.Kernels;

namespace DeepSharp.Inference;

/// <summary>
/// Chooses, per step, from which batch size the step runs on the worker pool, by timing it on this machine at
/// preparation: alone and with the pool, at batch 1 and at the largest batch. Each mode's time is taken as linear in
/// the batch (a fixed cost plus a cost per sample), and the pool is used from the batch where its line falls 5 % below
/// the single thread's: small convolutions whose hand-off costs more than it saves stay on the calling thread, so a
/// call is never slower on two threads than on one, without thresholds tuned to one CPU.
/// </summary>
internal static unsafe class ThreadingTuner
{
    private const int Repeats = 3;

    /// <summary>Per step, the smallest batch that runs on the pool (1: always; int.MaxValue: never).</summary>
    public static int[] Tune(PlanStep[] steps, Arena arena, int maxBatch, int inputSize)
    {
        var from = new int[steps.Length];
        Array.Fill(from, 1);
        if (WorkerPool.Threads == 1 || steps.Length == 0) return from;
        int[] batches = maxBatch > 1 ? [1, maxBatch] : [1];
        var single = new double[steps.Length, batches.Length];
        var pooled = new double[steps.Length, batches.Length];
        var input = GC.AllocateArray<float>(Math.Max(maxBatch * inputSize, 1), pinned: true);
        fixed (float* px = input)
        {
            arena.Input = px;
            for (int b = 0; b < batches.Length; b++)
            {
                arena.Batch = batches[b];
                for (int i = 0; i < steps.Length; i++)
                {
                    if (!Tunable(steps[i]))
                    {
                        steps[i].Run(arena);
                        continue;
                    }
                    // Each mode back to back, as consecutive steps of a call run: a pooled step right after another finds
                    // the workers awake. The first call of each mode warms up and is not counted.
                    single[i, b] = Best(steps[i], arena, inline: true);
                    pooled[i, b] = Best(steps[i], arena, inline: false);
                }
            }
            arena.Input = null;
        }
        for (int i = 0; i < steps.Length; i++)
            if (Tunable(steps[i])) from[i] = FirstPooledBatch(single[i, 0], single[i, batches.Length - 1], pooled[i, 0], pooled[i, batches.Length - 1], maxBatch);
        return from;
    }

    private static bool Tunable(PlanStep step) => step is ConvStep or LinearStep or PoolStep;

    /// <summary>The first batch where the pooled time, linear through (1, pooled1) and (maxBatch, pooledMax), is 5 % below the single thread's.</summary>
    internal static int FirstPooledBatch(double single1, double singleMax, double pooled1, double pooledMax, int maxBatch)
    {
        const double Margin = 0.95;
        if (pooled1 < Margin * single1) return 1;
        if (maxBatch == 1 || pooledMax >= Margin * singleMax) return int.MaxValue;
        double singlePerSample = (singleMax - single1) / (maxBatch - 1), pooledPerSample = (pooledMax - pooled1) / (maxBatch - 1);
        double singleFixed = single1 - singlePerSample, pooledFixed = pooled1 - pooledPerSample;
        double perSampleGain = Margin * singlePerSample - pooledPerSample;
        if (perSampleGain <= 0) return maxBatch;
        return (int)Math.Clamp(Math.Ceiling((pooledFixed - Margin * singleFixed) / perSampleGain), 2, maxBatch);
    }

    private static double Best(PlanStep step, Arena arena, bool inline)
    {
        Time(step, arena, inline);
        double best = double.MaxValue;
        for (int r = 0; r < Repeats; r++) best = Math.Min(best, Time(step, arena, inline));
        return best;
    }

    private static double Time(PlanStep step, Arena arena, bool inline)
    {
        long start = Stopwatch.GetTimestamp();
        if (inline)
        {
            using var _ = WorkerPool.RunInline();
            step.Run(arena);
        }
        else
        {
            step.Run(arena);
        }
        return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }
}
