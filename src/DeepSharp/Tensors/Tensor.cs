namespace DeepSharp;

/// <summary>
/// An n-dimensional array with a layout (shape, strides, offset) over a shared <see cref="Storage"/>,
/// and the autograd state that records how it was computed. Ops live in partial files by family
/// (forward next to backward) under Autograd/Ops; this file holds only the core.
/// </summary>
public sealed partial class Tensor
{
    // Not readonly only so that SetData can swap the data under a parameter (PyTorch's p.data = ...).
    internal Storage Storage;

    // Shape, strides and offset: an immutable value; an op that changes them (SetData) replaces the whole layout.
    private Layout _layout;

    internal Tensor(Storage storage, Layout layout)
    {
        Storage = storage;
        _layout = layout;
    }

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
        : this(storage, new Layout(shape, strides, offset))
    {
    }

    /// <summary>Shape, strides and offset of the elements in <see cref="Storage"/>.</summary>
    internal Layout Layout => _layout;

    /// <summary>The dimension sizes (the layout's own array: never modify it).</summary>
    internal int[] ShapeArray => _layout.Shape;

    /// <summary>The element strides (the layout's own array: never modify it).</summary>
    internal int[] StrideArray => _layout.Strides;

    /// <summary>Storage index of the first element.</summary>
    internal int Offset => _layout.Offset;

    /// <summary>A view of the same storage with another layout (not recorded by autograd).</summary>
    internal Tensor WithLayout(Layout layout) => new(Storage, layout);

    /// <summary>A view of the same storage with explicit strides (for kernels that address a known pattern, such as attention heads).</summary>
    internal Tensor ViewOf(int[] shape, int[] strides, int offset) => new(Storage, new Layout(shape, strides, offset));

    /// <summary>
    /// Replaces this tensor's data (storage and layout) with <paramref name="source"/>'s, keeping the
    /// object, its RequiresGrad flag and its hooks: how modules convert parameters between dtypes
    /// in place, so references held by optimizers stay valid (PyTorch's p.data = ...).
    /// </summary>
    public void SetData(Tensor source)
    {
        if (!IsLeaf) throw new InvalidOperationException($"SetData: only leaf tensors can have their data replaced ({Describe()} has a GradFn)");
        if (_requiresGrad && !source.IsFloatingPoint)
            throw new InvalidOperationException($"SetData: a tensor that requires grad needs floating-point data, got {source.DType.Name()}");
        Storage = source.Storage;
        _layout = source._layout;
        if (Grad is not null && (Grad.DType != DType || !Grad.ShapeArray.AsSpan().SequenceEqual(ShapeArray))) Grad = null;
    }

    /// <summary>A new contiguous tensor owning fresh storage (uninitialised unless <paramref name="zeroed"/>).</summary>
    internal static Tensor Empty(int[] shape, DType dtype, bool zeroed = false)
    {
        var layout = Layout.Contiguous(shape);
        return new Tensor(Storage.Allocate(dtype, layout.Numel, zeroed), layout);
    }

    internal static Tensor EmptyLike(Tensor t, bool zeroed = false) => Empty((int[])t.ShapeArray.Clone(), t.DType, zeroed);

    /// <summary>The element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>The size of each dimension. Rank-0 (scalar) tensors have an empty shape.</summary>
    public Shape Shape => Shape.Wrap(ShapeArray);

    /// <summary>Element strides of each dimension (0 on broadcast dimensions).</summary>
    public ReadOnlySpan<int> Strides => StrideArray;

    /// <summary>Index of the first element in the underlying storage (nonzero for some views).</summary>
    public int StorageOffset => Offset;

    /// <summary>Number of dimensions.</summary>
    public int Rank => ShapeArray.Length;

    /// <summary>Total number of elements.</summary>
    public int Numel => _layout.Numel;

    /// <summary>True when the elements lie in row-major order without gaps, so the data can be read as one span.</summary>
    public bool IsContiguous => _layout.IsContiguous;

    /// <summary>True for float32 and float64 tensors.</summary>
    public bool IsFloatingPoint => DType.IsFloatingPoint();

    /// <summary>Size of one dimension (negative dims count from the end).</summary>
    public int Size(int dim) => ShapeArray[Shapes.NormalizeDim("size", dim, Rank)];

    /// <summary>Element stride of one dimension (negative dims count from the end).</summary>
    public int Stride(int dim) => StrideArray[Shapes.NormalizeDim("stride", dim, Rank)];

    /// <summary>The version counter shared with all views; bumped by every in-place write.</summary>
    public int Version => Storage.Version;

