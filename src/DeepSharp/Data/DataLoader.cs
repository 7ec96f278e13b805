using System.Collections;
using System.Runtime.ExceptionServices;

namespace DeepSharp.Data;

/// <summary>
/// Iterates a dataset in mini-batches of (input, target), stacked along a new dim 0. Each
/// enumeration is one epoch.
/// <list type="bullet">
/// <item>Shuffling draws a fresh permutation per epoch from the generator (Generator.Default when
/// none is given), so a seed reproduces every epoch's order, and no two epochs share one.</item>
/// <item>With <c>prefetch</c> &gt; 0, a background thread builds the next batches (and runs the
/// transform) into a queue of that many batches while the consumer runs its step. Its exceptions
/// are rethrown by MoveNext, in batch order. Disposing the enumerator (e.g. <c>break</c> in a
/// foreach) stops the worker and waits for the batch it is building.</item>
/// <item>The transform gets, for each batch, a generator seeded from the epoch's draw and the position of the batch's
/// first example in the epoch's order (with a sampler: in the order all ranks share): augmentation is reproducible and
/// independent of timing and prefetch depth, and ranks augment differently.</item>
/// <item><see cref="State"/>/<see cref="LoadState"/> save and restore the position for checkpoints, also in examples of
/// the epoch's order (<see cref="DataLoaderState.Samples"/>), so that a loader with another batch size or world size resumes it.</item>
/// <item>With a <see cref="DistributedSampler"/>, each epoch's order is cut to this rank's shard (data-parallel
/// training: every rank draws the same order from the same seed).</item>
/// </list>
/// Generator use per epoch: a permutation of Count values when shuffling, then one value when there
/// is a transform; nothing otherwise. The generator is only touched on the enumerating thread, when
/// the epoch starts. Give the loader its own generator for reproducible runs: Generator.Default is
/// shared with every op that is given none, and LoadState rewinds the generator it uses.
/// </summary>
public sealed class DataLoader : IEnumerable<(Tensor Input, Tensor Target)>
{
    private readonly Generator _generator;
    private int _epoch;
    private int _resumeSamples; // examples of the next epoch's order consumed before it starts (a resumed position)
    private Pipeline? _active;
    private int _consumed;      // batches of the active epoch handed out, counted from its start as if it had not been resumed
    private int _start;         // examples of the active epoch's order consumed before this enumeration began
    private int _firstBatch;    // the value of _consumed when this enumeration began
    private (ulong Seed, long Offset) _epochStart;

    /// <summary>Creates a loader over <paramref name="dataset"/> (PyTorch's <c>DataLoader(dataset, batch_size, shuffle, drop_last)</c>).</summary>
    /// <param name="dataset">The examples; an <see cref="IBatchDataset"/> builds each batch in one call.</param>
    /// <param name="batchSize">Examples per batch; the last one may be smaller unless <paramref name="dropLast"/>.</param>
    /// <param name="shuffle">Draw a new permutation each epoch instead of reading in index order.</param>
    /// <param name="dropLast">Skip the last batch of an epoch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="generator">Source of the shuffling and transform seeds; null uses Generator.Default.</param>
    /// <param name="transform">Applied to each input batch on the worker thread (e.g. augmentation).</param>
    /// <param name="prefetch">Batches the background worker may build ahead; 0 builds them in MoveNext.</param>
    /// <param name="sampler">This rank's shard for data-parallel training; null reads the whole dataset.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive or <paramref name="prefetch"/> is negative.</exception>
    public DataLoader(IDataset dataset, int batchSize, bool shuffle = false, bool dropLast = false, Generator? generator = null,
        ITransform? transform = null, int prefetch = 2, DistributedSampler? sampler = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader: batch size must be positive, got {batchSize}");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), $"DataLoader: prefetch must be 0 (no background worker) or more, got {prefetch}");
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Transform = transform;
        Prefetch = prefetch;
        Sampler = sampler;
        _generator = generator ?? Generator.Default;
    }

    /// <summary>The dataset the batches are read from.</summary>
    public IDataset Dataset { get; }

    /// <summary>Examples per batch (the last batch of an epoch may be smaller unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch reads the examples in a fresh random order.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether the last, smaller batch of an epoch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>Applied to each input batch on the worker (targets are left as they are).</summary>
    public ITransform? Transform { get; }

    /// <summary>How many finished batches the worker may queue ahead (0: batches are built in MoveNext).</summary>
    public int Prefetch { get; }

    /// <summary>The generator that draws each epoch's permutation and transform seed.</summary>
    public Generator Generator => _generator;

