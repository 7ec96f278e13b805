using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Reductions over any set of dims with keepDim: sum, mean, max/min (+indices), argmax/argmin,
// var/std, prod, logsumexp, norm. Each forward lays the input out as [outer, r, inner]
// (a free view when the reduced dims are adjacent in a contiguous tensor).
public sealed partial class Tensor
{
    private readonly record struct ReduceLayout(Tensor Source, int Outer, int R, int Inner, int[] KeepShape, int[] OutShape);

    private int[] AllDims()
    {
        var dims = new int[Math.Max(Rank, 1)];
        for (int i = 0; i < Rank; i++) dims[i] = i;
        return Rank == 0 ? [0] : dims;
    }

    /// <summary>Result shapes (with and without kept dims) and reduced element count, without touching data.</summary>
    private (int[] Dims, int[] KeepShape, int[] OutShape, int R) ReduceShapes(string op, int[]? dims, bool keepDim)
    {
        var d = dims is null ? AllDims() : Shapes.NormalizeDims(op, dims, Rank);
        System.Array.Sort(d);
        if (Rank == 0) return (d, [], [], 1);
        var keepShape = (int[])ShapeArray.Clone();
        var outShape = new List<int>();
        int r = 1;
        for (int i = 0; i < Rank; i++)
        {
            if (System.Array.IndexOf(d, i) >= 0)
            {
                keepShape[i] = 1;
                r *= ShapeArray[i];
            }
            else outShape.Add(ShapeArray[i]);
        }
        return (d, keepShape, keepDim ? keepShape : outShape.ToArray(), r);
    }

    private ReduceLayout ReduceLayoutOf(string op, int[]? dims, bool keepDim)
    {
        var (d, keepShape, final, r) = ReduceShapes(op, dims, keepDim);
        if (Rank == 0) return new ReduceLayout(ContiguousData(), 1, 1, 1, keepShape, final);
        int first = d[0], last = d[^1];
        if (last - first + 1 == d.Length)
        {
            int outer = Prod(ShapeArray, 0, first), inner = Prod(ShapeArray, last + 1, Rank);
            return new ReduceLayout(ContiguousData(), outer, r, inner, keepShape, final);
        }
        // Non-adjacent dims: move the reduced dims to the end and copy.
        var perm = new List<int>();
        int kept = 1; // not Numel / r: with an empty reduced dim that would leave the outputs unwritten
        for (int i = 0; i < Rank; i++)
            if (System.Array.IndexOf(d, i) < 0)
            {
                perm.Add(i);
                kept *= ShapeArray[i];
            }
        perm.AddRange(d);
        var moved = PermutedView([.. perm]).ContiguousData();
        return new ReduceLayout(moved, kept, r, 1, keepShape, final);
    }

    private static int Prod(int[] shape, int from, int to)
    {
        int p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return p;
    }

    /// <summary>A permuted view that is not recorded by autograd (for internal layout changes).</summary>
    internal Tensor PermutedView(int[] perm) => WithLayout(_layout.Permute(perm));

    /// <summary>The gradient of a reduction output, broadcast back over the input's shape.</summary>
    private static Tensor ExpandGrad(Tensor g, int[] keepShape, int[] inputShape) =>
        g.Reshape(keepShape).Expand(inputShape);

    // ---- sum / mean ----

    /// <summary>Sum of all elements (rank-0 result). int64 and bool sum to int64.</summary>
    public Tensor Sum() => Sum(null, false);

    /// <summary>Sum over one dim; with <paramref name="keepDim"/> the dim stays with size 1. int64 and bool sum to int64.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Sum over <paramref name="dims"/> (all when null); with <paramref name="keepDim"/> they stay with size 1. int64 and bool sum to int64.</summary>
    public Tensor Sum(int[]? dims, bool keepDim = false)
    {
        var src = DType == DType.Bool ? To(DType.Int64) : this;
        var l = src.ReduceLayoutOf("sum", dims, keepDim);
        var result = Empty(l.OutShape, src.DType);
        Dispatch.Numeric("sum", src.DType, new Reduce(l, result, product: false));
        KeepAlive(src, l.Source); // the layout's source may be a permuted copy only the span points into
        if (Autograd.ShouldRecord(this)) result.GradFn = new SumBackward("SumBackward", this, l.KeepShape, 1);
        return result;
    }

    /// <summary>Mean of all elements (rank-0 result).</summary>
    public Tensor Mean() => Mean(null, false);

