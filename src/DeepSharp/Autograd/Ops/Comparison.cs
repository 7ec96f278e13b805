using System.Numerics;

namespace DeepSharp;

// Comparisons (bool masks), logical ops, where, masked_fill and dtype conversion.
public sealed partial class Tensor
{
    private enum CompareKind { Eq, Ne, Lt, Le, Gt, Ge }

    /// <summary>Elementwise this == other with broadcasting, as a bool tensor (torch.eq). Both tensors must have the same dtype.</summary>
    public Tensor Eq(Tensor other) => Compare(other, CompareKind.Eq, "eq");
    /// <summary>Elementwise this != other with broadcasting, as a bool tensor.</summary>
    public Tensor Ne(Tensor other) => Compare(other, CompareKind.Ne, "ne");
    /// <summary>Elementwise this &lt; other with broadcasting, as a bool tensor. Not defined for bool tensors.</summary>
    public Tensor Lt(Tensor other) => Compare(other, CompareKind.Lt, "lt");
    /// <summary>Elementwise this &lt;= other with broadcasting, as a bool tensor. Not defined for bool tensors.</summary>
    public Tensor Le(Tensor other) => Compare(other, CompareKind.Le, "le");
    /// <summary>Elementwise this &gt; other with broadcasting, as a bool tensor. Not defined for bool tensors.</summary>
    public Tensor Gt(Tensor other) => Compare(other, CompareKind.Gt, "gt");
    /// <summary>Elementwise this &gt;= other with broadcasting, as a bool tensor. Not defined for bool tensors.</summary>
    public Tensor Ge(Tensor other) => Compare(other, CompareKind.Ge, "ge");

    /// <summary>Elementwise this == s, as a bool tensor; the scalar is first converted to this tensor's dtype.</summary>
    public Tensor Eq(double s) => Compare(ScalarLike(s), CompareKind.Eq, "eq");
    /// <summary>Elementwise this != s, as a bool tensor; the scalar is first converted to this tensor's dtype.</summary>
    public Tensor Ne(double s) => Compare(ScalarLike(s), CompareKind.Ne, "ne");
    /// <summary>Elementwise this &lt; s, as a bool tensor; the scalar is first converted to this tensor's dtype.</summary>
    public Tensor Lt(double s) => Compare(ScalarLike(s), CompareKind.Lt, "lt");
    /// <summary>Elementwise this &lt;= s, as a bool tensor; the scalar is first converted to this tensor's dtype.</summary>
    public Tensor Le(double s) => Compare(ScalarLike(s), CompareKind.Le, "le");
    /// <summary>Elementwise this &gt; s, as a bool tensor; the scalar is first converted to this tensor's dtype.</summary>
    public Tensor Gt(double s) => Compare(ScalarLike(s), CompareKind.Gt, "gt");
    /// <summary>Elementwise this &gt;= s, as a bool tensor; the scalar is first converted to this tensor's dtype.</summary>
    public Tensor Ge(double s) => Compare(ScalarLike(s), CompareKind.Ge, "ge");

    private Tensor ScalarLike(double s) => Scalar(s, DType);

    private Tensor Compare(Tensor other, CompareKind kind, string op)
    {
        CheckSameDType(op, this, other);
        var shape = Shapes.Broadcast(op, ShapeArray, other.ShapeArray);
        var result = Empty(shape, DType.Bool);
        var dst = result.Span<bool>();
        if (DType == DType.Bool)
        {
            if (kind is not (CompareKind.Eq or CompareKind.Ne)) throw new ArgumentException($"{op}: ordering comparisons are not defined for bool tensors");
            var am = Materialize(this, shape);
            var bm = Materialize(other, shape);
            var a = am.ReadSpan<bool>();
            var b = bm.ReadSpan<bool>();
            for (int i = 0; i < dst.Length; i++) dst[i] = (a[i] == b[i]) == (kind == CompareKind.Eq);
            KeepAlive(am, bm);
        }
        else Dispatch.Numeric(op, DType, new CompareRun(Materialize(this, shape), Materialize(other, shape), result, kind));
        KeepAlive(this, other);
        return result;
    }

