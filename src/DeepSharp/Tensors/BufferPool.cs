using System.Runtime.InteropServices;

namespace DeepSharp;

/// <summary>
/// Pool for large element arrays, bounded in three ways so that memory stays flat when shapes vary (a server
/// answering batches of every size) as well as in steady training:
/// <list type="bullet">
/// <item>size classes: a request is rounded up to the next quarter power of two (at most 19 % larger), so a batch
/// of 57 reuses the buffer of a batch of 60 instead of pooling one array per exact length;</item>
/// <item>a cap on idle bytes (<see cref="MemoryPool.CapBytes"/>), beyond which returned arrays are left to the GC;</item>
/// <item>trimming: after a full (gen 2) collection at least a second after the previous trim, arrays that stayed
/// idle since that trim are released, so a burst of large shapes does not pin its buffers for the life of the
/// process. (Trimming at every full collection emptied the pool in the middle of a training step: with large
/// activations the memory pressure paces several full collections per step.)</item>
/// </list>
/// The library never forces a collection: the arrays are managed, so the GC counts what the pool's misses
/// allocate, and collections paced by that return the arrays of dead storages through their finalizers.
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
    private static readonly int s_elementSize = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    private static readonly Dictionary<int, Stack<Entry>> s_free = [];
    private static long s_pooledBytes, s_rentedBytes, s_hits, s_misses, s_pooledBuffers;
    private static int s_epoch; // bumped by every gen2 collection; entries remember the epoch they were returned in

    private readonly record struct Entry(T[] Array, int Epoch);

    static BufferPool() => MemoryPool.Register(Trim, Stats);

    private static MemoryPool.Counters Stats()
    {
        lock (s_free) return new(s_pooledBytes, s_pooledBuffers, s_rentedBytes, s_hits, s_misses);
    }

    public static bool ShouldPool(int length) => (long)length * s_elementSize >= MinPooledBytes;

    /// <summary>The length an array rented for <paramref name="length"/> elements has: the next size class.</summary>
    internal static int ClassLength(int length)
    {
        // Classes are 2^(e/4) elements rounded to a multiple of 16, for e = ceil(4 log2 length).
        if (length <= 16) return length;
        int e = (int)Math.Ceiling(4 * Math.Log2(length));
        if (ClassSize(e - 1) >= length) e--; // rounding to 16 can make the class below large enough
        return (int)Math.Min(Math.Max(ClassSize(e), length), Array.MaxLength);

        static long ClassSize(int e) => (long)Math.Ceiling(Math.Pow(2, e / 4.0) / 16) * 16;
    }

    public static T[] Rent(int length)
    {
        PoolDiagnostics.BeforeRent?.Invoke();
        int classLength = ClassLength(length);
        // The GC sees a rent from the pool as no allocation at all, yet dead storages only give their arrays
        // back when a collection finalizes them. Rented bytes are declared as memory pressure (and withdrawn on
        // return), so collections are scheduled by how much tensor memory is outstanding, not only by the small
        // objects allocated meanwhile.
        if (classLength > 0) GC.AddMemoryPressure((long)classLength * s_elementSize);
        lock (s_free)
        {
            s_rentedBytes += (long)classLength * s_elementSize;
            if (s_free.TryGetValue(classLength, out var stack) && stack.Count > 0)
            {
                s_pooledBytes -= (long)classLength * s_elementSize;
                MemoryPool.AddIdle(-(long)classLength * s_elementSize);
                s_pooledBuffers--;
                s_hits++;
                return stack.Pop().Array;
            }
            s_misses++;
        }
        var array = GC.AllocateUninitializedArray<T>(classLength);
        if (PoolDiagnostics.Poison) PoolDiagnostics.Fill(array.AsSpan());
        return array;
    }

    public static void Return(T[] array)
    {
        long bytes = (long)array.Length * s_elementSize;
        if (bytes > 0) GC.RemoveMemoryPressure(bytes);
        if (PoolDiagnostics.Poison) PoolDiagnostics.Fill(array.AsSpan()); // whoever still reads it sees NaN, not plausible data
        lock (s_free)
        {
            s_rentedBytes -= bytes;
            if (array.Length != ClassLength(array.Length) || !MemoryPool.TryAddIdle(bytes))
                return; // let the GC have it
            if (!s_free.TryGetValue(array.Length, out var stack))
                s_free[array.Length] = stack = new Stack<Entry>();
            stack.Push(new Entry(array, s_epoch));
            s_pooledBytes += bytes;
            s_pooledBuffers++;
        }
    }

    /// <summary>Releases arrays idle since the previous trim (all of them when <paramref name="all"/>).</summary>
    private static void Trim(bool all)
    {
        lock (s_free)
        {
            int oldest = s_epoch;
            s_epoch++;
            foreach (var (length, stack) in s_free)
            {
                if (stack.Count == 0) continue;
                // Stacks pop the most recent first, so idle entries are at the bottom: keep the recent ones.
                var keep = stack.Where(e => !all && e.Epoch >= oldest).Reverse().ToArray();
                long released = (long)(stack.Count - keep.Length) * length * s_elementSize;
                s_pooledBytes -= released;
                MemoryPool.AddIdle(-released);
                s_pooledBuffers -= stack.Count - keep.Length;
                stack.Clear();
                foreach (var e in keep) stack.Push(e);
            }
        }
    }

    /// <summary>Bytes currently idle in the pool (for diagnostics and tests).</summary>
    public static long PooledBytes
    {
        get { lock (s_free) return s_pooledBytes; }
    }
}

