using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

// Tests that change WorkerPool.Threads share this collection so they never run concurrently.
[CollectionDefinition("WorkerPool", DisableParallelization = true)]
public sealed class WorkerPoolCollection;

[Collection("WorkerPool")]
public sealed class WorkerPoolTests
{
    internal static void WithThreads(int threads, Action body)
    {
        int saved = WorkerPool.Threads;
        WorkerPool.Threads = threads;
        try
        {
            body();
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    private sealed class CountingTask(int count) : IParallelTask
    {
        public readonly int[] Hits = new int[count];

        public void Run(int index) => Interlocked.Increment(ref Hits[index]);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 3)]
    [InlineData(2, 1000)]
    [InlineData(4, 37)]
    public void EveryIndexRunsExactlyOnce(int threads, int count) => WithThreads(threads, () =>
    {
        for (int rep = 0; rep < 50; rep++)
        {
            var task = new CountingTask(count);
            WorkerPool.For(count, task);
            Assert.All(task.Hits, h => Assert.Equal(1, h));
        }
    });

    [Fact]
    public void ZeroOrNegativeCountRunsNothing()
    {
        int calls = 0;
        WorkerPool.For(0, _ => calls++);
        WorkerPool.For(-3, _ => calls++);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void ThreadsClampsToAtLeastOne()
    {
        int saved = WorkerPool.Threads;
        try
        {
            WorkerPool.Threads = 0;
            Assert.Equal(1, WorkerPool.Threads);
            WorkerPool.Threads = -5;
            Assert.Equal(1, WorkerPool.Threads);
            WorkerPool.Threads = 3;
            Assert.Equal(3, WorkerPool.Threads);
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    [Fact]
    public void OneThreadRunsInlineOnTheCaller() => WithThreads(1, () =>
    {
        int caller = Environment.CurrentManagedThreadId;
        var seen = new int[64];
        WorkerPool.For(seen.Length, i => seen[i] = Environment.CurrentManagedThreadId);
        Assert.All(seen, id => Assert.Equal(caller, id));
    });

    [Fact]
    public void TwoThreadsUseAWorker() => WithThreads(2, () =>
    {
        // Indices that wait for each other can only finish if two threads run them at once.
        using var bothStarted = new CountdownEvent(2);
        var ids = new int[2];
        WorkerPool.For(2, i =>
        {
            ids[i] = Environment.CurrentManagedThreadId;
            bothStarted.Signal();
            Assert.True(bothStarted.Wait(TimeSpan.FromSeconds(10)), "the second index never ran concurrently");
        });
        Assert.NotEqual(ids[0], ids[1]);
    });

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ExceptionsReachTheCaller(int threads) => WithThreads(threads, () =>
    {
        for (int rep = 0; rep < 20; rep++)
        {
            var ex = Assert.Throws<InvalidOperationException>(() => WorkerPool.For(100, i =>
            {
                if (i == 37)
                    throw new InvalidOperationException("index 37 failed");
            }));
            Assert.Equal("index 37 failed", ex.Message);
        }
        // The pool still works afterwards.
        var task = new CountingTask(100);
        WorkerPool.For(100, task);
        Assert.All(task.Hits, h => Assert.Equal(1, h));
    });

    [Fact]
    public void ExceptionOnWorkerThreadIsNotLost() => WithThreads(2, () =>
    {
        for (int rep = 0; rep < 20; rep++)
        {
            int caller = Environment.CurrentManagedThreadId;
            using var bothStarted = new CountdownEvent(2);
            Assert.Throws<ArithmeticException>(() => WorkerPool.For(2, i =>
            {
                bothStarted.Signal();
                bothStarted.Wait(TimeSpan.FromSeconds(10));
                if (Environment.CurrentManagedThreadId != caller)
                    throw new ArithmeticException("worker failed");
            }));
        }
    });

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void NestedForRunsInline(int threads) => WithThreads(threads, () =>
    {
        var hits = new int[16 * 16];
        WorkerPool.For(16, i =>
        {
            int outer = Environment.CurrentManagedThreadId;
            WorkerPool.For(16, j =>
            {
                Assert.Equal(outer, Environment.CurrentManagedThreadId);
                Interlocked.Increment(ref hits[i * 16 + j]);
            });
        });
        Assert.All(hits, h => Assert.Equal(1, h));
    });

    [Fact]
    public void ConcurrentCallersAllComplete() => WithThreads(2, () =>
    {
        var tasks = new CountingTask[4];
        var threads = new Thread[tasks.Length];
        for (int t = 0; t < threads.Length; t++)
        {
            var task = tasks[t] = new CountingTask(500);
            threads[t] = new Thread(() =>
            {
                for (int rep = 0; rep < 200; rep++)
                    WorkerPool.For(500, task);
            });
            threads[t].Start();
        }
        foreach (Thread th in threads)
            th.Join();
        Assert.All(tasks, task => Assert.All(task.Hits, h => Assert.Equal(200, h)));
    });

    [Fact]
    public void WorkersWakeAfterNapping() => WithThreads(2, () =>
    {
        foreach (int idleMs in new[] { 5, 150 }) // short naps, then the long-idle ones
        {
            Thread.Sleep(idleMs);
            var task = new CountingTask(64);
            WorkerPool.For(64, task);
            Assert.All(task.Hits, h => Assert.Equal(1, h));
            // Without waking: napping workers may or may not join, every index still runs once.
            Thread.Sleep(idleMs);
            var quiet = new CountingTask(64);
            WorkerPool.For(64, quiet, wakeSleepers: false);
            Assert.All(quiet.Hits, h => Assert.Equal(1, h));
        }
    });

    [Fact]
    public void ReadyThreadsNeverExceedsRequest() => WithThreads(2, () =>
    {
        for (int i = 0; i < 100; i++)
        {
            int ready = WorkerPool.ReadyThreads(2);
            Assert.InRange(ready, 1, 2);
        }
        Assert.Equal(1, WorkerPool.ReadyThreads(1));
    });
}

/// <summary>
/// Results must not depend on the thread count, nor on how many workers happened to be awake (small products
/// only use awake ones, so the split varies from call to call): the same bits every time.
/// </summary>
[Collection("WorkerPool")]
public sealed class ThreadIndependenceTests
{
    [Theory]
    [InlineData(false, false, 64, 400, 120)]  // row blocks, split by columns
    [InlineData(false, true, 70, 300, 96)]    // dot products
    [InlineData(true, false, 300, 10, 200)]   // transposed row blocks
    [InlineData(false, false, 1, 700, 784)]   // matrix-vector
    [InlineData(true, false, 120, 400, 64)]   // packed
    public void GemmGivesTheSameBitsWhateverTheSplit(bool transA, bool transB, int m, int n, int k)
    {
        var gen = new Generator(5);
        var a = Tensor.Randn([transA ? k : m, transA ? m : k], gen).ToArray<float>();
        var b = Tensor.Randn([transB ? n : k, transB ? k : n], gen).ToArray<float>();
        float[] Run()
        {
            var c = new float[m * n];
            Gemm.Sgemm(transA, transB, m, n, k, 1f, a, transA ? m : k, b, transB ? k : n, 0f, c, n);
            return c;
        }
        var reference = WithThreads(1, Run);
        for (int i = 0; i < 40; i++)
            Assert.Equal(reference, WithThreads(2, Run));
    }

    [Fact]
    public void LeNetGradientsAreTheSameWhateverTheThreadCount()
    {
        string Step()
        {
            var model = DeepSharp.Models.ModelZoo.Create("lenet5", new DeepSharp.Models.ModelOptions(Generator: new Generator(3)));
            var x = Tensor.Randn([64, 1, 28, 28], new Generator(1));
            var y = Tensor.Randint(0, 10, [64], new Generator(2));
            DeepSharp.NN.Functional.CrossEntropy(model.Call(x), y).Backward();
            return string.Join(";", model.Parameters().Select(p => string.Join(",", p.Grad!.ToArray<float>())));
        }
        var reference = WithThreads(1, Step);
        for (int i = 0; i < 5; i++)
            Assert.Equal(reference, WithThreads(2, Step));
    }

    private static T WithThreads<T>(int threads, Func<T> body)
    {
        int saved = WorkerPool.Threads;
        WorkerPool.Threads = threads;
        try
        {
            return body();
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }
}
