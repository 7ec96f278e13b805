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
    private static long s_freshBytes;

    // Buffers come back when the GC finalizes dead storages. A loop that allocates little else (a data
    // loader's worker) may go long between collections and keep allocating fresh large arrays; after
    // this many fresh bytes a cheap gen0 collection lets the finalizers hand the dead buffers back.
    private const long FreshBytesBeforeCollect = 256L << 20;

    public static bool ShouldPool(int length) => (long)length * s_elementSize >= MinPooledBytes;

    public static T[] Rent(int length)
    {
        lock (s_free)
        {
            if (s_free.TryGetValue(length, out var stack) && stack.Count > 0)
            {
                s_pooledBytes -= (long)length * s_elementSize;
                return stack.Pop();
            }
        }
        if (Interlocked.Add(ref s_freshBytes, (long)length * s_elementSize) > FreshBytesBeforeCollect)
        {
            Interlocked.Exchange(ref s_freshBytes, 0);
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
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