    /// <summary>This rank's share of each epoch in data-parallel training (null: the whole dataset).</summary>
    public DistributedSampler? Sampler { get; }

    /// <summary>Examples per epoch: the dataset's, or this rank's shard of it.</summary>
    public int Examples => Sampler?.Count(Dataset.Count) ?? Dataset.Count;

    /// <summary>Batches per epoch: ceil(Examples / BatchSize), or floor with DropLast.</summary>
    public int Count => DropLast ? Examples / BatchSize : (int)(((long)Examples + BatchSize - 1) / BatchSize);

    /// <summary>The epoch in progress, or the next one when no enumeration is running (0-based).</summary>
    public int Epoch => _epoch;

    /// <summary>
    /// The position to resume from: during an enumeration, the epoch's start state and the number of
    /// batches handed out so far; between enumerations, the start of the next epoch.
    /// </summary>
    public DataLoaderState State => _active is not null
        ? new DataLoaderState(_epoch, _epochStart.Seed, _epochStart.Offset, _consumed) { Samples = SamplesAfter(_consumed - _firstBatch) }
        : new DataLoaderState(_epoch, _generator.Seed, _generator.Offset, Count - RemainingBatches(_resumeSamples)) { Samples = _resumeSamples };

    /// <summary>Examples of the shared order consumed once <paramref name="batches"/> batches of the active enumeration are out (all ranks together).</summary>
    private long SamplesAfter(int batches) => Math.Min(Dataset.Count, _start + (long)batches * BatchSize * (Sampler?.WorldSize ?? 1));

    /// <summary>Batches of an epoch left after <paramref name="start"/> examples of its order are consumed.</summary>
    private int RemainingBatches(int start)
    {
        int examples = Sampler?.Count(Dataset.Count, start) ?? Dataset.Count - start;
        return DropLast ? examples / BatchSize : (int)(((long)examples + BatchSize - 1) / BatchSize);
    }

