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
/// as DDP does by default, so that every copy evaluates the same.</item>
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

    /// <summary>Number of gradient buckets (the allreduce calls per step).</summary>
    public int Buckets => _buckets.Length;

    /// <summary>Gradient bytes each rank sends into the allreduce per step (the payload; MPI's algorithm decides the traffic).</summary>
    public long GradientBytesPerStep => _buckets.Sum(b => (long)b.Buffer.Length * sizeof(float));

    /// <summary>Buckets whose allreduce was started from a hook, during backward (the rest start in SynchronizeGradients).</summary>
    public long BucketsStartedDuringBackward { get; private set; }

    /// <summary>Steps synchronized so far.</summary>
    public long Steps { get; private set; }

    /// <summary>
    /// Time spent in <see cref="SynchronizeGradients"/>, after backward: the communication not hidden behind backward
    /// (plus copying the averages into .Grad).
    /// </summary>
    public double SynchronizeSeconds { get; private set; }

    /// <summary>Copies rank 0's parameters and buffers into every rank's model.</summary>
    public void BroadcastState()
    {
        foreach (var (name, p) in _model.NamedParameters()) Broadcast(name, p);
        BroadcastBuffers();
    }

    /// <summary>Call before each forward: broadcasts rank 0's buffers and forgets the previous step's gradients.</summary>
    public void BeginStep()
    {
        BroadcastBuffers();
        foreach (var bucket in _buckets) bucket.Reset();
        _nextToStart = 0;
    }

    /// <summary>Call after backward, before the optimizer step: every .Grad then holds the mean of the ranks' gradients.</summary>
    public void SynchronizeGradients()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
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
            bucket.Request!.Wait();
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
        Steps++;
        SynchronizeSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
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
        for (int i = 0; i < _nextToStart; i++) _buckets[i].Request!.Test();
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
            b.Request = Communicator.IallreduceSum(b.Buffer.AsMemory());
            _nextToStart++;
        }
    }

    private void BroadcastBuffers()
    {
        foreach (var (name, b) in _model.NamedBuffers()) Broadcast(name, b);
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

        public void Reset()
        {
            Request?.Wait(); // never leave a collective behind
            Request = null;
            Filled.Clear();
            Ready = 0;
        }
    }
}
