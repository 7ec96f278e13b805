using System.Diagnostics;
using DeepSharp.Kernels;

namespace DeepSharp.Inference;

/// <summary>
/// Chooses, per step, from which batch size the step runs on the worker pool, by timing it on this machine at
/// preparation: alone and with the pool, at batch 1 and at a second batch (the largest one, or fewer samples when a
/// run of the step would take longer than <see cref="BudgetUs"/>, so preparing a plan for a large batch stays quick).
/// Each mode's time is taken as linear in the batch (a fixed cost plus a cost per sample), and the pool is used from
/// the batch where its line falls 5 % below the single thread's: small convolutions whose hand-off costs more than it
/// saves stay on the calling thread, without thresholds tuned to one CPU.
/// </summary>
internal static unsafe class ThreadingTuner
{
    private const int Repeats = 3;

    // Time one measured run of a step may take at the second batch size; bounds the cost of preparing, not a choice.
    private const double BudgetUs = 2000;

    /// <summary>Per step, the smallest batch that runs on the pool (1: always; int.MaxValue: never).</summary>
    public static int[] Tune(PlanStep[] steps, Arena arena, int maxBatch, int inputSize)
    {
        var from = new int[steps.Length];
        Array.Fill(from, 1);
        if (WorkerPool.Threads == 1 || steps.Length == 0) return from;
        var input = GC.AllocateArray<float>(Math.Max(maxBatch * inputSize, 1), pinned: true);
        arena.Clear(); // finite values everywhere: the timings never meet NaN or subnormal data
        fixed (float* px = input)
        {
            arena.Input = px;
            arena.Batch = 1;
            var firsts = new (double Single, double Pooled)[steps.Length];
            for (int i = 0; i < steps.Length; i++)
            {
                if (Tunable(steps[i])) firsts[i] = Measure(steps[i], arena);
                else steps[i].Run(arena); // later steps read its output
            }
            for (int i = 0; i < steps.Length; i++)
            {
                if (!Tunable(steps[i])) continue;
                var (single1, pooled1) = firsts[i];
                int batch = (int)Math.Clamp(BudgetUs / Math.Max(single1, 1e-3), 1, maxBatch);
                arena.Batch = batch;
                var (single, pooled) = batch > 1 ? Measure(steps[i], arena) : (single1, pooled1);
                from[i] = FirstPooledBatch(single1, single, pooled1, pooled, batch, maxBatch);
            }
            arena.Input = null;
        }
        return from;
    }

    private static bool Tunable(PlanStep step) => step is ConvStep or LinearStep or PoolStep;

    /// <summary>
    /// The first batch where the pooled time, linear through (1, pooled1) and (batch, pooledAtBatch), is 5 % below the
    /// single thread's line through (1, single1) and (batch, singleAtBatch); int.MaxValue when that is beyond maxBatch.
    /// </summary>
    internal static int FirstPooledBatch(double single1, double singleAtBatch, double pooled1, double pooledAtBatch, int batch, int maxBatch)
    {
        const double Margin = 0.95;
        if (pooled1 < Margin * single1) return 1;
        if (batch <= 1) return int.MaxValue;
        double singlePerSample = (singleAtBatch - single1) / (batch - 1), pooledPerSample = (pooledAtBatch - pooled1) / (batch - 1);
        double singleFixed = single1 - singlePerSample, pooledFixed = pooled1 - pooledPerSample;
        double perSampleGain = Margin * singlePerSample - pooledPerSample;
        if (perSampleGain <= 0) return pooledAtBatch < Margin * singleAtBatch ? batch : int.MaxValue;
        double crossover = Math.Ceiling((pooledFixed - Margin * singleFixed) / perSampleGain);
        return crossover > maxBatch ? int.MaxValue : (int)Math.Max(crossover, 2);
    }

    // Each mode back to back, as consecutive steps of a call run: a pooled step right after another finds the workers
    // awake. The first call of each mode warms up and is not counted.
    private static (double Single, double Pooled) Measure(PlanStep step, Arena arena) =>
        (Best(step, arena, inline: true), Best(step, arena, inline: false));

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
