using DeepSharp.Kernels;
using DeepSharp.Tests.Tensors;

namespace DeepSharp.Tests;

// In the buffer pool's collection: it runs alone, so the process-wide pool counters only move by what a test does.
[Collection(nameof(BufferPoolTests))]
public sealed class ComputeTests
{
    [Fact]
    public void ThreadsIsTheWorkerPoolsSettingAndStaysAtLeastOne()
    {
        int saved = Compute.Threads;
        try
        {
            Compute.Threads = 3;
            Assert.Equal(3, WorkerPool.Threads);
            Compute.Threads = 0;
            Assert.Equal(1, Compute.Threads);
            Assert.Equal(2.0, (Tensor.Ones(300, 300).MatMul(Tensor.Ones(300, 300)) / 150).Mean().ToDouble()); // still computes
        }
        finally
        {
            Compute.Threads = saved;
        }
        Assert.Equal(saved, WorkerPool.Threads);
    }

    [Fact]
    public void CpuPropertiesDescribeWhatTheKernelsUse()
    {
        Assert.Contains(Compute.VectorBits, new[] { 0, 128, 256, 512 });
        Assert.Equal(SimdWidth.Hardware, Compute.VectorBits);
        Assert.False(string.IsNullOrWhiteSpace(Compute.InstructionSet));
        Assert.Equal(Compute.VectorBits == 0, Compute.InstructionSet.StartsWith("none", StringComparison.Ordinal));
        Assert.False(string.IsNullOrWhiteSpace(Compute.CpuModel));
        var caches = Compute.Caches;
        Assert.True(caches.L1DataBytes > 0 && caches.L2Bytes > 0 && caches.L3Bytes > 0, caches.ToString());
        Assert.Equal(CpuInfo.CachesFromOs, caches.FromOperatingSystem);
    }

    [Fact]
    public void PoolStatisticsCountIdleBuffersHitsAndMissesAndTrimEmptiesThePool()
    {
        // Let storages other tests dropped come back first, then start from an empty pool.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Compute.TrimPool();
        var empty = Compute.PoolStatistics;
        Assert.Equal(0, empty.PooledBuffers);
        Assert.Equal(0, empty.PooledBytes);

        var a = BufferPool<double>.Rent(300_000);
        long bytes = a.LongLength * sizeof(double);
        var rented = Compute.PoolStatistics;
        Assert.Equal(empty.Misses + 1, rented.Misses);
        Assert.Equal(empty.RentedBytes + bytes, rented.RentedBytes);

        BufferPool<double>.Return(a);
        var idle = Compute.PoolStatistics;
        Assert.Equal(1, idle.PooledBuffers);
        Assert.Equal(bytes, idle.PooledBytes);
        Assert.Equal(empty.RentedBytes, idle.RentedBytes);

        var again = BufferPool<double>.Rent(300_000);
        var hit = Compute.PoolStatistics;
        Assert.Same(a, again);
        Assert.Equal(empty.Hits + 1, hit.Hits);
        Assert.Equal(0, hit.PooledBuffers);
        Assert.InRange(hit.HitRate, double.Epsilon, 1.0);

        BufferPool<double>.Return(again);
        Assert.Equal(1, Compute.PoolStatistics.PooledBuffers);
        Compute.TrimPool();
        Assert.Equal(0, Compute.PoolStatistics.PooledBuffers);
        Assert.Equal(0, Compute.PoolStatistics.PooledBytes);
    }

    [Fact]
    public void PoolCapacityIsTheMemoryPoolCapAndRejectsNegativeValues()
    {
        long saved = Compute.PoolCapacityBytes;
        try
        {
            Compute.PoolCapacityBytes = 0; // nothing is kept for reuse
            Compute.TrimPool();
            Assert.Equal(0, MemoryPool.CapBytes);
            BufferPool<double>.Return(BufferPool<double>.Rent(300_000));
            Assert.Equal(0, Compute.PoolStatistics.PooledBuffers);
            Assert.Throws<ArgumentOutOfRangeException>(() => Compute.PoolCapacityBytes = -1);
        }
        finally
        {
            Compute.PoolCapacityBytes = saved;
        }
    }
}
