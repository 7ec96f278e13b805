using System.Diagnostics;
using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

/// <summary>The prefetch tests measure time: run them alone, not next to CPU-heavy test classes.</summary>
[CollectionDefinition(nameof(TimingSensitive), DisableParallelization = true)]
public sealed class TimingSensitive;

[Collection(nameof(TimingSensitive))]
public sealed class DataLoaderTests
{
    /// <summary>A dataset with only Get (no batch path), counting calls and optionally failing or sleeping.</summary>
    private sealed class SlowDataset(int count, int failAt = -1, int sleepMs = 0) : IDataset
    {
        private int _gets;

        public int Gets => Volatile.Read(ref _gets);

        public int Count => count;

        public (Tensor Input, Tensor Target) Get(int index)
        {
            Interlocked.Increment(ref _gets);
            if (sleepMs > 0) Thread.Sleep(sleepMs);
            if (index == failAt) throw new InvalidOperationException($"example {index} is corrupt");
            return (Tensor.Full([2], index), Tensor.Scalar(index, DType.Int64));
        }
    }

    private static long[][] Targets(DataLoader loader) => loader.Select(b => b.Target.ToArray<long>()).ToArray();

    [Fact]
    public void BatchesHaveTheRightShapesAndCounts()
    {
        var ds = DatasetTests.Range(10);
        var loader = new DataLoader(ds, batchSize: 4);
        Assert.Equal(3, loader.Count);
        var batches = loader.ToList();
        Assert.Equal(3, batches.Count);
        Assert.Equal([4, 2], batches[0].Input.Shape.ToArray());
        Assert.Equal([2, 2], batches[2].Input.Shape.ToArray());
        Assert.Equal([4], batches[0].Target.Shape.ToArray());
        Assert.Equal([[0L, 1, 2, 3], [4, 5, 6, 7], [8, 9]], Targets(loader));

        var dropLast = new DataLoader(ds, 4, dropLast: true);
        Assert.Equal(2, dropLast.Count);
        Assert.Equal([[0L, 1, 2, 3], [4, 5, 6, 7]], Targets(dropLast));
        Assert.Equal(0, new DataLoader(ds, 11, dropLast: true).Count);
        Assert.Empty(new DataLoader(ds, 11, dropLast: true));
        Assert.Equal(1, new DataLoader(ds, 11).Count);
    }

    [Fact]
    public void DatasetsWithoutABatchPathAreStacked()
    {
        var loader = new DataLoader(new SlowDataset(5), 2, prefetch: 0);
        var batches = loader.ToList();
        Assert.Equal([2, 2], batches[0].Input.Shape.ToArray());
        Assert.Equal([1f, 1f, 0f, 0f], new DataLoader(new SlowDataset(5), 2).First().Input.ToArray<float>().Reverse());
        Assert.Equal([[0L, 1], [2, 3], [4]], Targets(loader));
    }