    /// <summary>Records an in-place write done directly on the storage (by a fused kernel), so autograd sees saved copies as stale.</summary>
    internal void BumpVersion() => Storage.Version++;

    internal string Describe() => $"{DType.Name()} {Shapes.Format(ShapeArray)}";

    // ---- raw element access (internal; kernels take spans) ----

    internal T[] Array<T>() where T : unmanaged => ((Storage<T>)Storage).Data;

    /// <summary>The elements of a contiguous tensor, in order.</summary>
    internal Span<T> Span<T>() where T : unmanaged
    {
        System.Diagnostics.Debug.Assert(_layout.IsContiguous);
        int numel = _layout.Numel;
        return numel == 0 ? default : new Span<T>(((Storage<T>)Storage).Data, _layout.Offset, numel);
    }

    internal ReadOnlySpan<T> ReadSpan<T>() where T : unmanaged => Span<T>();

    internal void CheckDType<T>(string op) where T : unmanaged
    {
        var want = DTypeExtensions.Of<T>();
        if (DType != want)
            throw new InvalidOperationException($"{op}: tensor is {DType.Name()} but {want.Name()} was requested; convert with .To(DType.{want})");
    }

    /// <summary>Copies the elements out, row-major, as a flat array of the tensor's own element type.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        CheckDType<T>("ToArray");
        var c = ContiguousData();
        var result = c.ReadSpan<T>().ToArray();
        KeepAlive(this, c);
        return result;
    }

    /// <summary>
    /// The single value of a one-element tensor as <typeparamref name="T"/>, converted like PyTorch's <c>item&lt;T&gt;()</c>
    /// when the element type differs: floating point to integers truncates toward zero, anything to bool is "not zero",
    /// and a value <typeparamref name="T"/> cannot hold (out of range, NaN to an integer) is an <see cref="OverflowException"/>.
    /// T is one of double, float, Half, long, int, short, sbyte, ulong, uint, ushort, byte or bool.
    /// </summary>
    public T Item<T>() where T : unmanaged
    {
        if (Numel != 1) throw new InvalidOperationException($"Item: only one-element tensors can be converted to a scalar, got shape {Shapes.Format(ShapeArray)}");
        if (DTypeExtensions.TryOf<T>() == DType) return Array<T>()[Offset];
        return ScalarConversion.To<T>(this, Offset);
    }

    /// <summary>The single value of a one-element tensor of any dtype, as double.</summary>
    public double ToDouble()
    {
        if (Numel != 1) throw new InvalidOperationException($"ToDouble: only one-element tensors can be converted to a scalar, got shape {Shapes.Format(ShapeArray)}");
        return GetAsDouble(Offset);
    }

    /// <summary>The single value of a one-element tensor of any dtype, as float.</summary>
    public float ToSingle() => (float)ToDouble();

    internal double GetAsDouble(int storageIndex) => DType switch
    {
        DType.Float32 => Array<float>()[storageIndex],
        DType.Float64 => Array<double>()[storageIndex],
        DType.Int64 => Array<long>()[storageIndex],
        DType.Bool => Array<bool>()[storageIndex] ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>The elements converted to double (any dtype), row-major. Handy in tests and reports.</summary>
    public double[] ToDoubleArray()
    {
        var result = new double[Numel];
        int i = 0;
        foreach (int idx in StorageIndices()) result[i++] = GetAsDouble(idx);
        return result;
    }

    /// <summary>Storage indices of the elements in row-major order (for slow, generic paths only).</summary>
    internal IEnumerable<int> StorageIndices() => Layout.StorageIndices(_layout);

    /// <summary>
    /// Keeps tensors reachable up to this call. A span or array taken from a tensor does not keep its storage
    /// alive: once the tensor's last reference is gone, a collection may finalize the storage and hand its array
    /// to the next pool renter (possibly another thread) while a kernel still reads it. Code that reads a
    /// temporary through a span (a ContiguousData or Materialize copy, an operand nobody else holds) calls this
    /// after the kernel. The test suite's stress mode (<see cref="PoolDiagnostics.BeforeRent"/> running a full collection) and
    /// poisoned buffers make a missing call show up as NaN.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    internal static void KeepAlive(Tensor? a, Tensor? b = null, Tensor? c = null, Tensor? d = null, Tensor? e = null, Tensor? f = null)
    {
    }

    /// <summary>This tensor if contiguous, else a contiguous copy. Not recorded by autograd.</summary>
    internal Tensor ContiguousData()
    {
        if (_layout.IsContiguous) return this;
        var result = EmptyLike(this);
        CopyElements(this, result);
        return result;
    }
}
