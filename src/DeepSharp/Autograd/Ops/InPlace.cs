using DeepSharp.Kernels;

namespace DeepSharp;

// In-place variants (PyTorch's trailing underscore): add_, sub_, mul_, div_, zero_, fill_, clamp_,
// copy_, relu_. Each bumps the storage's version counter, so a value autograd saved and that is
// changed afterwards is detected at backward time instead of giving a silently wrong gradient.
public sealed partial class Tensor
{
    /// <param name="op">The op name used in error messages.</param>
    /// <param name="sameValueEverywhere">fill_ and zero_ write one value to every element, so an expanded view is fine (as PyTorch).</param>
    private void CheckInPlace(string op, bool sameValueEverywhere = false)
    {
        if (!sameValueEverywhere) CheckNoInternalOverlap(op);
        if (Autograd.IsGradEnabled && IsLeaf && RequiresGrad)
            throw new InvalidOperationException(
                $"{op}: a leaf tensor that requires grad ({Describe()}) is being used in an in-place operation; " +
                "update it inside `using var _ = Autograd.NoGrad();` or use the out-of-place op");
    }

    /// <summary>
    /// Refuses to write into a tensor in which several elements share one memory location (an expanded view,
    /// stride 0 on a dim of size &gt; 1): which write wins would be arbitrary. PyTorch's assert_no_internal_overlap.
    /// </summary>
    private void CheckNoInternalOverlap(string op)
    {
        int d = _layout.ExpandedDim();
        if (d >= 0)
            throw new InvalidOperationException(
                    $"{op}: unsupported operation: more than one element of the written-to tensor refers to a single memory location " +
                    $"({Describe()} with strides {Shapes.Format(StrideArray)}: dimension {d} is expanded). Please Clone() the tensor before performing the operation.");
    }

    /// <summary>
    /// Refuses an in-place op whose input overlaps the written-to tensor only in part (x[1:].AddInPlace(x[:-1])): the result
    /// would depend on the order the kernel visits the elements. Exactly the same elements (x.AddInPlace(x)) are fine.
    /// As PyTorch's assert_no_partial_overlap, only decided for contiguous layouts.
    /// </summary>
    private void CheckNoPartialOverlap(string op, Tensor input)
    {
        if (!ReferenceEquals(Storage, input.Storage) || Numel == 0 || input.Numel == 0 || !IsContiguous || !input.IsContiguous) return;
        int start = Offset, end = Offset + Numel, inStart = input.Offset, inEnd = input.Offset + input.Numel;
        if (start == inStart && end == inEnd) return;
        if (start < inEnd && inStart < end)
            throw new InvalidOperationException(
                $"{op}: unsupported operation: some elements of the input tensor and the written-to tensor refer to a single memory location " +
                $"(input {input.Describe()} at storage offset {inStart}, written-to {Describe()} at storage offset {start}). Please Clone() the input before performing the operation.");
    }

    /// <summary>
    /// Runs an in-place op. Without recording, <paramref name="direct"/> writes into this storage when
    /// it can (contiguous), else the out-of-place result is copied in. When recording, the op runs on
    /// a snapshot that carries this tensor's history and this tensor takes over the result's GradFn.
    /// </summary>
    private Tensor InPlace(string op, bool record, Func<Tensor, Tensor> outOfPlace, Func<bool>? direct = null)
    {
        CheckInPlace(op);
        if (record)
        {
            // A view cannot take over history: the tensor it looks into would keep a stale GradFn.
            if (Offset != 0 || !IsContiguous || Storage.Length != Numel)
                throw new NotSupportedException($"{op}: in-place operations that autograd must record are not supported on views ({Describe()}); use the out-of-place op");
            var snapshot = Clone().Detach();
            snapshot.GradFn = GradFn;
            snapshot._requiresGrad = _requiresGrad;
            snapshot._accumulator = _accumulator;
            var result = outOfPlace(snapshot);
            CopyElements(result, this);
            GradFn = result.GradFn;
        }
        else if (direct is null || !IsContiguous || !direct())
        {
            Tensor result;
            using (Autograd.NoGrad()) result = outOfPlace(this);
            CopyElements(result, this);
        }
        Storage.Version++;
        return this;
    }

    private bool WriteBinary<TOp>(Tensor other) where TOp : INumericBinaryOp
    {
        if (other.DType != DType || !Shapes.Broadcast("in-place", ShapeArray, other.ShapeArray).AsSpan().SequenceEqual(ShapeArray)) return false;
        if (DType == DType.Bool) return false;
        Dispatch.Numeric("in-place", DType, new WriteInto<TOp>(this, other));
        return true;
    }

    /// <summary>x = x op other, other broadcast to x's shape.</summary>
    private readonly struct WriteInto<TOp>(Tensor x, Tensor other) : INumericKernel where TOp : INumericBinaryOp
    {
        public void Run<T>() where T : unmanaged, System.Numerics.INumber<T> => RunBinary<T, NumericKernel<TOp, T>>(x, other, x, default);
    }

    private void CheckInPlaceShape(string op, Tensor other)
    {
        var shape = Shapes.Broadcast(op, ShapeArray, other.ShapeArray);
        if (!shape.AsSpan().SequenceEqual(ShapeArray))
            throw new ArgumentException($"{op}: the result of shape {Shapes.Format(shape)} does not fit in the tensor of shape {Shapes.Format(ShapeArray)}");
    }

