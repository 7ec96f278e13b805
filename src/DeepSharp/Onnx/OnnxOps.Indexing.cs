namespace DeepSharp.Onnx;

// Index-driven data movement: GatherND, ScatterND, ScatterElements (and the deprecated Scatter), TopK, Compress,
// NonZero, ReverseSequence, Unique, MaxUnpool. The indices are
// read as numbers and turned into flat element positions; the data moves with IndexSelect, ScatterAdd and Gather,
// so gradients flow to the data and update inputs.
internal static partial class OnnxOps
{
    private static void RegisterIndexing(Dictionary<string, Op> ops)
    {
        ops["GatherND"] = n => One(GatherNd(n));
        ops["ScatterND"] = n => One(ScatterNd(n));
        ops["ScatterElements"] = n => One(ScatterElements(n));
        ops["Scatter"] = n => One(ScatterElements(n));
        ops["TopK"] = n => TopK(n);
        ops["Compress"] = n => One(Compress(n));
        ops["NonZero"] = n => One(NonZero(n.Input(0)));
        ops["ReverseSequence"] = n => One(ReverseSequence(n));
        ops["Unique"] = n => Unique(n);
        ops["MaxUnpool"] = n => One(MaxUnpool(n));
    }

    private static int Product(ReadOnlySpan<int> dims)
    {
        int p = 1;
        foreach (int d in dims) p *= d;
        return p;
    }

    /// <summary>The flat row of data (viewed as [prod(dims), rest]) that the index tuple at <paramref name="at"/> names.</summary>
    private static long IndexTuple(long[] indices, int at, int k, ReadOnlySpan<int> dims, OnnxNode n)
    {
        long row = 0;
        for (int j = 0; j < k; j++)
        {
            long v = indices[at + j];
            if (v < 0) v += dims[j];
            if (v < 0 || v >= dims[j]) throw new InvalidDataException($"ONNX {n.Describe}: index {indices[at + j]} is out of range for a dimension of size {dims[j]}");
            row = row * dims[j] + v;
        }
        return row;
    }

    /// <summary>GatherND: out[b.., i..] = data[b.., indices[b.., i.., :], ...] with batch_dims leading batch dimensions.</summary>
    private static Tensor GatherNd(OnnxNode n)
    {
        var data = n.Input(0);
        var indicesT = n.Input(1);
        int b = (int)n.Int("batch_dims", 0);
        int q = indicesT.Rank, k = indicesT.ShapeArray[^1];
        if (b < 0 || b >= q || b + k > data.Rank)
            throw new InvalidDataException($"ONNX {n.Describe}: batch_dims {b} with indices {Shapes.Format(indicesT.ShapeArray)} do not fit data {Shapes.Format(data.ShapeArray)}");
        if (!indicesT.ShapeArray.AsSpan(0, b).SequenceEqual(data.ShapeArray.AsSpan(0, b)))
            throw new InvalidDataException($"ONNX {n.Describe}: the first {b} (batch) dims of indices {Shapes.Format(indicesT.ShapeArray)} and data {Shapes.Format(data.ShapeArray)} differ");
        var indices = indicesT.To(DType.Int64).ToArray<long>();
        int batch = Product(data.ShapeArray.AsSpan(0, b));
        int indexed = Product(data.ShapeArray.AsSpan(b, k));
        int rest = Product(data.ShapeArray.AsSpan(b + k));
        int tuples = indices.Length / Math.Max(k, 1);
        if (k == 0) tuples = Product(indicesT.ShapeArray.AsSpan(0, q - 1));
        int perBatch = tuples / Math.Max(batch, 1);
        var rows = new long[tuples];
        for (int t = 0; t < tuples; t++)
            rows[t] = (long)(t / perBatch) * indexed + IndexTuple(indices, t * k, k, data.ShapeArray.AsSpan(b, k), n);
        var picked = data.Reshape(batch * indexed, rest).IndexSelect(0, Tensor.From(rows, rows.Length));
        return picked.Reshape([.. indicesT.ShapeArray[..^1], .. data.ShapeArray[(b + k)..]]);
    }

