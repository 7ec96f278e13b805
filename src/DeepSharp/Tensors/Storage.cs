namespace DeepSharp;

/// <summary>
/// A flat buffer of elements shared by a tensor and all of its views. The version counter is
/// shared with the views too: autograd compares it to refuse in-place changes to saved values.
/// </summary>
internal abstract class Storage
{
    /// <summary>Bumped by every in-place write through any tensor that uses this storage.</summary>
    public int Version;

    public abstract DType DType { get; }

    /// <summary>Number of usable elements (the backing array may be longer when pooled).</summary>
    public abstract int Length { get; }

    public static Storage Allocate(DType dtype, int length, bool zeroed) => dtype switch
    {
        DType.Float32 => Storage<float>.Allocate(length, zeroed),
        DType.Float64 => Storage<double>.Allocate(length, zeroed),
        DType.Int64 => Storage<long>.Allocate(length, zeroed),
        DType.Bool => Storage<bool>.Allocate(length, zeroed),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };
}

internal class Storage<T> : Storage where T : unmanaged
{
    private static readonly DType s_dtype = DTypeExtensions.Of<T>();

    public readonly T[] Data;
    private readonly int _length;

    public Storage(T[] data, int length)
    {
        Data = data;
        _length = length;
    }

    public override DType DType => s_dtype;

    public override int Length => _length;

    public static Storage<T> Allocate(int length, bool zeroed)
    {
        if (!BufferPool<T>.ShouldPool(length))
        {
            var array = length == 0 ? [] : new T[length];
            if (!zeroed && PoolDiagnostics.Poison) PoolDiagnostics.Fill(array.AsSpan()); // as a pooled buffer would be: not zero
            return new Storage<T>(array, length);
        }
        var data = BufferPool<T>.Rent(length);
        if (zeroed) Array.Clear(data, 0, length);
        return new PooledStorage<T>(data, length);
    }
}

/// <summary>
/// Storage whose large array came from <see cref="BufferPool{T}"/>. When the storage becomes
/// unreachable its finalizer hands the array back, so users never need to Dispose tensors and
/// steady-state training reuses the same large buffers instead of growing the large-object heap.
/// </summary>
internal sealed class PooledStorage<T> : Storage<T> where T : unmanaged
{
    public PooledStorage(T[] data, int length) : base(data, length) { }

    ~PooledStorage() => BufferPool<T>.Return(Data);
}
