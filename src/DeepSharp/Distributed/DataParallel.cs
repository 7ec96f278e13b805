using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using DeepSharp.NN;

namespace DeepSharp.Distributed;

/// <summary>
/// Data-parallel training in the style of PyTorch's DistributedDataParallel: every rank holds a full copy of the model,
/// trains on its own shard of each batch, and the ranks average their gradients before each optimizer step, so that all
/// copies take the same step and stay identical.
/// <list type="bullet">
/// <item><see cref="BroadcastState"/> copies rank 0's parameters and buffers to the others (once at the start).</item>
/// <item>Gradients travel in buckets of about <c>bucketBytes</c>, filled in reverse registration order (the order in
/// which backward produces them). A hook on each parameter (<see cref="Tensor.RegisterPostAccumulateGradHook"/>)
/// copies its gradient into its bucket as soon as it is final; a full bucket starts a non-blocking allreduce at once,
/// so communication overlaps the rest of backward. Buckets start in index order on every rank, as MPI requires.</item>
/// <item><see cref="SynchronizeGradients"/>, after backward, starts any bucket still open (parameters backward did not
/// reach count as zero), waits for all, and writes the average over ranks into each .Grad.</item>
/// <item><see cref="BeginStep"/> broadcasts rank 0's buffers (batch-norm running statistics) before each forward,
/// as DDP does by default, so that every copy evaluates the same, and reseeds the <see cref="RankGenerators"/> (dropout)
/// from (<see cref="Seed"/>, rank, step): a run resumed from a checkpoint at any world size draws by the same rule, and
/// at the same world size exactly what the uninterrupted run would have drawn.</item>
/// <item><see cref="Statistics"/> accumulates, per step, forward+backward time, the allreduce time left exposed after
/// backward, each bucket's time in flight and the bytes sent, from which the overlap follows.</item>
/// </list>
/// Float32 parameters only (the library's training dtype).
/// </summary>
public sealed class DataParallel : IDisposable
{
    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private readonly Module _model;
    private readonly Bucket[] _buckets;
    private readonly Dictionary<Tensor, (Bucket Bucket, int Offset)> _slots = new(ReferenceEqualityComparer.Instance);
    private readonly List<HookHandle> _hooks = [];
    private int _nextToStart; // buckets start strictly in index order
    private long _stepStart;  // timestamp of BeginStep (the forward starts)
    private double _broadcastSeconds; // this step's buffer broadcast
    private long _broadcastBytes;
    private DataParallelStatistics _statistics = DataParallelStatistics.Zero;

    /// <summary>Wraps <paramref name="model"/> for data-parallel training over <paramref name="communicator"/> and hooks every trainable parameter.</summary>
    /// <param name="model">This rank's copy of the model.</param>
    /// <param name="communicator">The ranks that share the training.</param>
    /// <param name="bucketBytes">Gradient bytes per allreduce bucket (default 25 MiB, as DDP).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bucketBytes"/> is not positive.</exception>
    /// <exception cref="NotSupportedException">A trainable parameter is not contiguous float32.</exception>
    public DataParallel(Module model, Communicator communicator, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(communicator);
        if (bucketBytes <= 0) throw new ArgumentOutOfRangeException(nameof(bucketBytes), $"DataParallel: bucket size must be positive, got {bucketBytes} bytes");
        _model = model;
        Communicator = communicator;
        BucketBytes = bucketBytes;
        var trainable = model.NamedParameters().Where(p => p.Parameter.RequiresGrad).ToList();
        foreach (var (name, p) in trainable)
            if (p.DType != DType.Float32 || !p.IsContiguous)
                throw new NotSupportedException($"DataParallel: parameter '{name}' is {p.DType.Name()}{(p.IsContiguous ? "" : ", not contiguous")}; only contiguous float32 parameters are supported");
        _buckets = MakeBuckets(trainable.Select(p => p.Parameter).Reverse().ToList(), bucketBytes / sizeof(float));
        foreach (var bucket in _buckets)
        {
            int offset = 0;
            foreach (var p in bucket.Parameters)
            {
                _slots[p] = (bucket, offset);
                offset += p.Numel;
                _hooks.Add(p.RegisterPostAccumulateGradHook(OnGradientReady));
            }
        }
    }

    /// <summary>The communicator the gradients are averaged over.</summary>
    public Communicator Communicator { get; }

    /// <summary>The bucket capacity asked for, in bytes (a parameter larger than it gets a bucket of its own).</summary>
    public long BucketBytes { get; }

    /// <summary>Number of gradient buckets (the allreduce calls per step).</summary>
    public int Buckets => _buckets.Length;