    /// <summary>ScatterND: a copy of data with the slices indices[i.., :] names replaced by (or added to, multiplied by) updates[i..].</summary>
    private static Tensor ScatterNd(OnnxNode n)
    {
        var data = n.Input(0);
        var indicesT = n.Input(1);
        var updates = n.Input(2);
        int k = indicesT.ShapeArray[^1];
        if (k > data.Rank) throw new InvalidDataException($"ONNX {n.Describe}: index tuples of length {k} for data of rank {data.Rank}");
        int[] expected = [.. indicesT.ShapeArray[..^1], .. data.ShapeArray[k..]];
        if (!updates.ShapeArray.SequenceEqual(expected))
            throw new InvalidDataException($"ONNX {n.Describe}: updates shape {Shapes.Format(updates.ShapeArray)}, expected {Shapes.Format(expected)}");
        var indices = indicesT.To(DType.Int64).ToArray<long>();
        int rest = Product(data.ShapeArray.AsSpan(k));
        int tuples = Product(indicesT.ShapeArray.AsSpan(0, indicesT.Rank - 1));
        var targets = new long[tuples * rest];
        for (int t = 0; t < tuples; t++)
        {
            long row = IndexTuple(indices, t * k, k, data.ShapeArray.AsSpan(0, k), n);
            for (int j = 0; j < rest; j++) targets[t * rest + j] = row * rest + j;
        }
        return ScatterFlat(data, targets, updates, n.String("reduction", "none"), n);
    }

