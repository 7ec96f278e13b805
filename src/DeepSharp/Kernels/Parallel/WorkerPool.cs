using System.Runtime.ExceptionServices;

namespace DeepSharp.Kernels;

/// <summary>One unit of parallel work; <see cref="Run"/> is called once for each index of a <see cref="WorkerPool.For(int, IParallelTask)"/>.</summary>
internal interface IParallelTask
{
    void Run(int index);
}

/// <summary>
/// The library's single pool of persistent worker threads. <see cref="For(int, IParallelTask)"/> hands
/// indices out through an atomic counter (so uneven indices balance), lets the calling thread take part
/// and returns when every index has run. There is no thread creation and no Task per call.
/// </summary>
internal static class WorkerPool
{
    private static int s_threads = DefaultThreads();

    // Guards the job fields below: one parallel job at a time. A second outside caller runs inline.
    private static readonly Lock s_gate = new();
    private static PoolWorker[] s_workers = [];

    private static IParallelTask? s_task;
    private static int s_count;
    private static int s_next;
    private static Exception? s_error;
    private static int s_activity; // counts parallel loops; napping workers watch it

    // True on worker threads and on a caller while it runs its share: nested For calls run inline.
    [ThreadStatic] private static bool t_inParallel;

    /// <summary>
    /// Number of threads a <see cref="For(int, IParallelTask)"/> uses, the caller included. Defaults to
    /// <c>DEEPSHARP_NUM_THREADS</c> when set, else <see cref="Environment.ProcessorCount"/>; values below 1 become 1.
    /// </summary>
    public static int Threads
    {
        get => Volatile.Read(ref s_threads);
        set => Volatile.Write(ref s_threads, Math.Max(1, value));
    }

    /// <summary>True while the current thread runs inside a parallel loop (so further parallelism would run inline).</summary>
    internal static bool IsInParallelRegion => t_inParallel;

    /// <summary>
    /// Until disposed, parallel loops and GEMMs started on this thread run on this thread alone: for a caller that
    /// measured one thread to be faster for a piece of work (the inference plan's per-step choice).
    /// </summary>
    internal static InlineScope RunInline()
    {
        bool previous = t_inParallel;
        t_inParallel = true;
        return new InlineScope(previous);
    }

    internal readonly struct InlineScope(bool previous) : IDisposable
    {
        public void Dispose() => t_inParallel = previous;
    }

    /// <summary>Runs <paramref name="task"/> for every index in [0, count) and returns when all are done.</summary>
    /// <remarks>The first exception thrown by any index is rethrown here; indices not yet started are skipped.</remarks>
    public static void For(int count, IParallelTask task) => For(count, task, wakeSleepers: true);

