namespace DeepSharp;

// Views share storage with their input and only change the layout (shape, strides, offset):
// reshape/view, transpose/permute, narrow/slice/select, expand, squeeze/unsqueeze, flatten.
// Their backward maps the gradient back through the inverse layout change.
public sealed partial class Tensor
{
    /// <summary>
    /// The same elements with a new shape (one entry may be -1). A view when the strides allow it,
    /// otherwise a copy (PyTorch's reshape).
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        var target = InferShape("reshape", shape);
        var result = _layout.TryView(target, out var view) ? WithLayout(view) : ContiguousData().WithLayout(Layout.Contiguous(target));
        return RecordView(result, "ReshapeBackward");
    }

    /// <summary>Like <see cref="Reshape"/> but never copies: fails when the strides do not allow a view.</summary>
    public Tensor View(params int[] shape)
    {
        var target = InferShape("view", shape);
        if (!_layout.TryView(target, out var view))
            throw new InvalidOperationException($"view: shape {Shapes.Format(target)} is not compatible with the input's size {Shapes.Format(ShapeArray)} and strides {Shapes.Format(StrideArray)} (at least one dimension spans two contiguous subspaces); use Reshape(...) instead");
        return RecordView(WithLayout(view), "ViewBackward");
    }

    private Tensor RecordView(Tensor result, string name)
    {
        if (Autograd.ShouldRecord(this)) result.GradFn = new ReshapeBackward(name, this);
        return result;
    }

    private sealed class ReshapeBackward(string name, Tensor x) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        public override string Name => name;

        protected internal override Tensor?[] Backward(Tensor g) => [g.Reshape(_shape)];
    }

    private int[] InferShape(string op, int[] shape)
    {
        var result = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1 in {Shapes.Format(shape)}");
                infer = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"{op}: invalid size {result[i]} in {Shapes.Format(shape)}");
            else known *= result[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Numel % known != 0)
                throw new ArgumentException($"{op}: shape {Shapes.Format(shape)} is invalid for input of size {Numel} (shape {Shapes.Format(ShapeArray)})");
            result[infer] = (int)(Numel / known);
        }
        else if (known != Numel)
            throw new ArgumentException($"{op}: shape {Shapes.Format(shape)} is invalid for input of size {Numel} (shape {Shapes.Format(ShapeArray)})");
        return result;
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        int r = Rank;
        if (r == 0) return RecordView(WithLayout(_layout), "TransposeBackward");
        int a = Shapes.NormalizeDim("transpose", dim0, r), b = Shapes.NormalizeDim("transpose", dim1, r);
        var result = WithLayout(_layout.Transpose(a, b));
        if (Autograd.ShouldRecord(this)) result.GradFn = new TransposeBackward(this, a, b);
        return result;
    }

    /// <summary>Transpose of a matrix (rank &lt;= 2), PyTorch's .t() / .T.</summary>
    public Tensor T()
    {
        if (Rank > 2) throw new InvalidOperationException($"T: expects a tensor with at most 2 dimensions, got shape {Shapes.Format(ShapeArray)}; use Transpose or Permute");
        return Rank < 2 ? this : Transpose(0, 1);
    }

    /// <summary>Reorders dimensions (a view): result dim i is input dim dims[i].</summary>
    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"permute: number of dims {dims.Length} does not match the tensor's rank {Rank} (shape {Shapes.Format(ShapeArray)})");
        return PermuteCore(Shapes.NormalizeDims("permute", dims, Rank), "PermuteBackward");
    }

    private Tensor PermuteCore(int[] perm, string name)
    {
        var result = WithLayout(_layout.Permute(perm));
        if (Autograd.ShouldRecord(this)) result.GradFn = new PermuteBackward(name, this, perm);
        return result;
    }

    private sealed class TransposeBackward(Tensor x, int a, int b) : Node(x)
    {
        protected internal override Tensor?[] Backward(Tensor g) => [g.Transpose(a, b)];
    }

    private sealed class PermuteBackward(string name, Tensor x, int[] perm) : Node(x)
    {
        public override string Name => name;

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var inverse = new int[perm.Length];
            for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
            return [g.PermuteCore(inverse, name)];
        }
    }

    /// <summary>Elements [start, start+length) along a dimension (a view).</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = Shapes.NormalizeDim("narrow", dim, Rank);
        int size = ShapeArray[d];
        if (start < 0) start += size;
        if (start < 0 || length < 0 || start + length > size)
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow: start {start} and length {length} exceed dimension {dim} of size {size} (shape {Shapes.Format(ShapeArray)})");
        return SliceCore(d, start, length, 1, "NarrowBackward");
    }

    /// <summary>Python slicing x[..., start:end:step, ...] along a dimension (a view). Bounds are clamped like Python's.</summary>
    public Tensor Slice(int dim, int? start = null, int? end = null, int step = 1)
    {
        int d = Shapes.NormalizeDim("slice", dim, Rank);
        if (step <= 0) throw new ArgumentException($"slice: step must be positive, got {step}");
        int size = ShapeArray[d];
        int s = Clamp(start ?? 0), e = Clamp(end ?? size);
        int length = e > s ? (e - s + step - 1) / step : 0;
        return SliceCore(d, s, length, step, "SliceBackward");

        int Clamp(int v) => Math.Clamp(v < 0 ? v + size : v, 0, size);
    }

    private Tensor SliceCore(int d, int start, int length, int step, string name)
    {
        var result = WithLayout(_layout.Slice(d, start, length, step));
        if (Autograd.ShouldRecord(this))
            result.GradFn = new ViewScatterBackward(name, this, g => g.SliceCore(d, start, length, step, name));
        return result;
    }

    /// <summary>Removes a dimension by taking one index along it (a view). Negative indices count from the end.</summary>
    public Tensor Select(int dim, int index)
    {
        if (Rank == 0) throw new ArgumentException("select: cannot select on a rank-0 tensor");
        int d = Shapes.NormalizeDim("select", dim, Rank);
        int size = ShapeArray[d];
        int i = index < 0 ? index + size : index;
        if (i < 0 || i >= size)
            throw new ArgumentOutOfRangeException(nameof(index), $"select: index {index} is out of range for dimension {dim} of size {size} (shape {Shapes.Format(ShapeArray)})");
        var result = WithLayout(_layout.Select(d, i));
        if (Autograd.ShouldRecord(this))
            result.GradFn = new ViewScatterBackward("SelectBackward", this, g => g.Select(d, i));
        return result;
    }

    /// <summary>x[i]: select along the first dimension.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public Tensor this[int index] => Select(0, index);

    /// <summary>x[i, j]: select along the first two dimensions.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public Tensor this[int i, int j] => Select(0, i).Select(0, j);

    /// <summary>Gradient of a view that picks part of its input: zeros with the gradient written into the same view.</summary>
    private sealed class ViewScatterBackward(string name, Tensor x, Func<Tensor, Tensor> sameView) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;
        private readonly DType _dtype = x.DType;

        public override string Name => name;

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var result = Zeros(_shape, _dtype);
            CopyElements(g, sameView(result));
            return [result];
        }
    }

    /// <summary>Broadcasts size-1 dims to larger sizes (a view with stride 0); -1 keeps a size; new leading dims may be added.</summary>
    public Tensor Expand(params int[] sizes)
    {
        var result = WithLayout(_layout.Expand("expand", sizes));
        if (Autograd.ShouldRecord(this)) result.GradFn = new ExpandBackward(this);
        return result;
    }

    /// <summary>A view of this tensor broadcast to <paramref name="other"/>'s shape (see <see cref="Expand"/>); no data is copied.</summary>
    public Tensor ExpandAs(Tensor other) => Expand(other.ShapeArray);

    private sealed class ExpandBackward(Tensor x) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor g) => [Autograd.SumToShape(g, _shape)];
    }

    /// <summary>Removes all dims of size 1, or only <paramref name="dim"/> if it has size 1 (otherwise unchanged, as PyTorch).</summary>
    public Tensor Squeeze(int? dim = null)
    {
        int? d = dim is null ? null : Shapes.NormalizeDim("squeeze", dim.Value, Rank);
        return RecordView(WithLayout(_layout.Squeeze(d)), "SqueezeBackward");
    }

    /// <summary>Inserts a dimension of size 1 at <paramref name="dim"/> (in [-rank-1, rank]).</summary>
    public Tensor Unsqueeze(int dim)
    {
        int d = Shapes.NormalizeDim("unsqueeze", dim, Rank + 1);
        return RecordView(WithLayout(_layout.Unsqueeze(d)), "UnsqueezeBackward");
    }

    /// <summary>Merges dims startDim..endDim into one.</summary>
    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = Shapes.NormalizeDim("flatten", startDim, Rank), e = Shapes.NormalizeDim("flatten", endDim, Rank);
        if (s > e) throw new ArgumentException($"flatten: startDim {startDim} comes after endDim {endDim}");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(ShapeArray[i]);
        int merged = 1;
        for (int i = s; i <= e; i++) merged *= ShapeArray[i];
        shape.Add(merged);
        for (int i = e + 1; i < Rank; i++) shape.Add(ShapeArray[i]);
        return Reshape([.. shape]);
    }

    /// <summary>Splits dimension <paramref name="dim"/> into <paramref name="sizes"/>.</summary>
    public Tensor Unflatten(int dim, params int[] sizes)
    {
        int d = Shapes.NormalizeDim("unflatten", dim, Rank);
        var shape = new List<int>(ShapeArray[..d]);
        shape.AddRange(sizes);
        shape.AddRange(ShapeArray[(d + 1)..]);
        var target = shape.ToArray();
        int inferred = System.Array.IndexOf(sizes, -1);
        if (inferred < 0 && Shapes.Numel(sizes) != ShapeArray[d])
            throw new ArgumentException($"unflatten: sizes {Shapes.Format(sizes)} do not multiply to the size {ShapeArray[d]} of dimension {dim}");
        return Reshape(target);
    }

    /// <summary>This tensor if already contiguous, else a contiguous copy (the gradient passes through).</summary>
    public Tensor Contiguous() => IsContiguous ? this : Clone();

    /// <summary>A contiguous copy with its own storage (the gradient passes through).</summary>
    public Tensor Clone()
    {
        var result = EmptyLike(this);
        CopyElements(this, result);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScaleBackward("CloneBackward", this, 1);
        return result;
    }
}
