namespace DeepSharp.Onnx;

// Shapes, views and data movement: Reshape, Transpose, Concat, Slice, Gather, Shape, Constant, Expand, ...
// Several take their parameters as attributes in old opsets and as inputs in new ones; both are read.
internal static partial class OnnxOps
{
    private static void RegisterShape(Dictionary<string, Op> ops)
    {
        ops["Constant"] = n => One(Constant(n));
        ops["Shape"] = n => One(ShapeOf(n));
        ops["Size"] = n => One(Tensor.Scalar(n.Input(0).Numel, DType.Int64));
        ops["Reshape"] = n => One(Reshape(n.Input(0), n.IntsInput(1) ?? n.Ints("shape") ?? [], n.Int("allowzero", 0) != 0, n));
        ops["Flatten"] = n => One(Flatten(n));
        ops["Transpose"] = n => One(n.Input(0).Permute(n.Ints("perm")?.Select(p => (int)p).ToArray()
            ?? Enumerable.Range(0, n.Input(0).Rank).Reverse().ToArray()));
        ops["Concat"] = n => One(Concat(n));
        ops["Split"] = n => Split(n);
        ops["Slice"] = n => One(Slice(n));
        ops["Gather"] = n => One(Gather(n.Input(0), n.Input(1), n.Int("axis", 0), n));
        ops["GatherElements"] = n => One(n.Input(0).Gather(Axis(n.Int("axis", 0), n.Input(0).Rank, n), Positive(n.Input(1), n.Input(0).ShapeArray[Axis(n.Int("axis", 0), n.Input(0).Rank, n)])));
        ops["Squeeze"] = n => One(Squeeze(n));
        ops["Unsqueeze"] = n => One(Unsqueeze(n));
        ops["ConstantOfShape"] = n => One(ConstantOfShape(n));
        ops["Expand"] = n => One(Expand(n.Input(0), n.IntsInput(1)!));
        ops["Tile"] = n => One(Tile(n.Input(0), n.IntsInput(1)!));
        ops["Range"] = n => One(Range(n));
        ops["Pad"] = n => One(Pad(n));
        ops["Trilu"] = n => One(Trilu(n.Input(0), n.IntsInput(1)?[0] ?? 0, n.Int("upper", 1) != 0));
        ops["EyeLike"] = n => One(EyeLike(n));
        ops["DepthToSpace"] = n => One(DepthToSpace(n.Input(0), (int)n.Int("blocksize", 1), n.String("mode", "DCR") == "CRD"));
        ops["SpaceToDepth"] = n => One(SpaceToDepth(n.Input(0), (int)n.Int("blocksize", 1)));
        ops["OneHot"] = n => One(OneHot(n));
        ops["Dropout"] = n => n.OutputCount > 1 ? [n.Input(0), Tensor.Ones(n.Input(0).ShapeArray, DType.Bool)] : One(n.Input(0));
    }

    private static Tensor Constant(OnnxNode n)
    {
        if (n.TensorAttribute("value") is { } t) return t;
        if (n.Attribute("value_float") is { } f) return Tensor.Scalar(f.F);
        if (n.Attribute("value_floats") is { } fs) return Tensor.From([.. fs.Floats], fs.Floats.Count);
        if (n.Attribute("value_int") is { } i) return Tensor.Scalar(i.I, DType.Int64);
        if (n.Attribute("value_ints") is { } ints) return Tensor.From([.. ints.Ints], ints.Ints.Count);
        throw n.Unsupported("a Constant without value, value_float(s) or value_int(s)");
    }

    private static Tensor ShapeOf(OnnxNode n)
    {
        var shape = n.Input(0).ShapeArray.Select(d => (long)d).ToArray();
        int rank = shape.Length;
        int Clamp(long v) => (int)Math.Clamp(v < 0 ? v + rank : v, 0, rank);
        int start = Clamp(n.Int("start", 0)), end = Clamp(n.Int("end", rank));
        var part = shape[start..Math.Max(start, end)];
        return Tensor.From(part, part.Length);
    }

    private static Tensor Reshape(Tensor x, long[] shape, bool allowZero, OnnxNode n)
    {
        var target = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
            target[i] = shape[i] == 0 && !allowZero ? (i < x.Rank ? x.ShapeArray[i] : throw new InvalidDataException($"ONNX {n.Describe}: shape {Format(shape)} copies dim {i} of a rank-{x.Rank} input"))
                : checked((int)shape[i]);
        return x.Reshape(target);
    }