    /// <summary>Gradient bytes each rank sends into the allreduce per step (the payload; MPI's algorithm decides the traffic).</summary>
    public long GradientBytesPerStep => _buckets.Sum(b => (long)b.Buffer.Length * sizeof(float));

    /// <summary>Buckets whose allreduce was started from a hook, during backward (the rest start in SynchronizeGradients).</summary>
    public long BucketsStartedDuringBackward { get; private set; }

    /// <summary>Steps synchronized so far.</summary>
    public long Steps => _statistics.Steps;

    /// <summary>
    /// Time spent in <see cref="SynchronizeGradients"/>, after backward: the communication not hidden behind backward
    /// (plus copying the averages into .Grad).
    /// </summary>
    public double SynchronizeSeconds => _statistics.SynchronizeSeconds;

    /// <summary>This rank's time and traffic summed over the steps so far (subtract an earlier value for an interval).</summary>
    public DataParallelStatistics Statistics => _statistics;

    /// <summary>
    /// Generators each rank reseeds in <see cref="BeginStep(long)"/> from (<see cref="Seed"/>, rank, step): the dropout
    /// generator (Generator.Default), so that ranks drop different units and a resumed run, at any world size, draws by a
    /// rule that needs no saved per-rank state. Empty by default (nothing reseeded).
    /// </summary>
    public IReadOnlyList<Generator> RankGenerators { get; init; } = [];

    /// <summary>The run's seed that <see cref="RankGenerators"/> are derived from.</summary>
    public ulong Seed { get; init; }

    /// <summary>The seed rank <paramref name="rank"/> gives generator <paramref name="index"/> of <see cref="RankGenerators"/> before step <paramref name="step"/> (SplitMix64 of the four).</summary>
    public static ulong RankSeed(ulong seed, int rank, long step, int index)
    {
        ulong z = seed;
        foreach (ulong v in (ReadOnlySpan<ulong>)[(ulong)rank, (ulong)step, (ulong)index])
        {
            z += (v + 1) * 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
        }
        return z;
    }

    /// <summary>Copies rank 0's parameters and buffers into every rank's model.</summary>
    public void BroadcastState()
    {
        foreach (var (name, p) in _model.NamedParameters()) Broadcast(name, p);
        BroadcastBuffers();
    }

    /// <summary>
    /// Call before each forward of optimizer step <paramref name="step"/> (the number of steps taken before it): broadcasts
    /// rank 0's buffers, reseeds <see cref="RankGenerators"/> and forgets the previous step's gradients.
    /// </summary>
    public void BeginStep(long step)
    {
        long start = Stopwatch.GetTimestamp();
        _broadcastBytes = BroadcastBuffers();
        _broadcastSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        for (int i = 0; i < RankGenerators.Count; i++) RankGenerators[i].ManualSeed(RankSeed(Seed, Communicator.Rank, step, i));
        foreach (var bucket in _buckets) bucket.Reset();
        _nextToStart = 0;
        _stepStart = Stopwatch.GetTimestamp();
    }

    /// <summary>Call after backward, before the optimizer step: every .Grad then holds the mean of the ranks' gradients.</summary>
    public void SynchronizeGradients()
    {
        long start = Stopwatch.GetTimestamp();
        double compute = _stepStart == 0 ? 0 : Stopwatch.GetElapsedTime(_stepStart, start).TotalSeconds;
        double exposed = 0, inFlight = 0;
        foreach (var bucket in _buckets)
        {
            if (bucket.Ready == bucket.Parameters.Length) continue;
            // Parameters that backward did not reach (unused layers) contribute zeros.
            foreach (var p in bucket.Parameters)
                if (!bucket.Filled.Contains(p)) Fill(bucket, p, _slots[p].Offset);
        }
        StartReadyBuckets();
        float scale = 1f / Communicator.Size;
        foreach (var bucket in _buckets)
        {
            long waiting = Stopwatch.GetTimestamp();
            bucket.Request!.Wait();
            long done = Stopwatch.GetTimestamp();
            exposed += Stopwatch.GetElapsedTime(waiting, done).TotalSeconds;
            bucket.Done = bucket.Done == 0 ? done : bucket.Done; // finished during backward when a test saw it
            inFlight += Stopwatch.GetElapsedTime(bucket.Started, bucket.Done).TotalSeconds;
            int offset = 0;
            foreach (var p in bucket.Parameters)
            {
                var mean = bucket.Buffer.AsSpan(offset, p.Numel);
                offset += p.Numel;
                if (p.Grad is not { IsContiguous: true } grad) p.Grad = grad = Tensor.Zeros(p.ShapeArray);
                TensorPrimitives.Multiply(mean, scale, grad.Span<float>());
                grad.BumpVersion();
            }
        }
        foreach (var bucket in _buckets) bucket.Reset();
        _nextToStart = 0;
        _stepStart = 0;
        _statistics += new DataParallelStatistics(1, compute, exposed, inFlight, Stopwatch.GetElapsedTime(start).TotalSeconds, GradientBytesPerStep, _buckets.Length,
            _broadcastSeconds, _broadcastBytes);
        (_broadcastSeconds, _broadcastBytes) = (0, 0);
    }