    private readonly struct CompareRun(Tensor a, Tensor b, Tensor result, CompareKind kind) : INumericKernel
    {
        public void Run<T>() where T : unmanaged, INumber<T>
        {
            var dst = result.Span<bool>();
            var x = a.ReadSpan<T>();
            var y = b.ReadSpan<T>();
            for (int i = 0; i < dst.Length; i++)
            {
                dst[i] = kind switch
                {
                    CompareKind.Eq => x[i] == y[i],
                    CompareKind.Ne => x[i] != y[i],
                    CompareKind.Lt => x[i] < y[i],
                    CompareKind.Le => x[i] <= y[i],
                    CompareKind.Gt => x[i] > y[i],
                    _ => x[i] >= y[i],
                };
            }
            KeepAlive(a, b);
        }
    }

    /// <summary>Elementwise logical not, as a bool tensor; a numeric tensor counts as true where it is not zero.</summary>
    public Tensor LogicalNot()
    {
        var m = AsBool();
        var result = EmptyLike(m);
        var mc = m.ContiguousData();
        var s = mc.ReadSpan<bool>();
        var d = result.Span<bool>();
        for (int i = 0; i < d.Length; i++) d[i] = !s[i];
        KeepAlive(m, mc);
        return result;
    }

    /// <summary>Elementwise logical and with broadcasting, as a bool tensor; numeric tensors count as true where not zero.</summary>
    public Tensor LogicalAnd(Tensor other) => Logical(other, "logical_and", static (a, b) => a && b);

    /// <summary>Elementwise logical or with broadcasting, as a bool tensor; numeric tensors count as true where not zero.</summary>
    public Tensor LogicalOr(Tensor other) => Logical(other, "logical_or", static (a, b) => a || b);

    private Tensor Logical(Tensor other, string op, Func<bool, bool, bool> fn)
    {
        var shape = Shapes.Broadcast(op, ShapeArray, other.ShapeArray);
        var am = Materialize(AsBool(), shape);
        var bm = Materialize(other.AsBool(), shape);
        var result = Empty(shape, DType.Bool);
        var a = am.ReadSpan<bool>();
        var b = bm.ReadSpan<bool>();
        var d = result.Span<bool>();
        for (int i = 0; i < d.Length; i++) d[i] = fn(a[i], b[i]);
        KeepAlive(am, bm);
        return result;
    }

    private Tensor AsBool() => DType == DType.Bool ? this : Ne(0.0);

    /// <summary>True if any element is nonzero.</summary>
    public bool Any() => ContainsBool("any", true);

    /// <summary>True if every element is nonzero.</summary>
    public bool All() => !ContainsBool("all", false);

    private bool ContainsBool(string op, bool value)
    {
        var m = AsBool().ContiguousData();
        bool found = m.ReadSpan<bool>().Contains(value);
        KeepAlive(m);
        return found;
    }

