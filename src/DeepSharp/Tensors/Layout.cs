namespace DeepSharp;

/// <summary>
/// How a tensor's elements sit in its storage: the size of each dimension, the element stride of each
/// dimension (0 on broadcast dimensions) and the storage index of the first element. Immutable: every view
/// op returns a new layout and never writes into the arrays of an existing one, so views can share them.
/// All stride arithmetic lives here; ops call these methods instead of building shape and stride arrays by hand.
/// Each method that changes the layout allocates at most one shape and one stride array.
/// </summary>
internal readonly struct Layout
{
    /// <summary>Size of each dimension (never modified).</summary>
    public readonly int[] Shape;

    /// <summary>Element stride of each dimension (never modified).</summary>
    public readonly int[] Strides;

    /// <summary>Storage index of the first element.</summary>
    public readonly int Offset;

    /// <summary>Number of elements (product of <see cref="Shape"/>).</summary>
    public readonly int Numel;

    /// <summary>True when the elements lie in row-major order without gaps.</summary>
    public readonly bool IsContiguous;

    /// <summary>A layout over the given arrays (not copied: the caller hands them over and never modifies them).</summary>
    public Layout(int[] shape, int[] strides, int offset)
    {
        if (shape.Length != strides.Length)
            throw new ArgumentException($"layout: shape {Shapes.Format(shape)} and strides {Shapes.Format(strides)} have different ranks");
        Shape = shape;
        Strides = strides;
        Offset = offset;
        Numel = Shapes.Numel(shape);
        IsContiguous = AreContiguous(shape, strides);
    }

    /// <summary>The row-major layout of <paramref name="shape"/> from <paramref name="offset"/> (takes the array).</summary>
    public static Layout Contiguous(int[] shape, int offset = 0) => new(shape, ContiguousStrides(shape), offset);

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Row-major strides of <paramref name="shape"/>; a size-0 dim counts as 1 so later strides stay distinct.</summary>
    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    /// <summary>Row-major contiguity; dims of size 1 may have any stride, an empty shape is contiguous.</summary>
    public static bool AreContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        int expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 0) return true;
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /// <summary>Storage index of the element at <paramref name="index"/> (one entry per dim, each in range).</summary>
    public int ElementOffset(ReadOnlySpan<int> index)
    {
        if (index.Length != Shape.Length)
            throw new ArgumentException($"layout: index of rank {index.Length} for shape {Shapes.Format(Shape)}");
        int pos = Offset;
        for (int d = 0; d < index.Length; d++)
        {
            if ((uint)index[d] >= (uint)Shape[d])
                throw new ArgumentOutOfRangeException(nameof(index), $"layout: index {index[d]} is out of range for dimension {d} of size {Shape[d]}");
            pos += index[d] * Strides[d];
        }
        return pos;
    }

    /// <summary>
    /// Storage indices of the elements at every position of <paramref name="indexShape"/> (row-major; each size at most
    /// this layout's), with the index along <paramref name="dim"/> taken from <paramref name="index"/> instead of the
    /// position (gather/scatter). <paramref name="dim"/> -1 (and a null <paramref name="index"/>) uses the positions only.
    /// </summary>
    public int[] GatherOffsets(int[] indexShape, long[]? index, int dim)
    {
        var offsets = new int[Shapes.Numel(indexShape)];
        int rank = indexShape.Length;
        var pos = new int[rank];
        for (int n = 0; n < offsets.Length; n++)
        {
            int o = Offset;
            for (int k = 0; k < rank; k++) o += (k == dim ? (int)index![n] : pos[k]) * Strides[k];
            offsets[n] = o;
            for (int k = rank - 1; k >= 0; k--)
            {
                if (++pos[k] < indexShape[k]) break;
                pos[k] = 0;
            }
        }
        return offsets;
    }

    /// <summary>The first dim on which several elements share one storage location (stride 0, size &gt; 1), or -1.</summary>
    public int ExpandedDim()
    {
        for (int d = 0; d < Shape.Length; d++)
            if (Strides[d] == 0 && Shape[d] > 1) return d;
        return -1;
    }

    /// <summary>Storage indices of the elements in row-major order (for slow, generic paths only).</summary>
    public static IEnumerable<int> StorageIndices(Layout layout)
    {
        int numel = layout.Numel, rank = layout.Rank;
        if (numel == 0) yield break;
        int[] shape = layout.Shape, strides = layout.Strides;
        var index = new int[rank];
        int pos = layout.Offset;
        for (int n = 0; n < numel; n++)
        {
            yield return pos;
            for (int d = rank - 1; d >= 0; d--)
            {
                index[d]++;
                pos += strides[d];
                if (index[d] < shape[d]) break;
                pos -= strides[d] * shape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>Result dim i is dim <paramref name="perm"/>[i] (perm already normalized and checked).</summary>
    public Layout Permute(ReadOnlySpan<int> perm)
    {
        var shape = new int[perm.Length];
        var strides = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++)
        {
            shape[i] = Shape[perm[i]];
            strides[i] = Strides[perm[i]];
        }
        return new Layout(shape, strides, Offset);
    }

    /// <summary>Dims <paramref name="a"/> and <paramref name="b"/> swapped (both normalized).</summary>
    public Layout Transpose(int a, int b)
    {
        var shape = (int[])Shape.Clone();
        var strides = (int[])Strides.Clone();
        (shape[a], shape[b]) = (shape[b], shape[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        return new Layout(shape, strides, Offset);
    }

    /// <summary>The permutation that moves dim <paramref name="source"/> to position <paramref name="destination"/>, the others keeping their order (both normalized).</summary>
    public static int[] MoveDimPermutation(int rank, int source, int destination)
    {
        var perm = new int[rank];
        for (int i = 0, j = 0; i < rank; i++)
        {
            if (i == destination) { perm[i] = source; continue; }
            if (j == source) j++;
            perm[i] = j++;
        }
        return perm;
    }

    /// <summary>Dim <paramref name="source"/> moved to <paramref name="destination"/> (PyTorch's movedim; both normalized).</summary>
    public Layout MoveDim(int source, int destination) => Permute(MoveDimPermutation(Rank, source, destination));

    /// <summary>Elements start, start+step, ... (<paramref name="length"/> of them) along dim <paramref name="d"/> (bounds checked by the caller).</summary>
    public Layout Slice(int d, int start, int length, int step = 1)
    {
        var shape = (int[])Shape.Clone();
        shape[d] = length;
        var strides = Strides;
        if (step != 1)
        {
            strides = (int[])Strides.Clone();
            strides[d] *= step;
        }
        return new Layout(shape, strides, Offset + start * Strides[d]);
    }

    /// <summary>Elements [start, start+length) along dim <paramref name="d"/> (bounds checked by the caller).</summary>
    public Layout Narrow(int d, int start, int length) => Slice(d, start, length);

    /// <summary>Dim <paramref name="d"/> removed by fixing its index to <paramref name="index"/> (in range).</summary>
    public Layout Select(int d, int index)
    {
        int rank = Rank;
        var shape = new int[rank - 1];
        var strides = new int[rank - 1];
        for (int k = 0, j = 0; k < rank; k++)
        {
            if (k == d) continue;
            shape[j] = Shape[k];
            strides[j++] = Strides[k];
        }
        return new Layout(shape, strides, Offset + index * Strides[d]);
    }

    /// <summary>
    /// Broadcast to <paramref name="sizes"/> (stride 0 on expanded dims; -1 keeps a size; new leading dims may be added).
    /// Errors name <paramref name="op"/> and both shapes.
    /// </summary>
    public Layout Expand(string op, ReadOnlySpan<int> sizes)
    {
        int rank = Rank;
        if (sizes.Length < rank)
            throw new ArgumentException($"{op}: the number of sizes ({sizes.Length}) must be at least the tensor's rank {rank} (shape {Shapes.Format(Shape)})");
        int lead = sizes.Length - rank;
        var shape = new int[sizes.Length];
        var strides = new int[sizes.Length];
        for (int i = 0; i < sizes.Length; i++)
        {
            if (i < lead)
            {
                if (sizes[i] < 0) throw new ArgumentException($"{op}: size -1 is not allowed for a new leading dimension ({Shapes.Format(sizes)})");
                shape[i] = sizes[i];
                continue;
            }
            int have = Shape[i - lead];
            int want = sizes[i] == -1 ? have : sizes[i];
            if (have == want) { shape[i] = have; strides[i] = Strides[i - lead]; }
            else if (have == 1) shape[i] = want;
            else throw new ArgumentException($"{op}: the expanded size {want} must match the existing size {have} at dimension {i} (shape {Shapes.Format(Shape)} to {Shapes.Format(sizes)})");
        }
        return new Layout(shape, strides, Offset);
    }

    /// <summary>Strides that view these elements as <paramref name="target"/> (a shape they broadcast to; 0 on broadcast dims).</summary>
    public int[] BroadcastStrides(ReadOnlySpan<int> target)
    {
        var result = new int[target.Length];
        int lead = target.Length - Shape.Length;
        for (int i = lead; i < target.Length; i++)
        {
            int d = Shape[i - lead];
            result[i] = d == 1 && target[i] != 1 ? 0 : Strides[i - lead];
        }
        return result;
    }

    /// <summary>Dims of size 1 removed: all of them, or only <paramref name="dim"/> (normalized) when it has size 1.</summary>
    public Layout Squeeze(int? dim)
    {
        int[] old = Shape;
        int kept = 0;
        for (int i = 0; i < old.Length; i++)
            if (!Squeezed(old, i, dim)) kept++;
        var shape = new int[kept];
        var strides = new int[kept];
        for (int i = 0, j = 0; i < old.Length; i++)
        {
            if (Squeezed(old, i, dim)) continue;
            shape[j] = old[i];
            strides[j++] = Strides[i];
        }
        return new Layout(shape, strides, Offset);

        static bool Squeezed(int[] shape, int i, int? dim) => shape[i] == 1 && (dim is null || i == dim.Value);
    }

    /// <summary>A dim of size 1 inserted at <paramref name="d"/> (in [0, rank]), with the stride a contiguous tensor would give it.</summary>
    public Layout Unsqueeze(int d)
    {
        int rank = Rank;
        var shape = new int[rank + 1];
        var strides = new int[rank + 1];
        for (int i = 0, j = 0; i <= rank; i++)
        {
            if (i == d)
            {
                shape[i] = 1;
                strides[i] = j < rank ? Strides[j] * Shape[j] : 1;
                continue;
            }
            shape[i] = Shape[j];
            strides[i] = Strides[j++];
        }
        return new Layout(shape, strides, Offset);
    }

    /// <summary>
    /// The same elements in <paramref name="newShape"/> (same element count) without copying, when the strides allow it.
    /// Walks the old dims from the back in "chunks" of dims that are contiguous with each other; each chunk must be
    /// matched by a run of new dims with the same element count. False when a copy is needed.
    /// </summary>
    public bool TryView(int[] newShape, out Layout result)
    {
        if (IsContiguous || Numel == 0)
        {
            result = Contiguous(newShape, Offset);
            return true;
        }
        result = default;
        var newStrides = new int[newShape.Length];
        int[] oldShape = Shape, oldStrides = Strides;
        int viewD = newShape.Length - 1;
        long chunkStride = oldStrides[^1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = oldShape.Length - 1; d >= 0; d--)
        {
            tensorNumel *= oldShape[d];
            bool chunkEnds = d == 0 || (oldShape[d - 1] != 1 && oldStrides[d - 1] != tensorNumel * chunkStride);
            if (!chunkEnds) continue;
            while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1))
            {
                newStrides[viewD] = (int)(viewNumel * chunkStride);
                viewNumel *= newShape[viewD];
                viewD--;
            }
            if (viewNumel != tensorNumel) return false;
            if (d > 0)
            {
                chunkStride = oldStrides[d - 1];
                tensorNumel = 1;
                viewNumel = 1;
            }
        }
        if (viewD != -1) return false;
        result = new Layout(newShape, newStrides, Offset);
        return true;
    }

    /// <summary>
    /// The one stride that walks dims [0, <paramref name="count"/>) in row-major order, or null when they do not
    /// merge into one (0 when all of them are broadcast or of size 1).
    /// </summary>
    public static long? MergedStride(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, int count)
    {
        long? stride = null;
        long span = 1;
        for (int i = count - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (stride is null) stride = strides[i];
            else if (strides[i] != stride * span) return null;
            span *= shape[i];
        }
        return stride ?? 0;
    }
}
