using System.Runtime.InteropServices;

namespace DeepSharp;

/// <summary>
/// Exact-size pool for large element arrays. Training allocates the same sizes every step, so
/// keying by exact length reuses buffers without the 2x waste of power-of-two buckets.
/// Small arrays are not pooled: gen0 allocation is cheaper than any pool for them.
/// <para>
/// A pooled array goes back to the pool when its <see cref="PooledStorage{T}"/> is finalized. The GC only
/// tracks the storage, not spans over its array: code that reads a tensor through a span must keep the
/// tensor (or its storage) reachable until it is done, with <see cref="GC.KeepAlive"/> after the last read
/// when the tensor is a temporary (a ContiguousData or Materialize copy). Otherwise a collection in the
/// middle of the kernel can hand the array to the next renter, possibly on another thread, while the kernel
/// still reads it. <see cref="PoolDiagnostics"/> makes such bugs show up deterministically in tests.
/// </para>
/// </summary>
internal static class BufferPool<T> where T : unmanaged
{
    private const int MinPooledBytes = 16 * 1024;
    private const long MaxPooledBytes = 2L << 30;
    private static readonly int s_elementSize = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    private static readonly Dictionary<int, Stack<T[]>> s_free = [];
    private static long s_pooledBytes;
    private static long s_rentedBytes;

    // Buffers come back when the GC finalizes dead storages, but collections are paced by small-object
    // allocation, which knows nothing of the large buffers rented here: a conv net renting hundreds of
    // MB per step would pile up gigabytes of dead buffers between collections. So after this many rented
    // bytes a collection of the young generations (cheap: few survivors) lets finalizers return them.
    // Gen1, not gen0: a step's storages are still alive at the previous collection and get promoted.
    private const long RentedBytesBeforeCollect = 128L << 20;

    public static bool ShouldPool(int length) => (long)length * s_elementSize >= MinPooledBytes;

    public static T[] Rent(int length)
    {
        if (PoolDiagnostics.CollectOnRent)
        {
            // Stress mode: every dead storage is finalized (and its array poisoned and pooled) right now.
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        else if (Interlocked.Add(ref s_rentedBytes, (long)length * s_elementSize) > RentedBytesBeforeCollect)
        {
            Interlocked.Exchange(ref s_rentedBytes, 0);
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
        }
        lock (s_free)
        {
            if (s_free.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                s_pooledBytes -= (long)length * s_elementSize;
                return stack.Pop();
            }
        }
        var array = GC.AllocateUninitializedArray<T>(length);
        if (PoolDiagnostics.Poison) PoolDiagnostics.Fill(array.AsSpan());
        return array;
    }

    public static void Return(T[] array)
    {
        long bytes = (long)array.Length * s_elementSize;
        if (PoolDiagnostics.Poison) PoolDiagnostics.Fill(array.AsSpan()); // whoever still reads it sees NaN, not plausible data
        lock (s_free)
        {
            if (s_pooledBytes + bytes > MaxPooledBytes) return; // let the GC have it
            if (!s_free.TryGetValue(array.Length, out var stack))
                s_free[array.Length] = stack = new Stack<T[]>();
            stack.Push(array);
            s_pooledBytes += bytes;
        }
    }

    /// <summary>Bytes currently idle in the pool (for diagnostics and tests).</summary>
    public static long PooledBytes
    {
        get { lock (s_free) return s_pooledBytes; }
    }

    public static void Clear()
    {
        lock (s_free)
        {
            s_free.Clear();
            s_pooledBytes = 0;
        }
    }
}

/// <summary>
/// Debug switches that turn silent reads of memory nobody wrote into loud NaNs. Off by default (no cost but
/// a static read); the test suite turns <see cref="Poison"/> on for its whole run, and the environment
/// variable <c>DEEPSHARP_POISON_BUFFERS=1</c> turns it on in any process (the CLI, a user's program).
/// </summary>
internal static class PoolDiagnostics
{
    [ThreadStatic] private static int t_collectOnRent;

    /// <summary>
    /// Fill uninitialised tensor storage (Empty without zeroing, any size) and every array handed back to
    /// the pool with NaN (float, double), 0x5A5A... (int64) or true (bool). A kernel that reads elements
    /// it never wrote, or a span over a buffer already returned, then produces NaN instead of stale data.
    /// </summary>
    public static bool Poison = Environment.GetEnvironmentVariable("DEEPSHARP_POISON_BUFFERS") == "1";

    /// <summary>True while this thread is inside <see cref="CollectOnEveryRent"/>.</summary>
    public static bool CollectOnRent => t_collectOnRent > 0;

    /// <summary>
    /// Until disposed, every pool rent on this thread first runs a full collection and waits for finalizers,
    /// so any storage that has become unreachable is returned (and poisoned) before the rent. A kernel still
    /// reading such a storage's array through a span then sees the poison deterministically. Slow: tests only.
    /// </summary>
    public static Scope CollectOnEveryRent()
    {
        t_collectOnRent++;
        return new Scope();
    }

    public readonly struct Scope : IDisposable
    {
        public void Dispose() => t_collectOnRent--;
    }

    internal static void Fill<T>(Span<T> data) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) MemoryMarshal.Cast<T, float>(data).Fill(float.NaN);
        else if (typeof(T) == typeof(double)) MemoryMarshal.Cast<T, double>(data).Fill(double.NaN);
        else if (typeof(T) == typeof(long)) MemoryMarshal.Cast<T, long>(data).Fill(0x5A5A_5A5A_5A5A_5A5A);
        else if (typeof(T) == typeof(bool)) MemoryMarshal.Cast<T, bool>(data).Fill(true);
    }
}
