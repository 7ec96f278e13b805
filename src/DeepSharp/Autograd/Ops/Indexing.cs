namespace DeepSharp;

// Integer indexing: index_select, gather, scatter_add. Index tensors are int64 and not differentiable.
public sealed partial class Tensor
{
    /// <summary>Entries of <paramref name="index"/> (1-D int64) along a dim: out[.., j, ..] = x[.., index[j], ..].</summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        int d = Shapes.NormalizeDim("index_select", dim, Rank);
        var idx = CheckIndex("index_select", index, ShapeArray.Length == 0 ? 1 : ShapeArray[d], d);
        if (index.Rank > 1) throw new ArgumentException($"index_select: index must be 1-D, got shape {Shapes.Format(index.ShapeArray)}");
        var shape = (int[])ShapeArray.Clone();
        if (Rank > 0) shape[d] = idx.Length;
        var result = Empty(shape, DType);
        var src = ContiguousData();
        int outer = Rank == 0 ? 1 : Prod(ShapeArray, 0, d), inner = Rank == 0 ? 1 : Prod(ShapeArray, d + 1, Rank);
        int r = Rank == 0 ? 1 : ShapeArray[d];
        Dispatch.Any(DType, new SelectRows(src, result, idx, outer, r, inner));
        KeepAlive(src);
        if (Autograd.ShouldRecord(this)) result.GradFn = new IndexSelectBackward(this, idx, outer, r, inner);
        return result;
    }

    private readonly struct SelectRows(Tensor src, Tensor dst, long[] idx, int outer, int r, int inner) : IElementKernel
    {
        public void Run<T>() where T : unmanaged
        {
            var x = src.ReadSpan<T>();
            var y = dst.Span<T>();
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < idx.Length; j++)
                    x.Slice((o * r + (int)idx[j]) * inner, inner).CopyTo(y.Slice((o * idx.Length + j) * inner, inner));
        }
    }

    /// <summary>Backward of index_select: index_add of the gradient rows into zeros (repeats accumulate).</summary>
    private sealed class IndexSelectBackward(Tensor x, long[] idx, int outer, int r, int inner) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var result = Zeros(_shape, g.DType);
            var gc = g.ContiguousData();
            Dispatch.Float(g.DType, new AddRows(gc, result, idx, outer, r, inner));
            KeepAlive(g, gc);
            return [result];
        }

        private readonly struct AddRows(Tensor g, Tensor dx, long[] idx, int outer, int r, int inner) : IFloatKernel
        {
            public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
            {
                ReadOnlySpan<T> gs = g.ReadSpan<T>();
                Span<T> dst = dx.Span<T>();
                for (int o = 0; o < outer; o++)
                    for (int j = 0; j < idx.Length; j++)
                    {
                        var row = dst.Slice((o * r + (int)idx[j]) * inner, inner);
                        System.Numerics.Tensors.TensorPrimitives.Add(row, gs.Slice((o * idx.Length + j) * inner, inner), row);
                    }
            }
        }
    }

    private static long[] CheckIndex(string op, Tensor index, int size, int dim)
    {
        if (index.DType != DType.Int64) throw new ArgumentException($"{op}: index must be an int64 tensor, got {index.DType.Name()}");
        var idx = index.ToArray<long>();
        for (int i = 0; i < idx.Length; i++)
        {
            if (idx[i] < -size || idx[i] >= size)
                throw new ArgumentOutOfRangeException(nameof(index), $"{op}: index {idx[i]} is out of bounds for dimension {dim} with size {size}");
            if (idx[i] < 0) idx[i] += size;
        }
        return idx;
    }

    /// <summary>out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (likewise for any dim and rank).</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        int d = Shapes.NormalizeDim("gather", dim, Rank);
        CheckGatherShapes("gather", index, this, d);
        var idx = CheckIndex("gather", index, Rank == 0 ? 1 : ShapeArray[d], d);
        var result = Empty((int[])index.ShapeArray.Clone(), DType);
        var offsets = _layout.GatherOffsets(index.ShapeArray, idx, d);
        Dispatch.Any(DType, new Take(this, result, offsets));
        if (Autograd.ShouldRecord(this)) result.GradFn = new GatherBackward(this, d, index);
        return result;
    }

    /// <summary>y[i] = x's storage at offsets[i].</summary>
    private readonly struct Take(Tensor x, Tensor y, int[] offsets) : IElementKernel
    {
        public void Run<T>() where T : unmanaged
        {
            var xs = x.Array<T>();
            var ys = y.Span<T>();
            for (int i = 0; i < offsets.Length; i++) ys[i] = xs[offsets[i]];
        }
    }

    private static void CheckGatherShapes(string op, Tensor index, Tensor x, int dim)
    {
        if (index.Rank != x.Rank)
            throw new ArgumentException($"{op}: index has rank {index.Rank} (shape {Shapes.Format(index.ShapeArray)}) but the tensor has rank {x.Rank} (shape {Shapes.Format(x.ShapeArray)})");
        for (int k = 0; k < x.Rank; k++)
            if (k != dim && index.ShapeArray[k] > x.ShapeArray[k])
                throw new ArgumentException($"{op}: index shape {Shapes.Format(index.ShapeArray)} exceeds the tensor shape {Shapes.Format(x.ShapeArray)} in dimension {k}");
    }

    private sealed class GatherBackward(Tensor x, int dim, Tensor index) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor g) => [Zeros(_shape, g.DType).ScatterAdd(dim, index, g)];
    }

    /// <summary>A copy of this tensor with src added at the positions index selects along a dim (repeats accumulate).</summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        int d = Shapes.NormalizeDim("scatter_add", dim, Rank);
        CheckSameDType("scatter_add", this, src);
        CheckGatherShapes("scatter_add", index, this, d);
        for (int k = 0; k < index.Rank; k++)
            if (index.ShapeArray[k] > src.ShapeArray[k])
                throw new ArgumentException($"scatter_add: index shape {Shapes.Format(index.ShapeArray)} exceeds the src shape {Shapes.Format(src.ShapeArray)} in dimension {k}");
        var idx = CheckIndex("scatter_add", index, Rank == 0 ? 1 : ShapeArray[d], d);
        var result = EmptyLike(this);
        CopyElements(this, result);
        var dstOffsets = result._layout.GatherOffsets(index.ShapeArray, idx, d);
        var srcOffsets = src._layout.GatherOffsets(index.ShapeArray, null, -1);
        Dispatch.Numeric("scatter_add", DType, new AddAt(result, dstOffsets, src, srcOffsets));
        if (Autograd.ShouldRecord(this, src)) result.GradFn = new ScatterAddBackward(this, src, d, index);
        return result;
    }

    /// <summary>y's storage at dstOffsets[i] += src's storage at srcOffsets[i].</summary>
    private readonly struct AddAt(Tensor y, int[] dstOffsets, Tensor src, int[] srcOffsets) : INumericKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.INumber<T>
        {
            var ys = y.Array<T>();
            var s = src.Array<T>();
            for (int i = 0; i < dstOffsets.Length; i++) ys[dstOffsets[i]] += s[srcOffsets[i]];
        }
    }

    private sealed class ScatterAddBackward(Tensor x, Tensor src, int dim, Tensor index) : Node(x, src)
    {
        private readonly int[] _srcShape = src.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor g) =>
        [
            NeedsGrad(0) ? g : null,
            NeedsGrad(1) ? PadTo(g.Gather(dim, index), _srcShape) : null,
        ];

        /// <summary>src may be larger than index; its extra elements get zero gradient.</summary>
        private static Tensor PadTo(Tensor g, int[] shape)
        {
            if (g.ShapeArray.AsSpan().SequenceEqual(shape)) return g;
            var result = Zeros(shape, g.DType);
            var view = result;
            for (int k = 0; k < g.Rank; k++) view = view.RawNarrow(k, 0, g.ShapeArray[k]);
            CopyElements(g, view);
            return result;
        }
    }
}