    /// <summary>Sums values over all ranks (metrics: loss sums, sample and correct counts).</summary>
    public double[] Sum(params double[] values)
    {
        Communicator.AllreduceSum(values.AsSpan());
        return values;
    }

    /// <summary>Removes the gradient hooks.</summary>
    public void Dispose()
    {
        foreach (var h in _hooks) h.Dispose();
        _hooks.Clear();
    }

    private void OnGradientReady(Tensor parameter)
    {
        var (bucket, offset) = _slots[parameter];
        if (bucket.Filled.Contains(parameter)) return;
        Fill(bucket, parameter, offset);
        if (bucket.Ready == bucket.Parameters.Length)
        {
            int before = _nextToStart;
            StartReadyBuckets();
            BucketsStartedDuringBackward += _nextToStart - before;
        }
        // MPI progresses non-blocking collectives inside MPI calls: give the ones in flight a turn.
        for (int i = 0; i < _nextToStart; i++)
            if (_buckets[i].Done == 0 && _buckets[i].Request!.Test()) _buckets[i].Done = Stopwatch.GetTimestamp();
    }

    private static void Fill(Bucket bucket, Tensor parameter, int offset)
    {
        var slot = bucket.Buffer.AsSpan(offset, parameter.Numel);
        if (parameter.Grad is { } g) g.Contiguous().ReadSpan<float>().CopyTo(slot);
        else slot.Clear();
        bucket.Filled.Add(parameter);
        bucket.Ready = bucket.Filled.Count;
    }

    private void StartReadyBuckets()
    {
        while (_nextToStart < _buckets.Length && _buckets[_nextToStart] is { } b && b.Ready == b.Parameters.Length)
        {
            b.Started = Stopwatch.GetTimestamp();
            b.Request = Communicator.IallreduceSum(b.Buffer.AsMemory());
            _nextToStart++;
        }
    }

    /// <summary>Broadcasts rank 0's buffers; returns their bytes.</summary>
    private long BroadcastBuffers()
    {
        long bytes = 0;
        foreach (var (name, b) in _model.NamedBuffers())
        {
            Broadcast(name, b);
            bytes += (long)b.Numel * b.DType.ElementSize();
        }
        return bytes;
    }

    private void Broadcast(string name, Tensor t)
    {
        if (!t.IsContiguous) throw new NotSupportedException($"DataParallel: '{name}' is not contiguous and cannot be broadcast in place");
        switch (t.DType)
        {
            case DType.Float32: Communicator.Broadcast(t.Span<float>()); break;
            case DType.Float64: Communicator.Broadcast(t.Span<double>()); break;
            case DType.Int64: Communicator.Broadcast(t.Span<long>()); break;
            default: Communicator.Broadcast(MemoryMarshal.AsBytes(t.Span<bool>())); break;
        }
        t.BumpVersion();
    }

    /// <summary>Consecutive parameters (in backward order) grouped until a bucket reaches its capacity in elements.</summary>
    private static Bucket[] MakeBuckets(List<Tensor> parameters, long capacity)
    {
        var buckets = new List<Bucket>();
        var current = new List<Tensor>();
        long size = 0;
        foreach (var p in parameters)
        {
            if (current.Count > 0 && size + p.Numel > capacity)
            {
                buckets.Add(new Bucket([.. current], (int)size));
                current.Clear();
                size = 0;
            }
            current.Add(p);
            size += p.Numel;
        }
        if (current.Count > 0) buckets.Add(new Bucket([.. current], (int)size));
        return [.. buckets];
    }

    private sealed class Bucket(Tensor[] parameters, int elements)
    {
        public readonly Tensor[] Parameters = parameters;
        public readonly float[] Buffer = GC.AllocateArray<float>(elements, pinned: true); // MPI reads it while backward runs
        public readonly HashSet<Tensor> Filled = new(ReferenceEqualityComparer.Instance);
        public int Ready;
        public MpiRequest? Request;
        public long Started, Done; // timestamps of the allreduce's start and of when it was seen complete (0: not yet)

        public void Reset()
        {
            Request?.Wait(); // never leave a collective behind
            Request = null;
            Filled.Clear();
            Ready = 0;
            Started = Done = 0;
        }
    }
}