    private static Tensor Flatten(OnnxNode n)
    {
        var x = n.Input(0);
        int axis = (int)(n.Int("axis", 1) < 0 ? n.Int("axis", 1) + x.Rank : n.Int("axis", 1));
        int outer = 1;
        for (int i = 0; i < axis; i++) outer *= x.ShapeArray[i];
        return x.Reshape(outer, x.Numel / Math.Max(outer, 1) is int inner && outer > 0 ? inner : 0);
    }

    private static Tensor Concat(OnnxNode n)
    {
        var parts = Enumerable.Range(0, n.Inputs.Length).Where(i => n.Inputs[i] is not null).Select(n.Input).ToArray();
        int axis = Axis(n.Int("axis", 0), parts[0].Rank, n);
        if (parts.Any(p => p.DType != parts[0].DType)) parts = parts.Select(p => p.To(parts[0].DType)).ToArray();
        var kept = parts.Where(p => p.Numel > 0).ToArray(); // ONNX allows empty pieces
        return kept.Length == 0 ? parts[0] : kept.Length == 1 ? kept[0] : Tensor.Cat(kept, axis);
    }

    private static Tensor?[] Split(OnnxNode n)
    {
        var x = n.Input(0);
        int axis = Axis(n.Int("axis", 0), x.Rank, n);
        long[]? sizes = n.IntsInput(1) ?? n.Ints("split");
        int size = x.ShapeArray[axis];
        if (sizes is null)
        {
            int parts = (int)n.Int("num_outputs", n.OutputCount);
            int chunk = (size + parts - 1) / parts;
            sizes = Enumerable.Range(0, parts).Select(i => (long)Math.Clamp(size - i * chunk, 0, chunk)).ToArray();
        }
        var result = new Tensor?[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            result[i] = x.Narrow(axis, start, (int)sizes[i]);
            start += (int)sizes[i];
        }
        return result;
    }

