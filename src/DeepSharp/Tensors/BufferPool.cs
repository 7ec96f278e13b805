namespace DeepSharp;

/// <summary>
/// Exact-size pool for large element arrays. Training allocates the same sizes every step, so
/// keying by exact length reuses buffers without the 2x waste of power-of-two buckets.
/// Small arrays are not pooled: gen0 allocation is cheaper than any pool for them.
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
        if (Interlocked.Add(ref s_rentedBytes, (long)length * s_elementSize) > RentedBytesBeforeCollect)
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
        return GC.AllocateUninitializedArray<T>(length);
    }

    public static void Return(T[] array)
    {
        long bytes = (long)array.Length * s_elementSize;
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
