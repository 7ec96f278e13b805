namespace DeepSharp.Onnx;

// Reductions (axes as an attribute before opset 18 (ReduceSum: 13), as an input after) and ArgMax/ArgMin.
internal static partial class OnnxOps
{
    private static void RegisterReductions(Dictionary<string, Op> ops)
    {
        ops["ReduceSum"] = n => One(Reduce(n, 13, (x, d, k) => x.Sum(d, k)));
        ops["ReduceMean"] = n => One(Reduce(n, 18, (x, d, k) => x.Mean(d, k)));
        ops["ReduceMax"] = n => One(Reduce(n, 18, (x, d, k) => EachAxis(x, d, k, (t, a) => t.Max(a, true).Values)));
        ops["ReduceMin"] = n => One(Reduce(n, 18, (x, d, k) => EachAxis(x, d, k, (t, a) => t.Min(a, true).Values)));
        ops["ReduceProd"] = n => One(Reduce(n, 18, (x, d, k) => EachAxis(x, d, k, (t, a) => t.Prod(a, true))));
        ops["ReduceSumSquare"] = n => One(Reduce(n, 18, (x, d, k) => (x * x).Sum(d, k)));
        ops["ReduceL1"] = n => One(Reduce(n, 18, (x, d, k) => x.Abs().Sum(d, k)));
        ops["ReduceL2"] = n => One(Reduce(n, 18, (x, d, k) => (x * x).Sum(d, k).Sqrt()));
        ops["ReduceLogSum"] = n => One(Reduce(n, 18, (x, d, k) => x.Sum(d, k).Log()));
        ops["ReduceLogSumExp"] = n => One(Reduce(n, 18, (x, d, k) => x.LogSumExp(d, k)));
        ops["ArgMax"] = n => One(ArgReduce(n, (x, d, k) => x.Argmax(d, k)));
        ops["ArgMin"] = n => One(ArgReduce(n, (x, d, k) => x.Argmin(d, k)));
        ops["CumSum"] = n => One(CumSum(n));
    }

    private static Tensor Reduce(OnnxNode n, int axesInputFrom, Func<Tensor, int[], bool, Tensor> f)
    {
        var x = n.Input(0);
        long[]? axes = n.Opset < axesInputFrom ? n.Ints("axes") : n.IntsInput(1);
        bool keep = n.Int("keepdims", 1) != 0;
        if (axes is null || axes.Length == 0)
        {
            if (n.Int("noop_with_empty_axes", 0) != 0) return x;
            axes = Enumerable.Range(0, x.Rank).Select(a => (long)a).ToArray();
        }
        if (x.Rank == 0) return x;
        var dims = axes.Select(a => Axis(a, x.Rank, n)).Distinct().Order().ToArray();
        bool integer = !x.IsFloatingPoint;
        var result = f(integer ? x.To(DType.Float64) : x, dims, keep);
        return integer ? result.To(x.DType) : result;
    }

    /// <summary>A reduction DeepSharp offers one axis at a time, applied to each (kept), then the axes dropped unless kept.</summary>
    private static Tensor EachAxis(Tensor x, int[] dims, bool keep, Func<Tensor, int, Tensor> f)
    {
        foreach (int d in dims) x = f(x, d);
        if (keep) return x;
        for (int i = dims.Length - 1; i >= 0; i--) x = x.Squeeze(dims[i]);
        return x;
    }

    private static Tensor ArgReduce(OnnxNode n, Func<Tensor, int, bool, Tensor> f)
    {
        var x = n.Input(0);
        var t = x.IsFloatingPoint ? x : x.To(DType.Float64);
        int axis = Axis(n.Int("axis", 0), x.Rank, n);
        bool keep = n.Int("keepdims", 1) != 0;
        if (n.Int("select_last_index", 0) == 0) return f(t, axis, keep);
        // The last of equal extremes: the first in the flipped tensor, mapped back.
        var flipped = f(Flip(t, axis), axis, keep);
        return Arith(Tensor.Scalar(x.ShapeArray[axis] - 1, DType.Int64), flipped, (a, b) => a - b);
    }

    private static Tensor CumSum(OnnxNode n)
    {
        var x = n.Input(0);
        int axis = Axis(n.IntsInput(1)![0], x.Rank, n);
        bool exclusive = n.Int("exclusive", 0) != 0, reverse = n.Int("reverse", 0) != 0;
        var t = x.IsFloatingPoint ? x : x.To(DType.Float64);
        if (reverse) t = Flip(t, axis);
        var sum = t.Cumsum(axis);
        if (exclusive) sum = sum - t;
        if (reverse) sum = Flip(sum, axis);
        return x.IsFloatingPoint ? sum : sum.To(x.DType);
    }

    private static Tensor Flip(Tensor x, int axis)
    {
        int size = x.ShapeArray[axis];
        var index = Enumerable.Range(0, size).Select(i => (long)(size - 1 - i)).ToArray();
        return x.IndexSelect(axis, Tensor.From(index, size));
    }
}
