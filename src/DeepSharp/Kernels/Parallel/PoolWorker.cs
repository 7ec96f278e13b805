using System.Diagnostics;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// One persistent pool thread. The owner offers it a job; the worker accepts by compare-and-swap, so the
/// owner can withdraw an offer that a slow-to-wake worker never took and need not wait for it.
/// </summary>
internal sealed class PoolWorker
{
    private const int Idle = 0, Offered = 1, Running = 2, Done = 3;

    /// <summary>
    /// How long an idle worker spins before it naps (DEEPSHARP_SPIN_US, default 200 µs). Waking a blocked
    /// thread costs the waker 8-60 µs in a VM (futex + inter-processor interrupt), more than a mid-size op
    /// takes, so workers stay hot across the short serial gaps of a training step.
    /// </summary>
    internal static long SpinTicks = SpinTicksFromEnvironment();

    // A napping worker blocks with a timeout and re-checks for activity: every 1 ms for the first 100 ms of
    // idleness, then every 20 ms. It returns to spinning as soon as any parallel loop has been offered, so a
    // burst of work re-warms the pool without anyone paying for a wake-up.
    private static readonly long ShortNapTicks = Stopwatch.Frequency / 10;

    private int _state;
    private int _sleeping;
    private readonly object _sleepLock = new();

    public PoolWorker(int id)
    {
        var thread = new Thread(Loop, 256 * 1024)
        {
            IsBackground = true,
            Name = $"DeepSharp worker {id + 1}",
        };
        thread.Start();
    }

    /// <summary>True while the worker naps: an offer reaches it only after a wake-up or its next timeout.</summary>
    public bool IsNapping => Volatile.Read(ref _sleeping) != 0;

    /// <summary>Offers the current job; a napping worker is woken at once only if <paramref name="wake"/>.</summary>
    public void Offer(bool wake)
    {
        Interlocked.Exchange(ref _state, Offered);
        if (wake && Volatile.Read(ref _sleeping) != 0)
        {
            lock (_sleepLock)
                Monitor.Pulse(_sleepLock);
        }
    }

    /// <summary>Returns once this worker is certain not to touch the current job any more.</summary>
    public void Withdraw()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Offered) == Offered)
            return; // never accepted
        var spin = new SpinWait();
        while (Volatile.Read(ref _state) != Done)
            spin.SpinOnce(sleep1Threshold: -1);
        Volatile.Write(ref _state, Idle);
    }

    private void Loop()
    {
        WorkerPool.MarkWorkerThread();
        while (true)
        {
            WaitForOffer();
            if (Interlocked.CompareExchange(ref _state, Running, Offered) != Offered)
                continue; // withdrawn before we got to it
            try
            {
                WorkerPool.RunShare();
            }
            finally
            {
                Volatile.Write(ref _state, Done);
            }
        }
    }

    private void WaitForOffer()
    {
        while (true)
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            do
            {
                for (int i = 0; i < 64; i++)
                {
                    if (Volatile.Read(ref _state) == Offered)
                        return;
                    if (X86Base.IsSupported)
                        X86Base.Pause();
                    else
                        Thread.SpinWait(1);
                }
            }
            while (Stopwatch.GetTimestamp() < deadline);

            if (Nap())
                return;
        }
    }

    // Returns true when offered a job, false when other parallel work was seen (go back to spinning).
    private bool Nap()
    {
        long idleSince = Stopwatch.GetTimestamp();
        int seen = WorkerPool.Activity;
        lock (_sleepLock)
        {
            // Dekker-style hand-shake with Offer: each side writes its flag with a full fence, then reads the other's.
            Interlocked.Exchange(ref _sleeping, 1);
            try
            {
                while (true)
                {
                    if (Volatile.Read(ref _state) == Offered)
                        return true;
                    if (WorkerPool.Activity != seen)
                        return false;
                    bool longIdle = Stopwatch.GetTimestamp() - idleSince > ShortNapTicks;
                    Monitor.Wait(_sleepLock, longIdle ? 20 : 1);
                }
            }
            finally
            {
                Volatile.Write(ref _sleeping, 0);
            }
        }
    }

    private static long SpinTicksFromEnvironment()
    {
        string? env = Environment.GetEnvironmentVariable("DEEPSHARP_SPIN_US");
        long us = long.TryParse(env, out long v) && v >= 0 ? v : 200;
        return us * Stopwatch.Frequency / 1_000_000;
    }
}