/// <summary>
/// The tensor memory pool: large tensor buffers are recycled instead of allocated per operation. Its statistics
/// show what it holds; <see cref="CapBytes"/> bounds the idle part; <see cref="Trim"/> releases idle buffers now
/// (the pool also trims itself after full garbage collections, at most once a second).
/// </summary>
internal static class MemoryPool
{
    private static readonly List<(Action<bool> Trim, Func<Counters> Stats)> s_pools = [];
    private static readonly TimeSpan MinTrimInterval = TimeSpan.FromSeconds(1);
    private static long s_idleBytes; // over every element type's pool
    private static long s_lastTrim = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>One element type's (or the sum over all types') counters, read under the pool's lock.</summary>
    internal readonly record struct Counters(long Pooled, long PooledBuffers, long Rented, long Hits, long Misses);

    static MemoryPool() => Gen2Callback.Register(() =>
    {
        if (System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref s_lastTrim)) >= MinTrimInterval) TrimAll(all: false);
    });

    /// <summary>Counts <paramref name="bytes"/> as idle when the total stays within <see cref="CapBytes"/>; false otherwise.</summary>
    internal static bool TryAddIdle(long bytes)
    {
        long cap = CapBytes;
        while (true)
        {
            long idle = Interlocked.Read(ref s_idleBytes);
            if (idle + bytes > cap) return false;
            if (Interlocked.CompareExchange(ref s_idleBytes, idle + bytes, idle) == idle) return true;
        }
    }

    /// <summary>Adds <paramref name="bytes"/> (negative when a buffer leaves the pool) to the idle total.</summary>
    internal static void AddIdle(long bytes) => Interlocked.Add(ref s_idleBytes, bytes);

    /// <summary>
    /// The most bytes kept idle for reuse, across element types. Default: 256 MiB or a 32nd of the memory
    /// available to the process, whichever is smaller (what one element type could keep before the cap was one total;
    /// ResNet-20 training at batch 64 reuses 96 % of its buffers within it); <c>DEEPSHARP_POOL_CAP_MB</c> overrides it.
    /// </summary>
    public static long CapBytes { get; set; } = DefaultCap();

    /// <summary>Bytes idle in the pool, ready for reuse.</summary>
    public static long PooledBytes => Sum().Pooled;

    /// <summary>Bytes of pooled-size buffers currently held by tensors (or by storages the GC has not finalized yet).</summary>
    public static long RentedBytes => Sum().Rented;

    /// <summary>Requests served from the pool.</summary>
    public static long Hits => Sum().Hits;

    /// <summary>Requests that allocated a new buffer.</summary>
    public static long Misses => Sum().Misses;

    /// <summary>Releases every idle buffer to the garbage collector.</summary>
    public static void Trim() => TrimAll(all: true);

    internal static void Register(Action<bool> trim, Func<Counters> stats)
    {
        lock (s_pools) s_pools.Add((trim, stats));
    }

    private static void TrimAll(bool all)
    {
        (Action<bool> Trim, Func<Counters> Stats)[] pools;
        lock (s_pools) pools = [.. s_pools];
        Interlocked.Exchange(ref s_lastTrim, System.Diagnostics.Stopwatch.GetTimestamp());
        foreach (var p in pools) p.Trim(all);
    }

    /// <summary>The counters summed over element types.</summary>
    internal static Counters Sum()
    {
        Counters total = default;
        lock (s_pools)
        {
            foreach (var p in s_pools)
            {
                var c = p.Stats();
                total = new(total.Pooled + c.Pooled, total.PooledBuffers + c.PooledBuffers, total.Rented + c.Rented,
                            total.Hits + c.Hits, total.Misses + c.Misses);
            }
        }
        return total;
    }

    private static long DefaultCap()
    {
        if (long.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_POOL_CAP_MB"), out long mb) && mb >= 0)
            return mb << 20;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return Math.Min(256L << 20, available > 0 ? available / 32 : 256L << 20);
    }

    /// <summary>Calls back after every gen 2 collection: an object that resurrects itself in its finalizer.</summary>
    private sealed class Gen2Callback
    {
        private readonly Action _callback;

        private Gen2Callback(Action callback) => _callback = callback;

        public static void Register(Action callback) => _ = new Gen2Callback(callback);

        ~Gen2Callback()
        {
            try
            {
                _callback();
            }
            catch (InvalidOperationException)
            {
                // never let a trimming problem take the finalizer thread down
            }
            if (!Environment.HasShutdownStarted)
                GC.ReRegisterForFinalize(this);
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
    /// <summary>
    /// Fill uninitialised tensor storage (Empty without zeroing, any size) and every array handed back to
    /// the pool with NaN (float, double), 0x5A5A... (int64) or true (bool). A kernel that reads elements
    /// it never wrote, or a span over a buffer already returned, then produces NaN instead of stale data.
    /// </summary>
    public static bool Poison = Environment.GetEnvironmentVariable("DEEPSHARP_POISON_BUFFERS") == "1";

    /// <summary>
    /// Called before every rent when set. The test suite's stress mode sets it to run a full collection first,
    /// so any storage that has become unreachable is returned (and poisoned) before the rent, and a kernel still
    /// reading such a storage's array through a span sees the poison deterministically.
    /// </summary>
    [ThreadStatic] public static Action? BeforeRent;

    internal static void Fill<T>(Span<T> data) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) MemoryMarshal.Cast<T, float>(data).Fill(float.NaN);
        else if (typeof(T) == typeof(double)) MemoryMarshal.Cast<T, double>(data).Fill(double.NaN);
        else if (typeof(T) == typeof(long)) MemoryMarshal.Cast<T, long>(data).Fill(0x5A5A_5A5A_5A5A_5A5A);
        else if (typeof(T) == typeof(bool)) MemoryMarshal.Cast<T, bool>(data).Fill(true);
    }
}