/// <summary>
/// One rank's time and traffic in data-parallel steps (sums over <see cref="Steps"/>; subtract two values for an interval).
/// </summary>
/// <param name="Steps">Optimizer steps synchronized.</param>
/// <param name="ComputeSeconds">Forward and backward: from <see cref="DataParallel.BeginStep"/> to <see cref="DataParallel.SynchronizeGradients"/> (the hooks' copies into the buckets included).</param>
/// <param name="ExposedSeconds">Waiting for the allreduces in SynchronizeGradients, after backward: communication not hidden behind backward (with waiting for a slower rank).</param>
/// <param name="AllreduceSeconds">Each bucket's allreduce from its start until it was seen complete, summed over buckets (completion is seen when a hook tests it or when SynchronizeGradients waits, so this is an upper bound).</param>
/// <param name="SynchronizeSeconds">All of SynchronizeGradients: the exposed wait plus starting the last buckets and writing the means into .Grad.</param>
/// <param name="Bytes">Gradient bytes this rank put into allreduces (the payload; MPI's algorithm decides the traffic on the wire).</param>
/// <param name="Allreduces">Bucket allreduces started.</param>
/// <param name="BroadcastSeconds">Broadcasting rank 0's buffers (batch-norm statistics) before each forward: communication outside <paramref name="Bytes"/>, never overlapped.</param>
/// <param name="BroadcastBytes">Buffer bytes broadcast (0 for a model without buffers).</param>
public sealed record DataParallelStatistics(long Steps, double ComputeSeconds, double ExposedSeconds, double AllreduceSeconds, double SynchronizeSeconds, long Bytes, long Allreduces,
    double BroadcastSeconds = 0, long BroadcastBytes = 0)
{
    /// <summary>No steps yet.</summary>
    public static DataParallelStatistics Zero { get; } = new(0, 0, 0, 0, 0, 0, 0);

    /// <summary>
    /// The fraction of allreduce time hidden behind backward: 1 - exposed / allreduce time, in [0, 1] (0 before any
    /// communication). One bucket that fills only when backward ends overlaps nothing.
    /// </summary>
    public double Overlap => AllreduceSeconds > 0 ? Math.Clamp(1 - ExposedSeconds / AllreduceSeconds, 0, 1) : 0;

    /// <summary>Sums two intervals.</summary>
    public static DataParallelStatistics operator +(DataParallelStatistics a, DataParallelStatistics b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(a.Steps + b.Steps, a.ComputeSeconds + b.ComputeSeconds, a.ExposedSeconds + b.ExposedSeconds, a.AllreduceSeconds + b.AllreduceSeconds,
            a.SynchronizeSeconds + b.SynchronizeSeconds, a.Bytes + b.Bytes, a.Allreduces + b.Allreduces, a.BroadcastSeconds + b.BroadcastSeconds, a.BroadcastBytes + b.BroadcastBytes);
    }

    /// <summary>The interval between an earlier value <paramref name="b"/> and a later <paramref name="a"/>.</summary>
    public static DataParallelStatistics operator -(DataParallelStatistics a, DataParallelStatistics b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(a.Steps - b.Steps, a.ComputeSeconds - b.ComputeSeconds, a.ExposedSeconds - b.ExposedSeconds, a.AllreduceSeconds - b.AllreduceSeconds,
            a.SynchronizeSeconds - b.SynchronizeSeconds, a.Bytes - b.Bytes, a.Allreduces - b.Allreduces, a.BroadcastSeconds - b.BroadcastSeconds, a.BroadcastBytes - b.BroadcastBytes);
    }

    /// <summary>Per-step means in milliseconds, bytes per step and the overlap, on one line.</summary>
    public override string ToString()
    {
        double n = Math.Max(1, Steps);
        string buffers = BroadcastBytes > 0
            ? FormattableString.Invariant($"; buffers broadcast before forward {1000 * BroadcastSeconds / n:F2} ms, {BroadcastBytes / n / 1024:F1} KiB per step")
            : "";
        return FormattableString.Invariant(
            $"{Steps} steps: compute (forward+backward) {1000 * ComputeSeconds / n:F2} ms, allreduce in flight {1000 * AllreduceSeconds / n:F2} ms, ") +
            FormattableString.Invariant($"exposed after backward {1000 * ExposedSeconds / n:F2} ms (synchronize {1000 * SynchronizeSeconds / n:F2} ms) per step; ") +
            FormattableString.Invariant($"{Bytes / n / 1024:F0} KiB in {Allreduces / n:F1} allreduce(s) per step; overlap {100 * Overlap:F1} %") + buffers;
    }
}
