using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

/// <summary>
/// The elementwise engine: dtype dispatch and broadcasting. Common layouts (same shape, scalar
/// operand, bias-like trailing or leading broadcast) run the span kernel directly on the
/// operands; anything else is first materialised contiguously. Not recorded by autograd:
/// the differentiable ops in Autograd/Ops call these and attach their nodes.
/// </summary>
public sealed partial class Tensor
{
    internal static void CheckSameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtype mismatch: {a.DType.Name()} {Shapes.Format(a.ShapeArray)} and {b.DType.Name()} {Shapes.Format(b.ShapeArray)}; convert one explicitly with .To(DType.{a.DType})");
    }

    internal void RequireFloat(string op)
    {
        if (!IsFloatingPoint)
            throw new ArgumentException($"{op}: expected a floating-point tensor (float32 or float64), got {DType.Name()} {Shapes.Format(ShapeArray)}");
    }

    internal static Tensor BinaryNumeric<TF, TD, TL>(string op, Tensor a, Tensor b, TF f, TD d, TL l)
        where TF : struct, IBinarySpanOp<float> where TD : struct, IBinarySpanOp<double> where TL : struct, IBinarySpanOp<long>
    {
        CheckSameDType(op, a, b);
        var result = Empty(Shapes.Broadcast(op, a.ShapeArray, b.ShapeArray), a.DType);
        switch (a.DType)
        {
            case DType.Float32: RunBinary<float, TF>(a, b, result, f); break;
            case DType.Float64: RunBinary<double, TD>(a, b, result, d); break;
            case DType.Int64: RunBinary<long, TL>(a, b, result, l); break;
            default: throw new ArgumentException($"{op}: not supported for bool tensors; convert with .To(DType.Float32)");
        }
        return result;
    }

    internal static Tensor BinaryFloat<TF, TD>(string op, Tensor a, Tensor b, TF f, TD d)
        where TF : struct, IBinarySpanOp<float> where TD : struct, IBinarySpanOp<double>
    {
        CheckSameDType(op, a, b);
        a.RequireFloat(op);
        var result = Empty(Shapes.Broadcast(op, a.ShapeArray, b.ShapeArray), a.DType);
        if (a.DType == DType.Float32) RunBinary<float, TF>(a, b, result, f);
        else RunBinary<double, TD>(a, b, result, d);
        return result;
    }

    /// <summary>tensor op scalar for floating-point tensors only (the op has no integer form).</summary>
    internal static Tensor ScalarFloat<TF, TD>(string op, Tensor x, double s, TF f, TD d)
        where TF : struct, IBinarySpanOp<float> where TD : struct, IBinarySpanOp<double>
    {
        if (x.DType is not (DType.Float32 or DType.Float64))
            throw new ArgumentException($"{op}: needs a float32 or float64 tensor, got {x.DType.Name()}; convert with .To(DType.Float32)");
        return ScalarNumeric(op, x, s, false, f, d, default(NoIntegerOp));
    }

    /// <summary>Stands in for the integer kernel of a float-only op; <see cref="ScalarFloat"/> never lets it run.</summary>
    private readonly struct NoIntegerOp : IBinarySpanOp<long>
    {
        public void Apply(ReadOnlySpan<long> x, ReadOnlySpan<long> y, Span<long> dst) => throw new System.Diagnostics.UnreachableException();
        public void Apply(ReadOnlySpan<long> x, long y, Span<long> dst) => throw new System.Diagnostics.UnreachableException();
        public void Apply(long x, ReadOnlySpan<long> y, Span<long> dst) => throw new System.Diagnostics.UnreachableException();
    }

    /// <summary>x op s (or s op x when <paramref name="scalarFirst"/>) with a C# scalar converted to x's dtype.</summary>
    internal static Tensor ScalarNumeric<TF, TD, TL>(string op, Tensor x, double s, bool scalarFirst, TF f, TD d, TL l)
        where TF : struct, IBinarySpanOp<float> where TD : struct, IBinarySpanOp<double> where TL : struct, IBinarySpanOp<long>
    {
        var xc = x.ContiguousData();
        var result = EmptyLike(x);
        if (x.Numel == 0) return result;
        switch (x.DType)
        {
            case DType.Float32: Apply(xc.ReadSpan<float>(), (float)s, result.Span<float>(), f); break;
            case DType.Float64: Apply(xc.ReadSpan<double>(), s, result.Span<double>(), d); break;
            case DType.Int64:
                if (s != Math.Floor(s)) throw new ArgumentException($"{op}: int64 tensor with non-integral scalar {s}; convert the tensor to float first");
                Apply(xc.ReadSpan<long>(), (long)s, result.Span<long>(), l);
                break;
            default: throw new ArgumentException($"{op}: not supported for bool tensors");
        }
        KeepAlive(x, xc); // x or its contiguous copy may be a temporary only the spans point into
        return result;

        void Apply<T, TOp>(ReadOnlySpan<T> xs, T scalar, Span<T> dst, TOp o) where TOp : struct, IBinarySpanOp<T>
        {
            if (scalarFirst) o.Apply(scalar, xs, dst);
            else o.Apply(xs, scalar, dst);
        }
    }

    /// <summary>f(x) for a float32 or float64 tensor, f a TensorPrimitives function named once for both.</summary>
    internal static Tensor Unary<TOp>(string op, Tensor x) where TOp : IFloatSpanFunction
    {
        x.RequireFloat(op);
        var xc = x.ContiguousData();
        var result = EmptyLike(x);
        if (x.Numel > 0) Dispatch.Float(x.DType, new SpanFunctionKernel<TOp>(xc, result));
        KeepAlive(x, xc);
        return result;
    }

    private readonly struct SpanFunctionKernel<TOp>(Tensor x, Tensor dst) : IFloatKernel where TOp : IFloatSpanFunction
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => TOp.Apply(x.ReadSpan<T>(), dst.Span<T>());
    }

    /// <summary>f(x) for a float32 or float64 tensor, f an operator named once (<c>Map&lt;Step&gt;("step", x)</c>) with parameters p, q.</summary>
    internal static Tensor Map<TOp>(string op, Tensor x, double p = 0, double q = 0) where TOp : IFloatUnaryFunction
    {
        x.RequireFloat(op);
        var xc = x.ContiguousData();
        var result = EmptyLike(x);
        Dispatch.Float(x.DType, new UnaryFunctionKernel<TOp>(xc, result, p, q));
        KeepAlive(x, xc);
        return result;
    }

    private readonly struct UnaryFunctionKernel<TOp>(Tensor x, Tensor dst, double p, double q) : IFloatKernel where TOp : IFloatUnaryFunction
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Vectorized.Map(x.ReadSpan<T>(), dst.Span<T>(), new FloatUnary<TOp, T>(T.CreateTruncating(p), T.CreateTruncating(q)));
    }

    /// <summary>f(x, y) over two same-shaped float tensors (a gradient formula over g and a saved value), f named once.</summary>
    internal static Tensor Map<TOp>(string op, Tensor x, Tensor y, double p = 0, double q = 0) where TOp : IFloatBinaryFunction
    {
        x.RequireFloat(op);
        CheckSameDType(op, x, y);
        var xc = x.ContiguousData();
        var yc = y.ContiguousData();
        var result = EmptyLike(y);
        Dispatch.Float(x.DType, new BinaryFunctionKernel<TOp>(xc, yc, result, p, q));
        KeepAlive(x, xc, y, yc);
        return result;
    }

    private readonly struct BinaryFunctionKernel<TOp>(Tensor x, Tensor y, Tensor dst, double p, double q) : IFloatKernel where TOp : IFloatBinaryFunction
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Vectorized.Map(x.ReadSpan<T>(), y.ReadSpan<T>(), dst.Span<T>(), new FloatBinary<TOp, T>(T.CreateTruncating(p), T.CreateTruncating(q)));
    }

    /// <summary>Runs a binary span op into the contiguous <paramref name="dst"/> whose shape is the broadcast shape.</summary>
    internal static void RunBinary<T, TOp>(Tensor a, Tensor b, Tensor dst, TOp op)
        where T : unmanaged where TOp : struct, IBinarySpanOp<T>
    {
        RunBinarySpans<T, TOp>(a, b, dst, op);
        KeepAlive(a, b); // operands may be temporaries of the caller (other.MulRaw(alpha))
    }

    // A residual add or a gradient sum of 128k elements and more (512 KB of float32) is split over the threads that
    // are awake; from 1M elements napping ones are woken.
    private const int ParallelBinaryMinElements = 1 << 17;
    private const int ParallelBinaryWakeElements = 1 << 20;

    /// <summary>op over equal-length spans, in one contiguous part per thread when long (dst may alias a or b index for index).</summary>
    private static unsafe void ApplyInParts<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d, TOp op)
        where T : unmanaged where TOp : struct, IBinarySpanOp<T>
    {
        int parts = WorkerPool.Parts(d.Length, ParallelBinaryMinElements);
        if (parts <= 1)
        {
            op.Apply(a, b, d);
            return;
        }
        fixed (T* pa = a, pb = b, pd = d)
            WorkerPool.For(parts, new BinaryPartsTask<T, TOp>(pa, pb, pd, d.Length, parts, op), d.Length >= ParallelBinaryWakeElements);
    }

    private sealed unsafe class BinaryPartsTask<T, TOp>(T* a, T* b, T* d, int n, int parts, TOp op) : IParallelTask
        where T : unmanaged where TOp : struct, IBinarySpanOp<T>
    {
        public void Run(int index)
        {
            var (start, end) = WorkerPool.Range(index, parts, n, 64);
            op.Apply(new ReadOnlySpan<T>(a + start, end - start), new ReadOnlySpan<T>(b + start, end - start), new Span<T>(d + start, end - start));
        }
    }

    private static void RunBinarySpans<T, TOp>(Tensor a, Tensor b, Tensor dst, TOp op)
        where T : unmanaged where TOp : struct, IBinarySpanOp<T>
    {
        var d = dst.Span<T>();
        int n = d.Length;
        if (n == 0) return;
        bool aFull = a.Numel == n, bFull = b.Numel == n;
        if (aFull && bFull && a.IsContiguous && b.IsContiguous)
        {
            ApplyInParts(a.ReadSpan<T>(), b.ReadSpan<T>(), d, op);
            return;
        }
        if (b.Numel == 1 && aFull)
        {
            var ac = a.ContiguousData();
            op.Apply(ac.ReadSpan<T>(), b.Array<T>()[b.Offset], d);
            KeepAlive(ac);
            return;
        }
        if (a.Numel == 1 && bFull)
        {
            var bc = b.ContiguousData();
            op.Apply(a.Array<T>()[a.Offset], bc.ReadSpan<T>(), d);
            KeepAlive(bc);
            return;
        }
        var shape = dst.ShapeArray;
        if (aFull && a.IsContiguous && b.IsContiguous)
        {
            var av = a.ReadSpan<T>();
            var bv = b.ReadSpan<T>();
            if (IsTrailingBlock(b.ShapeArray, shape))
            {
                int inner = bv.Length;
                for (int o = 0; o < n; o += inner) op.Apply(av.Slice(o, inner), bv, d.Slice(o, inner));
                return;
            }
            if (IsLeadingBlock(b.ShapeArray, shape))
            {
                int inner = n / bv.Length;
                for (int i = 0, o = 0; i < bv.Length; i++, o += inner) op.Apply(av.Slice(o, inner), bv[i], d.Slice(o, inner));
                return;
            }
        }
        if (bFull && b.IsContiguous && a.IsContiguous)
        {
            var av = a.ReadSpan<T>();
            var bv = b.ReadSpan<T>();
            if (IsTrailingBlock(a.ShapeArray, shape))
            {
                int inner = av.Length;
                for (int o = 0; o < n; o += inner) op.Apply(av, bv.Slice(o, inner), d.Slice(o, inner));
                return;
            }
            if (IsLeadingBlock(a.ShapeArray, shape))
            {
                int inner = n / av.Length;
                for (int i = 0, o = 0; i < av.Length; i++, o += inner) op.Apply(av[i], bv.Slice(o, inner), d.Slice(o, inner));
                return;
            }
        }
        var am = Materialize(a, shape);
        var bm = Materialize(b, shape);
        op.Apply(am.ReadSpan<T>(), bm.ReadSpan<T>(), d);
        KeepAlive(am, bm);
    }

    /// <summary>True when <paramref name="small"/> (leading 1s ignored) equals the trailing dims of <paramref name="full"/>: a bias row.</summary>
    private static bool IsTrailingBlock(int[] small, int[] full)
    {
        int s = 0;
        while (s < small.Length && small[s] == 1) s++;
        int len = small.Length - s;
        if (len == 0 || len > full.Length) return false;
        return small.AsSpan(s).SequenceEqual(full.AsSpan(full.Length - len));
    }

    /// <summary>True when <paramref name="small"/>, right-aligned, equals <paramref name="full"/> up to some dim and is 1 after it: a per-row scalar.</summary>
    private static bool IsLeadingBlock(int[] small, int[] full)
    {
        int lead = full.Length - small.Length;
        int last = -1;
        for (int i = 0; i < full.Length; i++)
        {
            int d = i < lead ? 1 : small[i - lead];
            if (d != 1) last = i;
        }
        if (last < 0) return false;
        for (int i = 0; i <= last; i++)
        {
            int d = i < lead ? 1 : small[i - lead];
            if (d != full[i]) return false;
        }
        return true;
    }
}