    /// <summary>Mean over one dim; floating-point tensors only.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Mean over <paramref name="dims"/> (all when null); floating-point tensors only.</summary>
    /// <exception cref="ArgumentException">The tensor is not floating point.</exception>
    public Tensor Mean(int[]? dims, bool keepDim = false)
    {
        RequireFloat("mean");
        var (_, keepShape, _, r) = ReduceShapes("mean", dims, keepDim);
        bool record = Autograd.ShouldRecord(this);
        Tensor result;
        using (Autograd.NoGrad()) result = Sum(dims, keepDim).MulRaw(1.0 / r);
        if (record) result.GradFn = new SumBackward("MeanBackward", this, keepShape, 1.0 / r);
        return result;
    }

    private sealed class SumBackward(string name, Tensor x, int[] keepShape, double scale) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        public override string Name => name;

        protected internal override Tensor?[] Backward(Tensor g) =>
            [ExpandGrad(scale == 1 ? g : g.MulRaw(scale), keepShape, _shape)];
    }

    // ---- max / min ----

    /// <summary>The largest element (rank-0). Its gradient is shared evenly among ties, as PyTorch.</summary>
    public Tensor Max() => ExtremeAll(max: true);

    /// <summary>The smallest element (rank-0). Its gradient is shared evenly among ties.</summary>
    /// <exception cref="ArgumentException">The tensor is empty.</exception>
    public Tensor Min() => ExtremeAll(max: false);

    private Tensor ExtremeAll(bool max)
    {
        string op = max ? "max" : "min";
        if (Numel == 0) throw new ArgumentException($"{op}: cannot reduce an empty tensor (shape {Shapes.Format(ShapeArray)}) without a dim");
        Tensor values;
        bool record = Autograd.ShouldRecord(this);
        using (Autograd.NoGrad()) values = Flatten().Extreme(0, false, max).Values.Reshape();
        if (record) values.GradFn = new ExtremeAllBackward(this, values, max);
        return values;
    }

    private sealed class ExtremeAllBackward : Node
    {
        private readonly bool _max;

        public ExtremeAllBackward(Tensor x, Tensor value, bool max) : base(x)
        {
            _max = max;
            SaveForBackward(x, value);
        }

        public override string Name => _max ? "MaxBackward" : "MinBackward";

        protected internal override Tensor?[] Backward(Tensor g)
        {
            // The gradient is shared among the elements equal to the result; when the result is NaN (NaN wins, as in
            // PyTorch) those are the NaNs, which Eq never matches: without this every gradient was 0 * inf = NaN.
            var x = Saved(0);
            var v = Saved(1);
            var mask = (double.IsNaN(v.ToDouble()) ? x.Ne(x) : x.Eq(v)).To(g.DType);
            return [mask * (g / mask.Sum())];
        }
    }

    /// <summary>Largest values along a dim and their indices (first occurrence).</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => Extreme(dim, keepDim, max: true);

    /// <summary>Smallest values along a dim and their indices (first occurrence).</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => Extreme(dim, keepDim, max: false);

    private (Tensor Values, Tensor Indices) Extreme(int dim, bool keepDim, bool max)
    {
        string op = max ? "max" : "min";
        var l = ReduceLayoutOf(op, [dim], keepDim);
        if (l.R == 0) throw new ArgumentException($"{op}: cannot reduce over dimension {dim} of size 0 (shape {Shapes.Format(ShapeArray)})");
        var values = Empty(l.OutShape, DType);
        var indices = Empty(l.OutShape, DType.Int64);
        Dispatch.Numeric(op, DType, new ReduceArgExtreme(l, max, values, indices));
        KeepAlive(l.Source);
        if (Autograd.ShouldRecord(this)) values.GradFn = new ExtremeBackward(this, indices, l.Outer, l.R, l.Inner, max);
        return (values, indices);
    }

    /// <summary>Sum or product over the middle axis of an (outer, r, inner) layout.</summary>
    private readonly struct Reduce(ReduceLayout l, Tensor result, bool product) : INumericKernel
    {
        public void Run<T>() where T : unmanaged, INumber<T>
        {
            if (product) ReductionKernels.Prod(l.Source.ReadSpan<T>(), l.Outer, l.R, l.Inner, result.Span<T>());
            else ReductionKernels.Sum(l.Source.ReadSpan<T>(), l.Outer, l.R, l.Inner, result.Span<T>());
        }
    }

    private readonly struct ReduceArgExtreme(ReduceLayout l, bool max, Tensor values, Tensor indices) : INumericKernel
    {
        public void Run<T>() where T : unmanaged, INumber<T> =>
            ReductionKernels.ArgExtreme(l.Source.ReadSpan<T>(), l.Outer, l.R, l.Inner, max, values.Span<T>(), indices.Span<long>());
    }

    private readonly struct ProdGrad(ReduceLayout l, Tensor g, Tensor dx) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            ReductionKernels.ProdBackward(l.Source.ReadSpan<T>(), g.ReadSpan<T>(), l.Outer, l.R, l.Inner, dx.Span<T>());
    }

    /// <summary>Routes each output gradient to the input element that was selected.</summary>
    private sealed class ExtremeBackward(Tensor x, Tensor indices, int outer, int r, int inner, bool max) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;
        private readonly DType _dtype = x.DType;

        public override string Name => max ? "MaxBackward" : "MinBackward";

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var result = Zeros(_shape, _dtype);
            var gc = g.ContiguousData();
            var idx = indices.ToArray<long>();
            Dispatch.Float(_dtype, new Scatter(gc, result, idx, outer, r, inner));
            KeepAlive(g, gc);
            return [result];
        }

        private readonly struct Scatter(Tensor g, Tensor dx, long[] idx, int outer, int r, int inner) : IFloatKernel
        {
            public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
            {
                ReadOnlySpan<T> gs = g.ReadSpan<T>();
                Span<T> dst = dx.Span<T>();
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++)
                        dst[(o * r + (int)idx[o * inner + i]) * inner + i] = gs[o * inner + i];
            }
        }
    }

    /// <summary>Index of the largest element along a dim (over the flattened tensor when dim is null).</summary>
    public Tensor Argmax(int? dim = null, bool keepDim = false) => ArgExtreme(dim, keepDim, max: true);

    /// <summary>Index of the smallest element along a dim (over the flattened tensor when dim is null).</summary>
    public Tensor Argmin(int? dim = null, bool keepDim = false) => ArgExtreme(dim, keepDim, max: false);

    private Tensor ArgExtreme(int? dim, bool keepDim, bool max)
    {
        using var _ = Autograd.NoGrad();
        if (dim is not null) return Extreme(dim.Value, keepDim, max).Indices;
        var flat = Flatten().Extreme(0, false, max).Indices;
        return keepDim ? flat.Reshape(Enumerable.Repeat(1, Rank).ToArray()) : flat;
    }

    // ---- var / std ----

    /// <summary>Variance over dims (all when null); unbiased divides by N-1 (Bessel's correction).</summary>
    public Tensor Var(int[]? dims = null, bool unbiased = true, bool keepDim = false)
    {
        RequireFloat("var");
        int n = ReduceShapes("var", dims, keepDim).R;
        var centered = this - Mean(dims, keepDim: true);
        return (centered * centered).Sum(dims, keepDim) / Math.Max(n - (unbiased ? 1 : 0), 0);
    }

    /// <summary>Variance over one dim; unbiased divides by N-1.</summary>
    public Tensor Var(int dim, bool unbiased = true, bool keepDim = false) => Var([dim], unbiased, keepDim);

    /// <summary>
    /// Standard deviation: sqrt of <see cref="Var(int[], bool, bool)"/>. Its gradient is (x - mean) / ((n - ddof) std), and 0 where the std
    /// is 0 (a constant slice), as PyTorch: through sqrt it would be 0 * inf = NaN.
    /// </summary>
    public Tensor Std(int[]? dims = null, bool unbiased = true, bool keepDim = false)
    {
        RequireFloat("std");
        var (_, keepShape, _, n) = ReduceShapes("std", dims, keepDim);
        bool record = Autograd.ShouldRecord(this);
        Tensor result;
        using (Autograd.NoGrad()) result = Var(dims, unbiased, keepDim).Sqrt();
        if (record) result.GradFn = new StdBackward(this, result, dims, keepShape, n - (unbiased ? 1 : 0));
        return result;
    }

    private sealed class StdBackward : Node
    {
        private readonly int[]? _dims;
        private readonly int[] _keepShape;
        private readonly int _divisor;

        public StdBackward(Tensor x, Tensor std, int[]? dims, int[] keepShape, int divisor) : base(x)
        {
            _dims = dims;
            _keepShape = keepShape;
            _divisor = divisor;
            SaveForBackward(x, std);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var x = Saved(0);
            var std = Saved(1).Reshape(_keepShape);
            var scale = Map<DivOrZero>("std", g.Reshape(_keepShape), std * _divisor);
            return [(x - x.Mean(_dims, keepDim: true)) * scale];
        }
    }

    /// <summary>Standard deviation over one dim; unbiased divides by N-1.</summary>
    public Tensor Std(int dim, bool unbiased = true, bool keepDim = false) => Std([dim], unbiased, keepDim);

    // ---- prod ----

    /// <summary>Product of all elements (rank-0) or along one dim. The gradient is exact with zeros present.</summary>
    public Tensor Prod(int? dim = null, bool keepDim = false)
    {
        var l = ReduceLayoutOf("prod", dim is null ? null : [dim.Value], keepDim && dim is not null);
        var result = Empty(l.OutShape, DType);
        Dispatch.Numeric("prod", DType, new Reduce(l, result, product: true));
        KeepAlive(l.Source);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ProdBackward(this, dim);
        return result;
    }

    private sealed class ProdBackward : Node
    {
        private readonly int? _dim;

        public ProdBackward(Tensor x, int? dim) : base(x)
        {
            _dim = dim;
            SaveForBackward(x);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var x = Saved(0);
            // One dim or all dims: always the adjacent-dims layout, so the result has x's shape.
            var l = x.ReduceLayoutOf("prod", _dim is null ? null : [_dim.Value], false);
            var result = Empty((int[])x.ShapeArray.Clone(), x.DType);
            var gc = g.ContiguousData();
            Dispatch.Float(x.DType, new ProdGrad(l, gc, result));
            KeepAlive(l.Source, g, gc);
            return [result];
        }
    }

    // ---- logsumexp / norm ----

    /// <summary>log(sum(exp(x))) over dims, computed stably as m + log(sum(exp(x - m))).</summary>
    public Tensor LogSumExp(int[] dims, bool keepDim = false)
    {
        RequireFloat("logsumexp");
        Tensor result;
        var (_, keepShape, outShape, _) = ReduceShapes("logsumexp", dims, keepDim);
        bool record = Autograd.ShouldRecord(this);
        using (Autograd.NoGrad())
        {
            var m = Amax(dims);
            var finiteM = Map<FiniteOrZero>("logsumexp", m);
            result = ((this - finiteM).Exp().Sum(dims, keepDim: true).Log() + finiteM).Reshape(outShape);
        }
        if (record) result.GradFn = new LogSumExpBackward(this, result, keepShape);
        return result;
    }

    /// <summary>log(sum(exp(x))) over one dim, computed stably.</summary>
    public Tensor LogSumExp(int dim, bool keepDim = false) => LogSumExp([dim], keepDim);

    /// <summary>Max over several dims, keeping them (no indices, not recorded).</summary>
    private Tensor Amax(int[] dims)
    {
        var d = Shapes.NormalizeDims("amax", dims, Rank);
        var t = this;
        foreach (int k in d) t = t.Extreme(k, true, true).Values;
        return t;
    }

    /// <summary>d logsumexp / dx = exp(x - y) (a softmax over the reduced dims).</summary>
    private sealed class LogSumExpBackward : Node
    {
        private readonly int[] _keepShape;

        public LogSumExpBackward(Tensor x, Tensor y, int[] keepShape) : base(x)
        {
            _keepShape = keepShape;
            SaveForBackward(x, y);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var x = Saved(0);
            var y = Saved(1).Reshape(_keepShape);
            return [g.Reshape(_keepShape) * (x - y).Exp()];
        }
    }

    /// <summary>p-norm (sum |x|^p)^(1/p) over dims (all when null). The gradient at a zero norm is 0.</summary>
    public Tensor Norm(double p = 2, int[]? dims = null, bool keepDim = false)
    {
        RequireFloat("norm");
        if (!(p > 0) || double.IsInfinity(p)) throw new ArgumentException($"norm: p must be a positive finite number, got {p}");
        Tensor result;
        var keepShape = ReduceShapes("norm", dims, keepDim).KeepShape;
        bool record = Autograd.ShouldRecord(this);
        using (Autograd.NoGrad())
        {
            result = p == 2 ? (this * this).Sum(dims, keepDim).Sqrt()
                   : p == 1 ? Abs().Sum(dims, keepDim)
                   : Abs().Pow(p).Sum(dims, keepDim).Pow(1 / p);
        }
        if (record) result.GradFn = new NormBackward(this, result, keepShape, p);
        return result;
    }

    /// <summary>p-norm over one dim.</summary>
    public Tensor Norm(double p, int dim, bool keepDim = false) => Norm(p, [dim], keepDim);

    /// <summary>d||x||_p/dx = sign(x) |x|^(p-1) / ||x||^(p-1).</summary>
    private sealed class NormBackward : Node
    {
        private readonly int[] _keepShape;
        private readonly double _p;

        public NormBackward(Tensor x, Tensor norm, int[] keepShape, double p) : base(x)
        {
            _keepShape = keepShape;
            _p = p;
            SaveForBackward(x, norm);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var x = Saved(0);
            var n = Saved(1).Reshape(_keepShape);
            var gk = g.Reshape(_keepShape);
            if (_p == 1) return [gk * x.Sign()];
            var scale = Map<DivOrZero>("norm", gk, n.Pow(_p - 1)); // 0 where the norm is 0 (its power is 0 or inf there)
            var local = _p == 2 ? x : x.Sign() * x.Abs().Pow(_p - 1);
            return [local * scale];
        }
    }
}