    /// <summary>
    /// this += alpha * other, in place (add_). other must broadcast to this tensor's shape.
    /// Returns this tensor.
    /// </summary>
    /// <exception cref="ArgumentException">The broadcast result does not have this tensor's shape.</exception>
    /// <exception cref="InvalidOperationException">
    /// This is a leaf that requires grad while grad mode is on, or other partly overlaps this tensor's memory.
    /// </exception>
    public Tensor AddInPlace(Tensor other, double alpha = 1)
    {
        CheckInPlaceShape("add_", other);
        CheckNoPartialOverlap("add_", other);
        return InPlace("add_", Autograd.ShouldRecord(this, other), t => t.Add(other, alpha),
            () => alpha == 1 && WriteBinary<Add>(other));
    }

    /// <summary>this -= alpha * other, in place (sub_). Returns this tensor.</summary>
    public Tensor SubInPlace(Tensor other, double alpha = 1) => AddInPlace(other, -alpha);

    /// <summary>this *= other, in place (mul_); other must broadcast to this tensor's shape. Returns this tensor.</summary>
    public Tensor MulInPlace(Tensor other)
    {
        CheckInPlaceShape("mul_", other);
        CheckNoPartialOverlap("mul_", other);
        return InPlace("mul_", Autograd.ShouldRecord(this, other), t => t.Mul(other),
            () => WriteBinary<Mul>(other));
    }

    /// <summary>this /= other, in place (div_); floating-point tensors only, other must broadcast to this tensor's shape. Returns this tensor.</summary>
    public Tensor DivInPlace(Tensor other)
    {
        CheckInPlaceShape("div_", other);
        CheckNoPartialOverlap("div_", other);
        return InPlace("div_", Autograd.ShouldRecord(this, other), t => t.Div(other),
            () => IsFloatingPoint && WriteBinary<Div>(other));
    }

    /// <summary>Adds a scalar to every element in place (add_). Returns this tensor.</summary>
    public Tensor AddInPlace(double scalar) => InPlace("add_", Autograd.ShouldRecord(this), t => t.Add(scalar));

    /// <summary>Subtracts a scalar from every element in place (sub_). Returns this tensor.</summary>
    public Tensor SubInPlace(double scalar) => AddInPlace(-scalar);

    /// <summary>Multiplies every element by a scalar in place (mul_). Returns this tensor.</summary>
    public Tensor MulInPlace(double scalar) => InPlace("mul_", Autograd.ShouldRecord(this), t => t.Mul(scalar));

    /// <summary>Divides every element by a scalar in place (div_); floating-point tensors only. Returns this tensor.</summary>
    public Tensor DivInPlace(double scalar) => InPlace("div_", Autograd.ShouldRecord(this), t => t.Div(scalar));

    /// <summary>Clamps every element into [min, max] in place (clamp_); a null bound is not applied. Returns this tensor.</summary>
    public Tensor ClampInPlace(double? min = null, double? max = null) => InPlace("clamp_", Autograd.ShouldRecord(this), t => t.Clamp(min, max));

    /// <summary>Replaces negative elements by zero in place (relu_). Returns this tensor.</summary>
    public Tensor ReluInPlace() => InPlace("relu_", Autograd.ShouldRecord(this), t => t.Relu());

    /// <summary>Sets every element to zero.</summary>
    public Tensor Zero() => Fill(0);

    /// <summary>
    /// Sets every element to <paramref name="value"/>. The tensor's history is cut (as for PyTorch's fill_, its gradient is zero).
    /// Allowed on expanded views, as in PyTorch: every write stores the same value.
    /// </summary>
    public Tensor Fill(double value)
    {
        CheckInPlace("fill_", sameValueEverywhere: true);
        if (IsContiguous) FillRaw(value);
        else CopyElements(Scalar(value, DType), new int[Rank], this);
        if (GradFn is not null) GradFn = new FillBackward();
        Storage.Version++;
        return this;
    }

    private sealed class FillBackward() : Node(0)
    {
        public override string Name => "FillBackward";

        protected internal override Tensor?[] Backward(Tensor g) => [];
    }

    /// <summary>Copies src (broadcast to this shape, same dtype or converted) into this tensor.</summary>
    public Tensor CopyFrom(Tensor src)
    {
        CheckInPlaceShape("copy_", src);
        CheckNoInternalOverlap("copy_");
        CheckNoPartialOverlap("copy_", src);
        var converted = src.DType == DType ? src : src.To(DType);
        return InPlace("copy_", Autograd.ShouldRecord(converted), _ => converted.Expand(ShapeArray).Clone(),
            () =>
            {
                CopyElements(converted, converted.Layout.BroadcastStrides(ShapeArray), this);
                return true;
            });
    }

    /// <summary>this += g without autograd checks (gradient accumulation in the engine).</summary>
    internal void AddInPlaceRaw(Tensor g)
    {
        if (!WriteBinary<Add>(g))
            throw new InvalidOperationException($"gradient accumulation: cannot add [{g.Describe()}] into [{Describe()}]");
        Storage.Version++;
    }
}
