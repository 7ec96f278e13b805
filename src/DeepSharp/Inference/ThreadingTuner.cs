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
    private const int Repeats = 5;

    // Time one measured run of a step may take at the second batch size; bounds the cost of preparing, not a choice.
    private const double BudgetUs = 2000;

    // Time the two modes of one step are measured for at least (when Repeats rounds take less).
    private const double MeasureUs = 2000;

    // Rounds of the comparison of whole batch and shares per thread (see MeasurePlan).
    private const int SplitRounds = 9;

    // Time the whole-plan comparison runs for at least (bounds the cost of preparing, like BudgetUs).
    private const double VerifyUs = 100_000;

    // Time one measured run of the whole plan may take: the whole-plan comparisons run ~60 times, so a plan for 1,000
    // images is compared at fewer (preparing the cnn for batch 1,000 took 12 s comparing at the full batch).
    private const double PlanBudgetUs = 25_000;

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
            from = Verified(steps, arena, from, maxBatch);
            arena.Input = null;
        }
        return from;
    }

    /// <summary>
    /// The per-step choices, or everything on the calling thread, or everything on the pool: whichever runs the whole
    /// plan fastest at the largest batch (or <see cref="ComparisonBatch"/>'s fewer samples), alternating the three so
    /// that a drifting machine treats them alike. Steps timed alone can disagree with the same steps in sequence (a
    /// pooled step wakes workers the next one finds awake), and one noisy step timing must not make the plan slower
    /// than either uniform choice.
    /// </summary>
    private static int[] Verified(PlanStep[] steps, Arena arena, int[] tuned, int maxBatch)
    {
        var inline = Enumerable.Repeat(int.MaxValue, steps.Length).ToArray();
        var pooled = Enumerable.Repeat(1, steps.Length).ToArray();
        int[][] candidates = [tuned, inline, pooled];
        var best = new double[candidates.Length];
        Array.Fill(best, double.MaxValue);
        arena.Batch = ComparisonBatch(batch =>
        {
            arena.Batch = batch;
            long start = Stopwatch.GetTimestamp();
            RunPlan(steps, arena, pooled);
            return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }, maxBatch);
        // At least Repeats rounds, and rounds for VerifyUs in all: a plan of a few hundred µs gets enough runs that a
        // descheduled one or code still being tiered up by the JIT does not decide (batch 1 picked all-inline at times).
        var clock = Stopwatch.StartNew();
        for (int r = 0; r <= Repeats || (clock.Elapsed.TotalMicroseconds < VerifyUs && r < 1000); r++)
            for (int c = 0; c < candidates.Length; c++)
            {
                long start = Stopwatch.GetTimestamp();
                RunPlan(steps, arena, candidates[c]);
                if (r > 0) best[c] = Math.Min(best[c], Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
        int winner = 0;
        for (int c = 1; c < candidates.Length; c++)
            if (best[c] < 0.97 * best[winner]) winner = c;
        return candidates[winner];
    }

    private static void RunPlan(PlanStep[] steps, Arena arena, int[] from)
    {
        for (int i = 0; i < steps.Length; i++)
        {
            if (arena.Batch >= from[i])
            {
                steps[i].Run(arena);
                continue;
            }
            using var _ = WorkerPool.RunInline();
            steps[i].Run(arena);
        }
    }

    private static bool Tunable(PlanStep step) => step is ConvStep or LinearStep or PoolStep;

    /// <summary>
    /// The first batch where the pooled time, linear through (1, pooled1) and (batch, pooledAtBatch), is 5 % below the
    /// single thread's line through (1, single1) and (batch, singleAtBatch); int.MaxValue when that is beyond maxBatch.
    /// </summary>
    internal static int FirstPooledBatch(double single1, double singleAtBatch, double pooled1, double pooledAtBatch, int batch, int maxBatch) =>
        FirstFasterBatch(1, single1, pooled1, batch, singleAtBatch, pooledAtBatch, maxBatch, margin: 0.95);

    /// <summary>
    /// The first batch from <paramref name="low"/> where mode b's time, linear through (low, bLow) and (high, bHigh), is
    /// below <paramref name="margin"/> times mode a's line through (low, aLow) and (high, aHigh); int.MaxValue when that
    /// is beyond maxBatch.
    /// </summary>
    internal static int FirstFasterBatch(int low, double aLow, double bLow, int high, double aHigh, double bHigh, int maxBatch, double margin)
    {
        if (bLow < margin * aLow) return low;
        if (high <= low) return int.MaxValue;
        double aPerSample = (aHigh - aLow) / (high - low), bPerSample = (bHigh - bLow) / (high - low);
        double aFixed = aLow - aPerSample * low, bFixed = bLow - bPerSample * low;
        double perSampleGain = margin * aPerSample - bPerSample;
        if (perSampleGain <= 0) return bHigh < margin * aHigh ? high : int.MaxValue;
        double crossover = Math.Ceiling((bFixed - margin * aFixed) / perSampleGain);
        return crossover > maxBatch ? int.MaxValue : (int)Math.Max(crossover, low + 1);
    }

    /// <summary>
    /// The smallest batch from which the whole plan runs faster with the batch cut into one share per thread
    /// (<paramref name="timePlan"/>(batch, true), µs of one run) than with every step on the whole batch
    /// (<paramref name="timePlan"/>(batch, false)), measured at the largest batch (or <see cref="ComparisonBatch"/>'s fewer
    /// samples, the crossover extrapolated beyond them) and at one sample per thread; int.MaxValue when it is not faster at
    /// the largest batch. No margin: where the two tie, shares are preferred,
    /// as they never hand activations between cores, whose cost varies with where the machine places the threads.
    /// </summary>
    public static int SplitFrom(Func<int, bool, double> timePlan, int maxBatch)
    {
        int threads = WorkerPool.Threads;
        if (threads == 1 || maxBatch < 2) return int.MaxValue;
        int high = ComparisonBatch(batch => timePlan(batch, false), maxBatch);
        var (wholeHigh, splitHigh) = MeasurePlan(timePlan, high);
        if (high == maxBatch && splitHigh > wholeHigh) return int.MaxValue;
        int low = Math.Min(threads, maxBatch);
        if (low == high) return splitHigh > wholeHigh ? int.MaxValue : high;
        var (wholeLow, splitLow) = MeasurePlan(timePlan, low);
        return FirstFasterBatch(low, wholeLow, splitLow, high, wholeHigh, splitHigh, maxBatch, margin: 1.0);
    }

    /// <summary>
    /// The batch whole-plan timings compare at: <paramref name="maxBatch"/>, or fewer samples when one run
    /// (<paramref name="timeRun"/>(batch), µs) would take longer than PlanBudgetUs, estimated from a run at one sample
    /// per thread (whose fixed costs make the estimate err towards fewer). Choices beyond it are extrapolated.
    /// </summary>
    internal static int ComparisonBatch(Func<int, double> timeRun, int maxBatch)
    {
        int low = Math.Min(WorkerPool.Threads, maxBatch);
        if (low >= maxBatch) return maxBatch;
        timeRun(low); // warm-up
        double perSample = timeRun(low) / low;
        return (int)Math.Clamp(PlanBudgetUs / Math.Max(perSample, 1e-3), low, maxBatch);
    }

    // Both modes alternating, the first runs of each not counted; the median of at least SplitRounds rounds each, and of
    // rounds for VerifyUs in all. Medians, not minima: on a shared machine the whole-batch steps have a long tail (their
    // threads meet at every step) whose best run says little about the typical one, and a 10 % difference needs more
    // rounds than the per-step choices to come out the same from one preparation to the next.
    internal static (double Whole, double Split) MeasurePlan(Func<int, bool, double> timePlan, int batch)
    {
        for (int warm = 0; warm < 2; warm++)
        {
            timePlan(batch, false);
            timePlan(batch, true);
        }
        var whole = new List<double>();
        var split = new List<double>();
        var clock = Stopwatch.StartNew();
        for (int r = 0; r < SplitRounds || (clock.Elapsed.TotalMicroseconds < VerifyUs && r < 1000); r++)
        {
            whole.Add(timePlan(batch, false));
            split.Add(timePlan(batch, true));
        }
        return (Median(whole), Median(split));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    // The two modes alternate, so that a machine whose speed drifts treats them alike; the best of several runs each.
    // The first call of each mode warms up and is not counted. (Verified checks the choices on the whole plan.)
    private static (double Single, double Pooled) Measure(PlanStep step, Arena arena)
    {
        Time(step, arena, inline: true);
        Time(step, arena, inline: false);
        double single = double.MaxValue, pooled = double.MaxValue;
        // Short steps (tens of µs at batch 1) get more rounds: five were often decided by one interruption.
        var clock = Stopwatch.StartNew();
        for (int r = 0; r < Repeats || (clock.Elapsed.TotalMicroseconds < MeasureUs && r < 50); r++)
        {
            single = Math.Min(single, Time(step, arena, inline: true));
            pooled = Math.Min(pooled, Time(step, arena, inline: false));
        }
        return (single, pooled);
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