    /// <summary>ScatterElements (and Scatter): out[.., indices[p], ..] = updates[p] along axis, for each position p of indices.</summary>
    private static Tensor ScatterElements(OnnxNode n)
    {
        var data = n.Input(0);
        var indicesT = n.Input(1);
        var updates = n.Input(2);
        int axis = Axis(n.Int("axis", 0), data.Rank, n);
        if (!indicesT.ShapeArray.SequenceEqual(updates.ShapeArray) || indicesT.Rank != data.Rank)
            throw new InvalidDataException($"ONNX {n.Describe}: indices {Shapes.Format(indicesT.ShapeArray)} and updates {Shapes.Format(updates.ShapeArray)} must have one shape and the rank of data {Shapes.Format(data.ShapeArray)}");
        var indices = indicesT.To(DType.Int64).ToArray<long>();
        int rank = data.Rank, dim = data.ShapeArray[axis];
        var strides = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--) { strides[d] = s; s *= data.ShapeArray[d]; }
        var coord = new int[rank];
        var targets = new long[indices.Length];
        for (int p = 0; p < indices.Length; p++)
        {
            long v = indices[p] < 0 ? indices[p] + dim : indices[p];
            if (v < 0 || v >= dim) throw new InvalidDataException($"ONNX {n.Describe}: index {indices[p]} is out of range for axis {axis} of size {dim}");
            long offset = 0;
            for (int d = 0; d < rank; d++)
            {
                if (d != axis && coord[d] >= data.ShapeArray[d])
                    throw new InvalidDataException($"ONNX {n.Describe}: indices {Shapes.Format(indicesT.ShapeArray)} exceed data {Shapes.Format(data.ShapeArray)} in dimension {d}");
                offset += (d == axis ? v : coord[d]) * strides[d];
            }
            targets[p] = offset;
            for (int d = rank - 1; d >= 0 && ++coord[d] == indicesT.ShapeArray[d]; d--) coord[d] = 0;
        }
        return ScatterFlat(data, targets, updates, n.Opset >= 16 ? n.String("reduction", "none") : "none", n);
    }

    /// <summary>
    /// Writes the flattened updates at the flat positions <paramref name="targets"/> of data: "none" replaces (the last
    /// write wins) by selecting each element from data or updates, "add" accumulates, "mul" multiplies in one round per
    /// repeat of a position. All three are differentiable in data and updates.
    /// </summary>
    private static Tensor ScatterFlat(Tensor data, long[] targets, Tensor updates, string reduction, OnnxNode n)
    {
        bool integer = !data.IsFloatingPoint;
        var x = (integer ? data.To(DType.Float64) : data).Reshape(data.Numel);
        var u = updates.To(x.DType).Reshape(updates.Numel);
        int count = data.Numel;
        Tensor result;
        switch (reduction)
        {
            case "none":
            {
                var map = new long[count];
                for (int i = 0; i < count; i++) map[i] = i;
                for (int j = 0; j < targets.Length; j++) map[targets[j]] = count + j;
                result = Tensor.Cat([x, u], 0).IndexSelect(0, Tensor.From(map, count));
                break;
            }
            case "add":
                result = x.ScatterAdd(0, Tensor.From(targets, targets.Length), u);
                break;
            case "mul":
            {
                // Round r multiplies each position by its r-th update (or by the 1 at the front of the factors).
                var factors = Tensor.Cat([Tensor.Ones([1], x.DType), u], 0);
                var seen = new int[count];
                var rounds = new List<long[]>();
                for (int j = 0; j < targets.Length; j++)
                {
                    int r = seen[targets[j]]++;
                    if (r == rounds.Count) rounds.Add(new long[count]);
                    rounds[r][targets[j]] = j + 1;
                }
                result = x;
                foreach (var map in rounds) result = result * factors.IndexSelect(0, Tensor.From(map, count));
                break;
            }
            default:
                throw new NotSupportedException($"ONNX {n.Describe}: reduction '{reduction}' is not supported");
        }
        result = result.Reshape(data.ShapeArray);
        return integer ? result.To(data.DType) : result;
    }

    /// <summary>TopK: the k largest (or smallest) along axis, sorted, ties to the lower index; values are gathered from x.</summary>
    private static Tensor?[] TopK(OnnxNode n)
    {
        var x = n.Input(0);
        int axis = Axis(n.Int("axis", -1), x.Rank, n);
        long k = n.Opset < 10 ? n.Int("k", 0) : n.IntsInput(1)![0];
        int size = x.ShapeArray[axis];
        if (k < 0 || k > size) throw new InvalidDataException($"ONNX {n.Describe}: k = {k} for an axis of size {size}");
        bool largest = n.Int("largest", 1) != 0;
        var moved = x.Transpose(axis, x.Rank - 1).Contiguous();
        var values = moved.To(DType.Float64).ToArray<double>();
        int rows = values.Length / Math.Max(size, 1);
        var picked = new long[rows * k];
        var order = new int[size];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < size; i++) order[i] = i;
            int row = r * size;
            Array.Sort(order, (a, b) =>
            {
                int c = values[row + a].CompareTo(values[row + b]);
                return c != 0 ? (largest ? -c : c) : a.CompareTo(b);
            });
            for (int i = 0; i < k; i++) picked[r * k + i] = order[i];
        }
        int[] shape = [.. moved.ShapeArray[..^1], (int)k];
        var index = OnnxTensors.Make(picked, shape).Transpose(axis, x.Rank - 1).Contiguous();
        var gathered = x.IsFloatingPoint ? x.Gather(axis, index) : x.To(DType.Float64).Gather(axis, index).To(x.DType);
        return [gathered, index];
    }

    /// <summary>Compress: the slices along axis (of the flattened input without one) whose condition is true.</summary>
    private static Tensor Compress(OnnxNode n)
    {
        var x = n.Input(0);
        var condition = n.Input(1).To(DType.Bool).ToArray<bool>();
        int? axisAttr = n.Has("axis") ? Axis(n.Int("axis", 0), x.Rank, n) : null;
        if (axisAttr is null) x = x.Reshape(x.Numel);
        int axis = axisAttr ?? 0;
        if (condition.Length > x.ShapeArray[axis])
            throw new InvalidDataException($"ONNX {n.Describe}: a condition of {condition.Length} for an axis of size {x.ShapeArray[axis]}");
        var keep = Enumerable.Range(0, condition.Length).Where(i => condition[i]).Select(i => (long)i).ToArray();
        return x.IndexSelect(axis, Tensor.From(keep, keep.Length));
    }

    /// <summary>NonZero: the coordinates [rank, count] of the non-zero elements in row-major order.</summary>
    private static Tensor NonZero(Tensor x)
    {
        var values = x.To(DType.Float64).ToArray<double>();
        int rank = Math.Max(x.Rank, 1);
        var dims = x.Rank == 0 ? [1] : x.ShapeArray;
        var hits = Enumerable.Range(0, values.Length).Where(i => values[i] != 0).ToArray();
        var coords = new long[rank * hits.Length];
        for (int h = 0; h < hits.Length; h++)
        {
            long rest = hits[h];
            for (int d = rank - 1; d >= 0; d--)
            {
                coords[d * hits.Length + h] = rest % dims[d];
                rest /= dims[d];
            }
        }
        return OnnxTensors.Make(coords, [rank, hits.Length]);
    }

    /// <summary>ReverseSequence: along time_axis, the first sequence_lens[b] steps of each batch entry b reversed, the rest kept.</summary>
    private static Tensor ReverseSequence(OnnxNode n)
    {
        var x = n.Input(0);
        var lengths = n.Input(1).To(DType.Int64).ToArray<long>();
        int batchAxis = Axis(n.Int("batch_axis", 1), x.Rank, n), timeAxis = Axis(n.Int("time_axis", 0), x.Rank, n);
        if (batchAxis == timeAxis || lengths.Length != x.ShapeArray[batchAxis])
            throw new InvalidDataException($"ONNX {n.Describe}: batch_axis {batchAxis}, time_axis {timeAxis} and {lengths.Length} lengths for input {Shapes.Format(x.ShapeArray)}");
        int rank = x.Rank, steps = x.ShapeArray[timeAxis];
        var strides = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--) { strides[d] = s; s *= x.ShapeArray[d]; }
        var map = new long[x.Numel];
        for (long i = 0; i < map.Length; i++)
        {
            long b = i / strides[batchAxis] % x.ShapeArray[batchAxis], t = i / strides[timeAxis] % steps;
            long length = Math.Clamp(lengths[b], 0, steps);
            map[i] = t < length ? i + (length - 1 - 2 * t) * strides[timeAxis] : i;
        }
        return x.Reshape(x.Numel).IndexSelect(0, Tensor.From(map, map.Length)).Reshape(x.ShapeArray);
    }

    /// <summary>
    /// Unique: the distinct slices along axis (elements of the flattened input without one), sorted ascending
    /// (lexicographically for slices) or in order of first occurrence, with their first indices, the inverse map and counts.
    /// </summary>
    private static Tensor?[] Unique(OnnxNode n)
    {
        var x = n.Input(0);
        int? axisAttr = n.Has("axis") ? Axis(n.Int("axis", 0), x.Rank, n) : null;
        var t = axisAttr is null ? x.Reshape(x.Numel) : x;
        int axis = axisAttr ?? 0, size = t.ShapeArray[axis];
        var rows = t.Permute([axis, .. Enumerable.Range(0, t.Rank).Where(d => d != axis)]).Contiguous().Reshape(size, t.Numel / Math.Max(size, 1)).To(DType.Float64);
        var values = rows.ToArray<double>();
        int width = size == 0 ? 0 : values.Length / size;
        int Compare(int a, int b)
        {
            for (int k = 0; k < width; k++)
            {
                int c = values[a * width + k].CompareTo(values[b * width + k]);
                if (c != 0) return c;
            }
            return 0;
        }
        var firsts = new List<int>();
        var inverse = new long[size];
        for (int i = 0; i < size; i++)
        {
            int found = firsts.FindIndex(f => Compare(f, i) == 0);
            if (found < 0) { found = firsts.Count; firsts.Add(i); }
            inverse[i] = found;
        }
        var order = Enumerable.Range(0, firsts.Count).ToArray();
        if (n.Int("sorted", 1) != 0) Array.Sort(order, (a, b) => Compare(firsts[a], firsts[b]));
        var rank = new long[order.Length];
        for (int r = 0; r < order.Length; r++) rank[order[r]] = r;
        var counts = new long[order.Length];
        for (int i = 0; i < size; i++) counts[rank[inverse[i]]]++;
        var indices = order.Select(o => (long)firsts[o]).ToArray();
        var y = t.IndexSelect(axis, Tensor.From(indices, indices.Length));
        return [y, Tensor.From(indices, indices.Length), Tensor.From(inverse.Select(v => rank[v]).ToArray(), size), Tensor.From(counts, counts.Length)];
    }

    /// <summary>
    /// MaxUnpool: zeros of the output shape (output_shape, or (in - 1) * stride - pads + kernel per spatial axis)
    /// with X written at its MaxPool indices, which are flat over the whole unpooled tensor.
    /// </summary>
    private static Tensor MaxUnpool(OnnxNode n)
    {
        var x = n.Input(0);
        var indices = n.Input(1).To(DType.Int64).ToArray<long>();
        long[] kernel = n.Ints("kernel_shape") ?? throw new InvalidDataException($"ONNX {n.Describe}: no kernel_shape");
        int spatial = x.Rank - 2;
        if (spatial < 1 || kernel.Length != spatial || indices.Length != x.Numel)
            throw new InvalidDataException($"ONNX {n.Describe}: input {Shapes.Format(x.ShapeArray)}, {indices.Length} indices and kernel {Format(kernel)} do not fit");
        long[] strides = n.Ints("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        long[] pads = n.Ints("pads") ?? new long[2 * spatial];
        int[] unpooled = [x.ShapeArray[0], x.ShapeArray[1], .. Enumerable.Range(0, spatial).Select(d => checked((int)((x.ShapeArray[d + 2] - 1) * strides[d] - pads[d] - pads[d + spatial] + kernel[d])))];
        int[] shape = n.IntsInput(2) is { } given ? [.. given.Select(d => checked((int)d))] : unpooled;
        if (shape.Length != x.Rank || shape.Zip(unpooled).Any(p => p.First < p.Second))
            throw new InvalidDataException($"ONNX {n.Describe}: output_shape {Shapes.Format(shape)} is not of rank {x.Rank} and at least {Shapes.Format(unpooled)}");
        int count = Product(unpooled);
        var targets = new long[indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            // The index is flat in the unpooled shape; a larger output_shape adds zeros at the end of each axis.
            if (indices[k] < 0 || indices[k] >= count) throw new InvalidDataException($"ONNX {n.Describe}: index {indices[k]} is outside the output of {count} elements");
            long rest = indices[k], target = 0, stride = 1;
            for (int d = x.Rank - 1; d >= 0; d--)
            {
                target += rest % unpooled[d] * stride;
                rest /= unpooled[d];
                stride *= shape[d];
            }
            targets[k] = target;
        }
        return ScatterFlat(Tensor.Zeros(shape, x.DType), targets, x, "none", n);
    }
}
