using System.Buffers;

namespace DeepSharp.Distributed;

/// <summary>
/// A group of processes that exchange data (an MPI communicator; <see cref="Mpi.Init"/> returns MPI_COMM_WORLD).
/// Every rank must make the same collective calls in the same order with the same counts, as MPI requires.
/// Reductions are sums in place: float32, float64 and int64 (exact for integers; for floats the order of
/// additions is MPI's, the same on every rank and from run to run for the same world size).
/// </summary>
public sealed unsafe class Communicator
{
    private readonly Mpi.Api _api;
    private readonly nint _comm;

    internal Communicator(Mpi.Api api, nint comm)
    {
        _api = api;
        _comm = comm;
        int rank, size;
        api.Check(api.CommRank(comm, &rank), "MPI_Comm_rank");
        api.Check(api.CommSize(comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    /// <summary>This process's index, 0 to Size - 1.</summary>
    public int Rank { get; }

    /// <summary>Number of processes.</summary>
    public int Size { get; }

    /// <summary>Rank 0 prints and writes files; the others compute.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Returns once every rank has called it.</summary>
    public void Barrier() => _api.Check(_api.Barrier(_comm), "MPI_Barrier");

    /// <summary>Copies <paramref name="root"/>'s buffer into every other rank's (any unmanaged element type, sent as bytes).</summary>
    public void Broadcast<T>(Span<T> buffer, int root = 0) where T : unmanaged
    {
        CheckRoot(root);
        long bytes = (long)buffer.Length * sizeof(T);
        fixed (T* p = buffer)
        {
            // Chunks below 2^31 bytes: MPI counts are ints.
            for (long done = 0; done < bytes; done += int.MaxValue)
                _api.Check(_api.Bcast((byte*)p + done, (int)Math.Min(int.MaxValue, bytes - done), _api.Byte, root, _comm), "MPI_Bcast");
        }
    }

    /// <summary>Replaces every element with its sum over all ranks (MPI_Allreduce, MPI_SUM, in place).</summary>
    public void AllreduceSum(Span<float> values) => Allreduce(values, _api.Float);

    /// <inheritdoc cref="AllreduceSum(Span{float})"/>
    public void AllreduceSum(Span<double> values) => Allreduce(values, _api.Double);

    /// <inheritdoc cref="AllreduceSum(Span{float})"/>
    public void AllreduceSum(Span<long> values) => Allreduce(values, _api.Int64);

    /// <summary>
    /// Starts summing <paramref name="values"/> over all ranks in place (MPI_Iallreduce) and returns at once; the
    /// buffer stays pinned and must not be read or written until the request's Wait (or a true Test).
    /// </summary>
    public MpiRequest IallreduceSum(Memory<float> values) => Iallreduce(values, _api.Float);

    /// <inheritdoc cref="IallreduceSum(Memory{float})"/>
    public MpiRequest IallreduceSum(Memory<double> values) => Iallreduce(values, _api.Double);

    /// <inheritdoc cref="IallreduceSum(Memory{float})"/>
    public MpiRequest IallreduceSum(Memory<long> values) => Iallreduce(values, _api.Int64);

    /// <summary>
    /// Gathers every rank's <paramref name="send"/> into <paramref name="receive"/>, rank r's block at r * send.Length
    /// (MPI_Allgather; receive must hold Size * send.Length elements).
    /// </summary>
    public void Allgather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length != (long)send.Length * Size)
            throw new ArgumentException($"Allgather: the receive buffer holds {receive.Length} elements; expected {Size} ranks x {send.Length} = {(long)send.Length * Size}");
        int bytes = CheckedCount((long)send.Length * sizeof(T), "Allgather");
        fixed (T* s = send)
        fixed (T* r = receive)
            _api.Check(_api.Allgather(s, bytes, _api.Byte, r, bytes, _api.Byte, _comm), "MPI_Allgather");
    }

    /// <summary>Every rank's value, indexed by rank.</summary>
    public long[] Allgather(long value)
    {
        var all = new long[Size];
        Allgather([value], all);
        return all;
    }

    private void Allreduce<T>(Span<T> values, nint datatype) where T : unmanaged
    {
        int count = CheckedCount(values.Length, "Allreduce");
        if (count == 0) return; // every rank has the same count, so every rank skips
        fixed (T* p = values)
            _api.Check(_api.Allreduce(InPlace, p, count, datatype, _api.OpSum, _comm), "MPI_Allreduce");
    }

    private MpiRequest Iallreduce<T>(Memory<T> values, nint datatype) where T : unmanaged
    {
        int count = CheckedCount(values.Length, "Iallreduce");
        MemoryHandle pin = values.Pin();
        nint request;
        int code = _api.Iallreduce(InPlace, pin.Pointer, count, datatype, _api.OpSum, _comm, &request);
        if (code != 0) pin.Dispose();
        _api.Check(code, "MPI_Iallreduce");
        return new MpiRequest(_api, request, pin);
    }

    /// <summary>MPI_IN_PLACE in Open MPI's mpi.h.</summary>
    private static void* InPlace => (void*)1;

    private static int CheckedCount(long count, string call) => count <= int.MaxValue ? (int)count
        : throw new ArgumentException($"{call}: {count} elements exceed MPI's int count; split the buffer");

    private void CheckRoot(int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), $"Broadcast: root {root} is not a rank of this {Size}-process communicator");
    }
}

/// <summary>A non-blocking collective in flight; its buffer stays pinned until it completes.</summary>
public sealed unsafe class MpiRequest
{
    private readonly Mpi.Api _api;
    private nint _request;
    private MemoryHandle _pin;

    internal MpiRequest(Mpi.Api api, nint request, MemoryHandle pin)
    {
        _api = api;
        _request = request;
        _pin = pin;
    }

    /// <summary>Whether the operation has completed (set by <see cref="Wait"/> or <see cref="Test"/>).</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>Blocks until the operation is complete (MPI_Wait); the buffer then holds the result.</summary>
    public void Wait()
    {
        if (IsCompleted) return;
        nint r = _request;
        _api.Check(_api.Wait(&r, null), "MPI_Wait"); // null is MPI_STATUS_IGNORE
        Complete(r);
    }

    /// <summary>Drives MPI's progress and says whether the operation is complete (MPI_Test) without blocking.</summary>
    public bool Test()
    {
        if (IsCompleted) return true;
        nint r = _request;
        int flag;
        _api.Check(_api.Test(&r, &flag, null), "MPI_Test");
        if (flag != 0) Complete(r);
        return IsCompleted;
    }

    private void Complete(nint request)
    {
        _request = request; // MPI sets it to MPI_REQUEST_NULL
        _pin.Dispose();
        _pin = default;
        IsCompleted = true;
    }
}