    [Fact]
    public void ShuffleIsReproducibleFromASeedAndDiffersAcrossEpochs()
    {
        var ds = DatasetTests.Range(50);
        var a = new DataLoader(ds, 8, shuffle: true, generator: new Generator(42));
        var b = new DataLoader(ds, 8, shuffle: true, generator: new Generator(42));
        var a0 = Targets(a).SelectMany(x => x).ToArray();
        var a1 = Targets(a).SelectMany(x => x).ToArray();
        Assert.Equal(a0, Targets(b).SelectMany(x => x).ToArray());
        Assert.Equal(a1, Targets(b).SelectMany(x => x).ToArray());
        Assert.NotEqual(a0, a1);
        Assert.NotEqual(Enumerable.Range(0, 50).Select(i => (long)i), a0);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), a0.Order()); // a permutation: every example once
        Assert.Equal(2, a.Epoch);
        var c = new DataLoader(ds, 8, shuffle: true, generator: new Generator(43));
        Assert.NotEqual(a0, Targets(c).SelectMany(x => x).ToArray());
    }

    [Fact]
    public void ResumingFromASavedStateReplaysTheSameBatches()
    {
        var ds = DatasetTests.Range(30);
        var noise = Transforms.From((x, g) => x.Add(Tensor.Rand([.. x.Shape], g)));
        var reference = new DataLoader(ds, 4, shuffle: true, generator: new Generator(7), transform: noise);
        var epochs = new List<float[][]>();
        for (int e = 0; e < 3; e++) epochs.Add(reference.Select(b => b.Input.ToArray<float>()).ToArray());

        // Train one and a half epochs, checkpoint mid-epoch.
        var first = new DataLoader(ds, 4, shuffle: true, generator: new Generator(7), transform: noise);
        _ = first.ToList();
        DataLoaderState? saved = null;
        int seen = 0;
        foreach (var (x, _) in first)
        {
            Assert.Equal(epochs[1][seen], x.ToArray<float>());
            if (++seen == 3)
            {
                saved = first.State;
                break;
            }
        }
        Assert.Equal(new DataLoaderState(1, saved!.Seed, saved.Offset, 3) { Samples = 12 }, saved);

        // A fresh process: other seed, restored state.
        var resumed = new DataLoader(ds, 4, shuffle: true, generator: new Generator(999), transform: noise);
        resumed.LoadState(saved);
        Assert.Equal(saved, resumed.State);
        var rest = resumed.Select(b => b.Input.ToArray<float>()).ToArray();
        Assert.Equal(epochs[1][3..], rest);
        Assert.Equal(2, resumed.Epoch);
        Assert.Equal(epochs[2], resumed.Select(b => b.Input.ToArray<float>()).ToArray());

        // A state taken between epochs resumes at the next epoch's start.
        var between = new DataLoader(ds, 4, shuffle: true, generator: new Generator(7), transform: noise);
        _ = between.ToList();
        var again = new DataLoader(ds, 4, shuffle: true, generator: new Generator(0), transform: noise);
        again.LoadState(between.State);
        Assert.Equal(epochs[1], again.Select(b => b.Input.ToArray<float>()).ToArray());
    }

    [Fact]
    public void RandomTransformsDoNotDependOnPrefetchDepth()
    {
        var ds = DatasetTests.Range(40);
        var noise = Transforms.Compose(Transforms.From((x, g) => x.Add(Tensor.Randn([.. x.Shape], g))), Transforms.From((x, g) => x.Mul(1 + g.NextDouble())));
        float[][] Run(int prefetch) => new DataLoader(ds, 6, shuffle: true, generator: new Generator(5), transform: noise, prefetch: prefetch)
            .Select(b => b.Input.ToArray<float>()).ToArray();
        var sync = Run(0);
        Assert.Equal(sync, Run(1));
        Assert.Equal(sync, Run(4));
        Assert.NotEqual(sync[0], sync[1].Take(sync[0].Length).ToArray());
    }

    [Fact]
    public void PrefetchOverlapsTheTransformWithTheConsumersStep()
    {
        const int Batches = 6, TransformMs = 150, StepMs = 150;
        var slow = Transforms.From((x, _) => { Thread.Sleep(TransformMs); return x; });
        var loader = new DataLoader(DatasetTests.Range(Batches * 2), 2, transform: slow, prefetch: 2);
        var waits = new List<double>();
        var total = Stopwatch.StartNew();
        using (var e = loader.GetEnumerator())
        {
            while (true)
            {
                var wait = Stopwatch.StartNew();
                if (!e.MoveNext()) break;
                waits.Add(wait.Elapsed.TotalMilliseconds);
                Thread.Sleep(StepMs); // the training step
            }
        }
        Assert.Equal(Batches, waits.Count);
        // After the first batch the next one is ready when the step ends; without overlap each wait would be >= TransformMs.
        Assert.True(waits.Skip(1).Max() < TransformMs * 2 / 3, $"waits: {string.Join(", ", waits.Select(w => w.ToString("F0")))} ms");
        // Serial: Batches * (TransformMs + StepMs) = 1800 ms; overlapped: about TransformMs + Batches * StepMs = 1050 ms.
        Assert.True(total.ElapsedMilliseconds < 1500, $"{total.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void ExceptionsReachTheConsumerAfterTheGoodBatches(int prefetch)
    {
        var loader = new DataLoader(new SlowDataset(10, failAt: 5), 2, prefetch: prefetch);
        var got = new List<long[]>();
        var e = Assert.Throws<InvalidOperationException>(() => { foreach (var b in loader) got.Add(b.Target.ToArray<long>()); });
        Assert.Equal("example 5 is corrupt", e.Message);
        Assert.Equal([[0L, 1], [2, 3]], got);

        var failing = Transforms.From((_, _) => throw new ArithmeticException("augmentation failed"));
        Assert.Throws<ArithmeticException>(() => new DataLoader(DatasetTests.Range(4), 2, transform: failing, prefetch: prefetch).ToList());
        // The loader is still usable afterwards.
        Assert.Equal(5, new DataLoader(new SlowDataset(10), 2, prefetch: prefetch).ToList().Count);
    }

    [Fact]
    public void BreakingEarlyStopsTheWorkerWithoutHanging()
    {
        var ds = new SlowDataset(200, sleepMs: 2);
        var loader = new DataLoader(ds, 10, prefetch: 2);
        var sw = Stopwatch.StartNew();
        foreach (var _ in loader) break;
        Assert.True(sw.ElapsedMilliseconds < 2000, $"{sw.ElapsedMilliseconds} ms");
        int afterBreak = ds.Gets;
        Assert.True(afterBreak <= 50, $"{afterBreak} examples were read for one consumed batch"); // 1 consumed + 2 queued + 1 in hand
        Thread.Sleep(100);
        Assert.Equal(afterBreak, ds.Gets); // the worker has stopped
        Assert.Equal(1, loader.Epoch);

        // The next enumeration is a fresh epoch and runs to the end.
        Assert.Equal(20, loader.ToList().Count);
    }

    [Fact]
    public void AnAbandonedEnumerationIsSupersededByTheNextOne()
    {
        var loader = new DataLoader(DatasetTests.Range(20), 5, shuffle: true, generator: new Generator(1));
        var old = loader.GetEnumerator();
        Assert.True(old.MoveNext());
        Assert.Equal(4, loader.ToList().Count); // a new epoch; the old worker was stopped
        var e = Assert.Throws<InvalidOperationException>(() => old.MoveNext());
        Assert.Contains("superseded", e.Message);
        old.Dispose();
        Assert.Equal(2, loader.Epoch);
    }

    [Fact]
    public void EnumeratorsThatAreNeverDisposedDoNotLeakWorkers()
    {
        var ds = new SlowDataset(10_000);
        WeakReference Start()
        {
            var loader = new DataLoader(ds, 10, prefetch: 2);
            var e = loader.GetEnumerator();
            e.MoveNext();
            return new WeakReference(loader);
        }
        var weak = Start();
        for (int i = 0; i < 5 && weak.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(50);
        }
        GC.Collect();
        int gets = ds.Gets;
        Thread.Sleep(100);
        Assert.Equal(gets, ds.Gets); // the worker is not producing any more
        Assert.True(gets < 100, $"{gets} examples read");
    }

    [Fact]
    public void LoadStateLeavesAGeneratorItDoesNotUseAlone()
    {
        var g = new Generator(5);
        Tensor.Rand([3], g);
        var before = g.GetState();
        var loader = new DataLoader(DatasetTests.Range(4), 2, generator: g);
        loader.LoadState(new DataLoaderState(3, 99, 0, 1));
        Assert.Equal(before, g.GetState());
        Assert.Equal([[2L, 3]], Targets(loader)); // resumes after batch 1 of epoch 3
        Assert.Equal(4, loader.Epoch);
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        var ds = DatasetTests.Range(3);
        Assert.Contains("batch size must be positive, got 0", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 0)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 1, prefetch: -1));
        var loader = new DataLoader(ds, 1);
        Assert.Contains("past the 3 batches", Assert.Throws<ArgumentException>(() => loader.LoadState(new DataLoaderState(0, 1, 0, 4))).Message);
        Assert.Throws<NotSupportedException>(() => loader.GetEnumerator().Reset());
    }
}