    /// <summary>Restores a saved position: the next enumeration replays that epoch from that batch on.</summary>
    public void LoadState(DataLoaderState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Epoch < 0 || state.Batch < 0 || state.Offset < 0 || state.Samples < 0)
            throw new ArgumentException($"DataLoader.LoadState: epoch, batch, offset and samples must be non-negative, got {state}");
        if (state.Samples is long samples && samples > Dataset.Count)
            throw new ArgumentException($"DataLoader.LoadState: position {samples} is past the {Dataset.Count} examples of an epoch (was the state saved with another dataset?)");
        if (state.Samples is null && state.Batch > Count)
            throw new ArgumentException($"DataLoader.LoadState: batch {state.Batch} is past the {Count} batches of an epoch (was the state saved with another dataset or batch size?)");
        End();
        // A loader that draws nothing must not rewind a generator others may share (e.g. Generator.Default).
        if (Shuffle || Transform is not null) _generator.SetState((state.Seed, state.Offset));
        _epoch = state.Epoch;
        // Without a position in examples (an older state), the batch counts in this loader's own units.
        _resumeSamples = (int)(state.Samples ?? Math.Min(Dataset.Count, (long)state.Batch * BatchSize * (Sampler?.WorldSize ?? 1)));
    }

    /// <summary>Starts a new epoch (ending any unfinished one) and yields its batches: inputs and targets stacked along a new dim 0.</summary>
    public IEnumerator<(Tensor Input, Tensor Target)> GetEnumerator()
    {
        End(); // a new epoch supersedes an unfinished enumeration
        _epochStart = _generator.GetState();
        int n = Dataset.Count;
        int[] order = Shuffle ? _generator.Permutation(n) : Identity(n);
        _start = Math.Min(_resumeSamples, n);
        _resumeSamples = 0;
        order = Sampler is not null ? Sampler.Shard(order, _start) : order[_start..];
        ulong epochSeed = Transform is null ? 0 : _generator.Bits(_generator.Reserve(1));
        int batches = RemainingBatches(_start);
        _firstBatch = _consumed = Count - batches;
        _active = new Pipeline(this, order, epochSeed, batches);
        return new Enumerator(this, _active);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Finishes the current epoch, if any: stops its worker and moves to the next epoch.</summary>
    private void End()
    {
        if (_active is null) return;
        _active.Stop(wait: true);
        _active = null;
        _consumed = 0;
        _epoch++;
    }

    private static int[] Identity(int n)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        return order;
    }

    /// <summary>Batch b of this enumeration: gather (or get and stack) the examples, then transform the inputs.</summary>
    private (Tensor Input, Tensor Target) MakeBatch(int[] order, int b, ulong epochSeed, int epochStart)
    {
        using var _ = Autograd.NoGrad(); // loading and augmentation are never part of a model's graph
        int start = b * BatchSize;
        var indices = order.AsSpan(start, Math.Min(BatchSize, order.Length - start));
        var (input, target) = DatasetChecks.Batch(Dataset, indices);
        if (Transform is not null)
        {
            // The position of the batch's first example in the order all ranks share: ranks augment differently, and a
            // resumed epoch (any batch size or world size) seeds by the same rule.
            long position = Sampler is null ? epochStart + (long)b * BatchSize : epochStart + (long)b * BatchSize * Sampler.WorldSize + Sampler.Rank;
            input = Transform.Apply(input, new Generator(BatchSeed(epochSeed, position)))
                ?? throw new InvalidOperationException($"DataLoader: the transform returned null for batch {b}");
        }
        return (input, target);
    }

    /// <summary>SplitMix64 of (epoch seed, position): well-separated seeds for neighbouring batches.</summary>
    private static ulong BatchSeed(ulong epochSeed, long position)
    {
        ulong z = epochSeed + (ulong)(position + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// One epoch's batch production. The worker thread references only this object (never the
    /// enumerator), so an enumerator dropped without Dispose is finalized, which stops the worker.
    /// </summary>
    private sealed class Pipeline
    {
        private readonly DataLoader _loader;
        private readonly int[] _order;
        private readonly ulong _epochSeed;
        private readonly int _batches;
        private readonly int _start;
        private readonly BoundedQueue<(Tensor, Tensor)>? _queue;
        private readonly Thread? _worker;
        private ExceptionDispatchInfo? _error;
        private int _next; // next batch to build (synchronous mode) or to hand out

        public Pipeline(DataLoader loader, int[] order, ulong epochSeed, int batches)
        {
            _loader = loader;
            _order = order;
            _epochSeed = epochSeed;
            _batches = batches;
            _start = loader._start;
            if (loader.Prefetch > 0 && batches > 0)
            {
                _queue = new BoundedQueue<(Tensor, Tensor)>(loader.Prefetch);
                _worker = new Thread(Produce) { IsBackground = true, Name = "DeepSharp DataLoader worker" };
                _worker.Start();
            }
        }

        public bool Finished { get; private set; }

        private void Produce()
        {
            try
            {
                for (int b = _next; b < _batches && !_queue!.IsCancelled; b++)
                    if (!_queue.TryAdd(_loader.MakeBatch(_order, b, _epochSeed, _start))) break;
            }
            catch (Exception e)
            {
                _error = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                _queue!.Complete();
            }
        }

        public bool TryNext(out (Tensor, Tensor) batch)
        {
            if (Finished || _next >= _batches) return Finish(out batch);
            if (_queue is null)
            {
                batch = _loader.MakeBatch(_order, _next, _epochSeed, _start);
            }
            else if (!_queue.TryTake(out batch))
            {
                _error?.Throw(); // the worker failed: rethrow with its original stack trace
                return Finish(out batch);
            }
            _next++;
            return true;
        }

        private bool Finish(out (Tensor, Tensor) batch)
        {
            Finished = true;
            batch = default;
            return false;
        }

        /// <summary>Stops the worker; with <paramref name="wait"/>, joins it (it finishes the batch in hand first).</summary>
        public void Stop(bool wait)
        {
            Finished = true;
            if (_queue is null) return;
            _queue.Cancel();
            if (wait && _worker is not null && _worker != Thread.CurrentThread) _worker.Join();
        }
    }

    private sealed class Enumerator(DataLoader loader, Pipeline pipeline) : IEnumerator<(Tensor Input, Tensor Target)>
    {
        private bool _disposed;
        private bool _ended;

        public (Tensor Input, Tensor Target) Current { get; private set; }

        object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ended) return false;
            if (!ReferenceEquals(loader._active, pipeline))
                throw new InvalidOperationException("DataLoader: this enumeration was superseded by a newer one (or by LoadState); each enumeration is one epoch, and only the latest one can be read");
            if (!pipeline.TryNext(out var batch))
            {
                _ended = true;
                loader.End();
                return false;
            }
            Current = batch;
            loader._consumed++;
            return true;
        }

        public void Reset() => throw new NotSupportedException("DataLoader: enumerate the loader again to start a new epoch");

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            if (ReferenceEquals(loader._active, pipeline)) loader.End();
            else pipeline.Stop(wait: true);
            GC.SuppressFinalize(this);
        }

        // Abandoned without Dispose: stop the worker so it does not wait on the queue forever.
        ~Enumerator() => pipeline.Stop(wait: false);
    }
}