    /// <summary>Elementwise cond ? a : b with broadcasting between all three.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        if (condition.DType != DType.Bool) throw new ArgumentException($"where: condition must be a bool tensor, got {condition.DType.Name()}");
        CheckSameDType("where", a, b);
        var shape = Shapes.Broadcast("where", Shapes.Broadcast("where", condition.ShapeArray, a.ShapeArray), b.ShapeArray);
        var c = Materialize(condition, shape);
        var result = Empty(shape, a.DType);
        var am = Materialize(a, shape);
        var bm = Materialize(b, shape);
        Dispatch.Any(a.DType, new SelectWhere(c, am, bm, result));
        KeepAlive(condition, c, am, bm);
        if (Autograd.ShouldRecord(a, b)) result.GradFn = new WhereBackward(condition, a, b);
        return result;
    }

    /// <summary>dst = condition ? a : b, all four of the same shape.</summary>
    private readonly struct SelectWhere(Tensor condition, Tensor a, Tensor b, Tensor dst) : IElementKernel
    {
        public void Run<T>() where T : unmanaged
        {
            var c = condition.ReadSpan<bool>();
            var x = a.ReadSpan<T>();
            var y = b.ReadSpan<T>();
            var d = dst.Span<T>();
            for (int i = 0; i < d.Length; i++) d[i] = c[i] ? x[i] : y[i];
        }
    }

    private sealed class WhereBackward(Tensor condition, Tensor a, Tensor b) : Node(a, b)
    {
        private readonly int[] _aShape = a.ShapeArray, _bShape = b.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var zero = Scalar(0, g.DType);
            return
            [
                NeedsGrad(0) ? Autograd.SumToShape(Where(condition, g, zero), _aShape) : null,
                NeedsGrad(1) ? Autograd.SumToShape(Where(condition, zero, g), _bShape) : null,
            ];
        }
    }

    /// <summary>A copy with <paramref name="value"/> where <paramref name="mask"/> (broadcast to this shape) is true.</summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        if (mask.DType != DType.Bool) throw new ArgumentException($"masked_fill: mask must be a bool tensor, got {mask.DType.Name()}");
        var shape = Shapes.Broadcast("masked_fill", ShapeArray, mask.ShapeArray);
        if (!shape.AsSpan().SequenceEqual(ShapeArray))
            throw new ArgumentException($"masked_fill: mask of shape {Shapes.Format(mask.ShapeArray)} would enlarge the tensor of shape {Shapes.Format(ShapeArray)}");
        var result = Where(mask, Scalar(value, DType), Detach());
        if (Autograd.ShouldRecord(this)) result.GradFn = new MaskedFillBackward(this, mask);
        return result;
    }

    private sealed class MaskedFillBackward(Tensor x, Tensor mask) : Node(x)
    {
        protected internal override Tensor?[] Backward(Tensor g) => [g.MaskedFill(mask, 0)];
    }

    /// <summary>Converts to another dtype (a copy; this tensor itself when the dtype already matches).
    /// Between float32 and float64 the gradient is converted back.</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var src = ContiguousData();
        var result = Empty((int[])ShapeArray.Clone(), dtype);
        switch ((DType, dtype))
        {
            case (DType.Float32, DType.Float64): // widening is exact
                System.Numerics.Tensors.TensorPrimitives.ConvertChecked(src.ReadSpan<float>(), result.Span<double>());
                break;
            case (DType.Float64, DType.Float32): Convert<double, float>(src, result); break;
            case (DType.Float32, DType.Int64): Convert<float, long>(src, result); break;
            case (DType.Float64, DType.Int64): Convert<double, long>(src, result); break;
            case (DType.Int64, DType.Float32): Convert<long, float>(src, result); break;
            case (DType.Int64, DType.Float64): Convert<long, double>(src, result); break;
            case (DType.Bool, DType.Float32): FromBool<float>(src, result); break;
            case (DType.Bool, DType.Float64): FromBool<double>(src, result); break;
            case (DType.Bool, DType.Int64): FromBool<long>(src, result); break;
            case (DType.Float32, DType.Bool): ToBool<float>(src, result); break;
            case (DType.Float64, DType.Bool): ToBool<double>(src, result); break;
            case (DType.Int64, DType.Bool): ToBool<long>(src, result); break;
        }
        KeepAlive(src);
        if (dtype.IsFloatingPoint() && Autograd.ShouldRecord(this)) result.GradFn = new ToBackward(this);
        return result;

        // C# cast semantics: float64 -> float32 rounds to nearest, floating -> int64 truncates toward zero (saturating, NaN -> 0).
        static void Convert<TFrom, TTo>(Tensor src, Tensor dst) where TFrom : unmanaged, System.Numerics.INumber<TFrom> where TTo : unmanaged, System.Numerics.INumber<TTo> =>
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating(src.ReadSpan<TFrom>(), dst.Span<TTo>());

        // A bool element is one byte holding 0 or 1.
        static void FromBool<TTo>(Tensor src, Tensor dst) where TTo : unmanaged, System.Numerics.INumber<TTo> =>
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating(System.Runtime.InteropServices.MemoryMarshal.Cast<bool, byte>(src.ReadSpan<bool>()), dst.Span<TTo>());

        static void ToBool<TFrom>(Tensor src, Tensor dst) where TFrom : unmanaged, System.Numerics.INumber<TFrom>
        {
            var s = src.ReadSpan<TFrom>();
            var d = dst.Span<bool>();
            for (int i = 0; i < d.Length; i++) d[i] = s[i] != TFrom.Zero;
        }
    }

    private sealed class ToBackward(Tensor x) : Node(x)
    {
        private readonly DType _dtype = x.DType;

        protected internal override Tensor?[] Backward(Tensor g) => [g.To(_dtype)];
    }

    /// <summary>Converts to float32 (To(DType.Float32)).</summary>
    public Tensor Float() => To(DType.Float32);
    /// <summary>Converts to float64 (To(DType.Float64)).</summary>
    public Tensor Double() => To(DType.Float64);
    /// <summary>Converts to int64 (To(DType.Int64)).</summary>
    public Tensor Long() => To(DType.Int64);
}