    /// <summary>
    /// As <see cref="For(int, IParallelTask)"/>; with <paramref name="wakeSleepers"/> false, workers that are
    /// napping are not woken (that costs the caller tens of µs) but join if they notice the job in time.
    /// Kernels pass false for jobs too short to repay a wake-up.
    /// </summary>
    internal static void For(int count, IParallelTask task, bool wakeSleepers)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (count <= 0)
            return;
        int threads = Threads;
        if (threads == 1 || count == 1 || t_inParallel || !s_gate.TryEnter())
        {
            RunInline(count, task);
            return;
        }
        try
        {
            RunParallel(count, task, Math.Min(threads, count) - 1, wakeSleepers);
        }
        finally
        {
            s_gate.Exit();
        }
    }

    /// <summary>
    /// How many parts to split <paramref name="work"/> units into: one per thread when each gets at least
    /// <paramref name="minWorkPerPart"/>, fewer otherwise, 1 inside a parallel region.
    /// </summary>
    internal static int Parts(long work, long minWorkPerPart) =>
        t_inParallel ? 1 : (int)Math.Clamp(work / Math.Max(1, minWorkPerPart), 1, Threads);

    /// <summary>The part-th of <paramref name="parts"/> contiguous ranges of [0, length), boundaries on multiples of <paramref name="align"/>.</summary>
    internal static (int Start, int End) Range(int part, int parts, int length, int align)
    {
        int units = (length + align - 1) / align;
        int start = (int)Math.Min(length, (long)units * part / parts * align);
        int end = part == parts - 1 ? length : (int)Math.Min(length, (long)units * (part + 1) / parts * align);
        return (start, end);
    }

    /// <summary>Convenience overload; allocates a small wrapper per call, prefer an <see cref="IParallelTask"/> in hot paths.</summary>
    public static void For(int count, Action<int> body) => For(count, body, wakeSleepers: true);

    internal static void For(int count, Action<int> body, bool wakeSleepers)
    {
        ArgumentNullException.ThrowIfNull(body);
        For(count, new ActionTask(body), wakeSleepers);
    }

    private static void RunInline(int count, IParallelTask task)
    {
        for (int i = 0; i < count; i++)
            task.Run(i);
    }

    private static void RunParallel(int count, IParallelTask task, int helpers, bool wake)
    {
        if (s_workers.Length < helpers)
            GrowWorkers(helpers);
        s_task = task;
        s_count = count;
        s_error = null;
        Volatile.Write(ref s_next, 0);
        Interlocked.Increment(ref s_activity);
        // Offers are full fences (Interlocked), so the job fields above are visible to a worker that accepts.
        for (int w = 0; w < helpers; w++)
            s_workers[w].Offer(wake);

        t_inParallel = true;
        try
        {
            RunShare();
        }
        finally
        {
            t_inParallel = false;
        }

        for (int w = 0; w < helpers; w++)
            s_workers[w].Withdraw();
        s_task = null;
        Exception? error = s_error;
        s_error = null;
        if (error is not null)
            ExceptionDispatchInfo.Capture(error).Throw();
    }

    // Claims indices until none are left. Called by the caller and by workers that accepted the offer.
    internal static void RunShare()
    {
        IParallelTask task = s_task!;
        int count = s_count;
        int i;
        while ((i = Interlocked.Increment(ref s_next) - 1) < count)
        {
            try
            {
                task.Run(i);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref s_error, e, null);
                Volatile.Write(ref s_next, count); // skip indices nobody has started
            }
        }
    }

    private static void GrowWorkers(int helpers)
    {
        var grown = new PoolWorker[helpers];
        Array.Copy(s_workers, grown, s_workers.Length);
        for (int w = s_workers.Length; w < helpers; w++)
            grown[w] = new PoolWorker(w);
        s_workers = grown;
    }

    private static int DefaultThreads()
    {
        string? env = Environment.GetEnvironmentVariable("DEEPSHARP_NUM_THREADS");
        if (int.TryParse(env, out int n) && n >= 1)
            return n;
        return Environment.ProcessorCount;
    }

    internal static void MarkWorkerThread() => t_inParallel = true;

    internal static int Activity => Volatile.Read(ref s_activity);

    /// <summary>
    /// How many of <paramref name="threads"/> (caller included) could start a job right now without a wake-up.
    /// Napping helpers are nudged to spin again, so the next job finds them ready.
    /// </summary>
    internal static int ReadyThreads(int threads)
    {
        if (threads <= 1 || t_inParallel)
            return 1;
        PoolWorker[] workers = s_workers;
        if (workers.Length < threads - 1)
        {
            // First use: start the workers; they come up spinning, ready for the next job.
            lock (s_gate)
            {
                if (s_workers.Length < threads - 1)
                    GrowWorkers(threads - 1);
            }
            return 1;
        }
        int ready = 1;
        for (int w = 0; w < threads - 1; w++)
        {
            if (!workers[w].IsNapping)
                ready++;
        }
        if (ready < threads)
            Interlocked.Increment(ref s_activity);
        return ready;
    }

    private sealed class ActionTask(Action<int> body) : IParallelTask
    {
        public void Run(int index) => body(index);
    }
}
