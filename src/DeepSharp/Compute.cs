using DeepSharp.Kernels;

namespace DeepSharp;

/// <summary>
/// Process-wide compute settings and statistics: how many threads tensor operations use, what the CPU offers
/// the kernels, and what the tensor memory pool holds. The counterpart of PyTorch's <c>torch.set_num_threads</c>,
/// <c>torch.get_num_threads</c> and <c>torch.backends.cpu.get_cpu_capability()</c>.
/// </summary>
/// <example>
/// <code>
/// Compute.Threads = 4;                                  // use four cores for every parallel kernel
/// Console.WriteLine($"{Compute.CpuModel}: {Compute.InstructionSet}, {Compute.VectorBits}-bit vectors");
/// Console.WriteLine(Compute.PoolStatistics);            // e.g. PoolStatistics { PooledBytes = 4194304, ... }
/// </code>
/// </example>
public static class Compute
{
    /// <summary>
    /// Number of threads a parallel kernel (GEMM, convolution, elementwise operations on large tensors) uses, the
    /// calling thread included. Defaults to the environment variable <c>DEEPSHARP_NUM_THREADS</c> when set, else
    /// <see cref="Environment.ProcessorCount"/>. Values below 1 are stored as 1 (run on the calling thread only).
    /// </summary>
    /// <remarks>
    /// The setting is global to the process and takes effect at the next parallel operation; worker threads are
    /// started on first use and kept for the life of the process.
    /// </remarks>
    public static int Threads
    {
        get => WorkerPool.Threads;
        set => WorkerPool.Threads = value;
    }

    /// <summary>The CPU's model name as the operating system reports it, e.g. "AMD EPYC 9R45" (else the architecture, e.g. "X64").</summary>
    public static string CpuModel => CpuInfo.Model;

    /// <summary>
    /// The vector instruction sets the kernels use, e.g. "AVX-512, FMA", "AVX2, FMA" or "AdvSimd (NEON)";
    /// "none (scalar)" when the runtime offers no SIMD (for example with <c>DOTNET_EnableHWIntrinsic=0</c>).
    /// </summary>
    public static string InstructionSet => CpuInfo.VectorIsa;

    /// <summary>The vector width the kernels run at, in bits: 512, 256 or 128; 0 when the runtime offers no SIMD.</summary>
    public static int VectorBits => CpuInfo.VectorBits;

    /// <summary>
    /// The CPU's data cache sizes the kernels block their work for (GEMM tiles, threading thresholds), read from the
    /// operating system when it says (see <see cref="CacheSizes.FromOperatingSystem"/>).
    /// </summary>
    public static CacheSizes Caches =>
        new(CpuInfo.L1DataBytes, CpuInfo.L2Bytes, CpuInfo.L3Bytes, CpuInfo.CachesFromOs);

    /// <summary>
    /// A snapshot of the tensor memory pool, which recycles large tensor buffers (16 KiB and more) instead of
    /// allocating one per operation. Reading it takes the pool's locks briefly; it never allocates on the heap.
    /// </summary>
    public static PoolStatistics PoolStatistics
    {
        get
        {
            var c = MemoryPool.Sum();
            return new PoolStatistics(c.Pooled, c.PooledBuffers, c.Rented, c.Hits, c.Misses);
        }
    }

    /// <summary>
    /// The most bytes the memory pool keeps idle for reuse, across element types; returned buffers beyond it are left
    /// to the garbage collector. Default: 256 MiB or a 32nd of the memory available to the process, whichever is
    /// smaller; the environment variable <c>DEEPSHARP_POOL_CAP_MB</c> overrides it. 0 disables reuse.
    /// </summary>
    public static long PoolCapacityBytes
    {
        get => MemoryPool.CapBytes;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            MemoryPool.CapBytes = value;
        }
    }

    /// <summary>
    /// Releases every idle buffer the memory pool holds to the garbage collector now (buffers still used by tensors
    /// are unaffected). The pool also trims, by itself, buffers that stayed idle for a second or more (checked at full collections); call
    /// this after a burst of large tensors when the process should give memory back right away.
    /// </summary>
    public static void TrimPool() => MemoryPool.Trim();
}

/// <summary>The sizes of the CPU's data caches, in bytes, as <see cref="Compute.Caches"/> reports them.</summary>
/// <param name="L1DataBytes">Level-1 data cache of one core.</param>
/// <param name="L2Bytes">Level-2 cache of one core.</param>
/// <param name="L3Bytes">Level-3 cache (shared by several cores).</param>
/// <param name="FromOperatingSystem">
/// Whether the sizes were read from the operating system (Linux sysfs); false when typical sizes of current cores
/// were assumed because the system did not say.
/// </param>
public readonly record struct CacheSizes(long L1DataBytes, long L2Bytes, long L3Bytes, bool FromOperatingSystem);

/// <summary>A snapshot of the tensor memory pool's counters, as <see cref="Compute.PoolStatistics"/> reports them.</summary>
/// <param name="PooledBytes">Bytes held idle in the pool, ready for reuse.</param>
/// <param name="PooledBuffers">Number of idle buffers the pool holds.</param>
/// <param name="RentedBytes">
/// Bytes of pool-sized buffers currently in use by tensors (or by tensors the garbage collector has not finalized yet).
/// </param>
/// <param name="Hits">Buffer requests served from the pool since the process started.</param>
/// <param name="Misses">Buffer requests that allocated a new buffer since the process started.</param>
public readonly record struct PoolStatistics(long PooledBytes, long PooledBuffers, long RentedBytes, long Hits, long Misses)
{
    /// <summary>The fraction of requests served from the pool, between 0 and 1 (0 before the first request).</summary>
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