    private static Tensor Slice(OnnxNode n)
    {
        var x = n.Input(0);
        long[] starts, ends;
        long[]? axes, steps;
        if (n.Opset < 10)
        {
            starts = n.Ints("starts")!;
            ends = n.Ints("ends")!;
            axes = n.Ints("axes");
            steps = null;
        }
        else
        {
            starts = n.IntsInput(1)!;
            ends = n.IntsInput(2)!;
            axes = n.IntsInput(3);
            steps = n.IntsInput(4);
        }
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = Axis(axes is null ? i : axes[i], x.Rank, n);
            long step = steps is null ? 1 : steps[i];
            x = SliceAxis(x, axis, starts[i], ends[i], step, n);
        }
        return x;
    }

    /// <summary>Python-style slicing of one axis (negative indices from the end, clamped; any non-zero step).</summary>
    private static Tensor SliceAxis(Tensor x, int axis, long start, long end, long step, OnnxNode n)
    {
        if (step == 0) throw new InvalidDataException($"ONNX {n.Describe}: slice step 0");
        long dim = x.ShapeArray[axis];
        long s = start < 0 ? start + dim : start, e = end < 0 ? end + dim : end;
        if (step > 0)
        {
            s = Math.Clamp(s, 0, dim);
            e = Math.Clamp(e, 0, dim);
            if (step == 1) return x.Narrow(axis, (int)s, (int)Math.Max(0, e - s));
        }
        else
        {
            s = Math.Clamp(s, -1, dim - 1);
            e = Math.Clamp(e, -1, dim - 1);
        }
        var index = new List<long>();
        for (long i = s; step > 0 ? i < e : i > e; i += step) index.Add(i);
        return x.IndexSelect(axis, Tensor.From([.. index], index.Count));
    }

    private static Tensor Positive(Tensor index, int size)
    {
        var v = index.To(DType.Int64).ToArray<long>();
        bool any = false;
        for (int i = 0; i < v.Length; i++)
            if (v[i] < 0) { v[i] += size; any = true; }
        return any ? OnnxTensors.Make(v, index.ShapeArray) : index.To(DType.Int64);
    }

    /// <summary>ONNX Gather: x.shape[:axis] + indices.shape + x.shape[axis+1:].</summary>
    private static Tensor Gather(Tensor x, Tensor indices, long axisAttr, OnnxNode n)
    {
        int axis = Axis(axisAttr, x.Rank, n);
        var index = Positive(indices, x.ShapeArray[axis]);
        if (index.Rank == 0) return x.Select(axis, (int)index.ToArray<long>()[0]);
        var picked = x.IndexSelect(axis, index.Reshape(index.Numel));
        int[] shape = [.. x.ShapeArray[..axis], .. index.ShapeArray, .. x.ShapeArray[(axis + 1)..]];
        return picked.Reshape(shape);
    }

    private static Tensor Squeeze(OnnxNode n)
    {
        var x = n.Input(0);
        long[]? axes = n.Opset < 13 ? n.Ints("axes") : n.IntsInput(1);
        if (axes is null) return x.Reshape(x.ShapeArray.Where(d => d != 1).ToArray());
        var drop = axes.Select(a => Axis(a, x.Rank, n)).ToHashSet();
        return x.Reshape(x.ShapeArray.Where((d, i) => !drop.Contains(i)).ToArray());
    }

    private static Tensor Unsqueeze(OnnxNode n)
    {
        var x = n.Input(0);
        long[] axes = (n.Opset < 13 ? n.Ints("axes") : n.IntsInput(1)) ?? throw new InvalidDataException($"ONNX {n.Describe}: no axes");
        int rank = x.Rank + axes.Length;
        var positions = axes.Select(a => Axis(a, rank, n)).ToHashSet();
        var shape = new int[rank];
        int k = 0;
        for (int i = 0; i < rank; i++) shape[i] = positions.Contains(i) ? 1 : x.ShapeArray[k++];
        return x.Reshape(shape);
    }

    private static Tensor ConstantOfShape(OnnxNode n)
    {
        var shape = n.IntsInput(0)!.Select(d => checked((int)d)).ToArray();
        var value = n.TensorAttribute("value");
        var dtype = value?.DType ?? DType.Float32;
        double v = value is null ? 0 : value.To(DType.Float64).ToArray<double>()[0];
        return Tensor.Full(shape, v, dtype);
    }

    /// <summary>Broadcasts x to the NumPy broadcast of its shape and <paramref name="shape"/>.</summary>
    private static Tensor Expand(Tensor x, long[] shape)
    {
        int rank = Math.Max(x.Rank, shape.Length);
        var target = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int a = i - (rank - x.Rank) is int ai && ai >= 0 ? x.ShapeArray[ai] : 1;
            int b = i - (rank - shape.Length) is int bi && bi >= 0 ? (int)shape[bi] : 1;
            target[i] = a == 1 ? b : a;
        }
        var view = x.Rank < rank ? x.Reshape([.. Enumerable.Repeat(1, rank - x.Rank), .. x.ShapeArray]) : x;
        return view.Expand(target).Contiguous();
    }

    private static Tensor Tile(Tensor x, long[] repeats)
    {
        for (int axis = 0; axis < repeats.Length; axis++)
            if (repeats[axis] != 1) x = Tensor.Cat(Enumerable.Repeat(x, (int)repeats[axis]).ToArray(), axis);
        return x;
    }

    private static Tensor Range(OnnxNode n)
    {
        var start = n.Input(0);
        double s = start.To(DType.Float64).ToDouble(), l = n.Input(1).To(DType.Float64).ToDouble(), d = n.Input(2).To(DType.Float64).ToDouble();
        int count = Math.Max(0, (int)Math.Ceiling((l - s) / d));
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = s + i * d;
        return Tensor.From(values, count).To(start.DType);
    }

    /// <summary>Edge (repeat the border) or reflect (mirror without the border) padding, as a gather of indices per axis.</summary>
    private static Tensor PadByIndex(Tensor x, int[] begin, int[] end, bool reflect)
    {
        for (int axis = 0; axis < x.Rank; axis++)
        {
            if (begin[axis] == 0 && end[axis] == 0) continue;
            int size = x.ShapeArray[axis];
            var index = new long[begin[axis] + size + end[axis]];
            for (int i = 0; i < index.Length; i++)
            {
                long j = i - begin[axis];
                if (reflect)
                {
                    long period = 2L * (size - 1);
                    j = period == 0 ? 0 : ((j % period) + period) % period;
                    if (j >= size) j = period - j;
                }
                else j = Math.Clamp(j, 0, size - 1);
                index[i] = j;
            }
            x = x.IndexSelect(axis, Tensor.From(index, index.Length));
        }
        return x;
    }

    /// <summary>Zeroes below (upper) or above (lower) the k-th diagonal of the last two dims.</summary>
    private static Tensor Trilu(Tensor x, long k, bool upper)
    {
        int rows = x.ShapeArray[^2], cols = x.ShapeArray[^1];
        var diff = Tensor.Arange(0, cols, 1, DType.Float64).Unsqueeze(0) - Tensor.Arange(0, rows, 1, DType.Float64).Unsqueeze(1);
        var keep = upper ? diff.Ge(k) : diff.Le(k);
        return Where(keep, x, Tensor.ZerosLike(x));
    }

    private static Tensor EyeLike(OnnxNode n)
    {
        var x = n.Input(0);
        int rows = x.ShapeArray[0], cols = x.ShapeArray[1];
        long k = n.Int("k", 0);
        var values = new double[rows * cols];
        for (int r = 0; r < rows; r++)
            if (r + k >= 0 && r + k < cols) values[r * cols + r + k] = 1;
        var dtype = n.Has("dtype") ? OnnxTensors.DTypeOf((int)n.Int("dtype", 1)) ?? throw n.Unsupported("this dtype") : x.DType;
        return Tensor.From(values, rows, cols).To(dtype);
    }

    private static Tensor DepthToSpace(Tensor x, int b, bool crd)
    {
        int n = x.ShapeArray[0], c = x.ShapeArray[1], h = x.ShapeArray[2], w = x.ShapeArray[3];
        var t = crd ? x.Reshape(n, c / (b * b), b, b, h, w).Permute(0, 1, 4, 2, 5, 3)
                    : x.Reshape(n, b, b, c / (b * b), h, w).Permute(0, 3, 4, 1, 5, 2);
        return t.Reshape(n, c / (b * b), h * b, w * b);
    }

    private static Tensor SpaceToDepth(Tensor x, int b)
    {
        int n = x.ShapeArray[0], c = x.ShapeArray[1], h = x.ShapeArray[2], w = x.ShapeArray[3];
        return x.Reshape(n, c, h / b, b, w / b, b).Permute(0, 3, 5, 1, 2, 4).Reshape(n, c * b * b, h / b, w / b);
    }

    private static Tensor OneHot(OnnxNode n)
    {
        var indices = n.Input(0).To(DType.Float64);
        int depth = (int)n.Input(1).To(DType.Float64).ToArray<double>()[0];
        var values = n.Input(2);
        int rank = indices.Rank + 1;
        int axis = Axis(n.Int("axis", -1), rank, n);
        indices = Tensor.Where(indices.Lt(0), indices + depth, indices).Unsqueeze(axis);
        var shape = Enumerable.Repeat(1, rank).ToArray();
        shape[axis] = depth;
        var positions = Tensor.Arange(0, depth, 1, DType.Float64).Reshape(shape);
        var hot = indices.Eq(positions);
        var off = values.Select(0, 0);
        var on = values.Select(0, 1);
        var result = Where(hot, on.Expand(hot.ShapeArray), off.Expand(hot.ShapeArray));
        return result;
    }

    private static Tensor Pad(OnnxNode n)
    {
        var x = n.Input(0);
        long[] pads = (n.Opset < 11 ? n.Ints("pads") : n.IntsInput(1)) ?? throw new InvalidDataException($"ONNX {n.Describe}: no pads");
        double value = n.Opset < 11 ? n.Float("value", 0) : n.Optional(2) is { Numel: > 0 } v ? v.To(DType.Float64).ToArray<double>()[0] : 0;
        long[]? axes = n.Opset >= 18 ? n.IntsInput(3) : null;
        int[] axisList = axes?.Select(a => Axis(a, x.Rank, n)).ToArray() ?? Enumerable.Range(0, x.Rank).ToArray();
        var begin = new int[x.Rank];
        var end = new int[x.Rank];
        for (int i = 0; i < axisList.Length; i++)
        {
            begin[axisList[i]] = (int)pads[i];
            end[axisList[i]] = (int)pads[i + axisList.Length];
        }
        string mode = n.String("mode", "constant");
        if (mode != "constant") return PadByIndex(x, begin, end, mode == "reflect");
        // Tensor.Pad takes (before, after) pairs from the last dim backwards, as PyTorch's F.pad.
        var torchPads = new int[2 * x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            torchPads[2 * d] = begin[x.Rank - 1 - d];
            torchPads[2 * d + 1] = end[x.Rank - 1 - d];
        }
        return x.IsFloatingPoint ? x.Pad(torchPads, value) : x.To(DType.Float64).Pad(torchPads, value).To(x.DType);
    }
}
