using DeepSharp.NN;

namespace DeepSharp.Onnx;

// Layers: Gemm/MatMul, convolutions, pooling, normalisations, softmax.
internal static partial class OnnxOps
{
    private static void RegisterNeural(Dictionary<string, Op> ops)
    {
        ops["MatMul"] = n => One(n.Input(0).MatMul(n.Input(1)));
        ops["Gemm"] = n => One(Gemm(n));
        ops["Conv"] = n => One(Conv(n));
        ops["ConvTranspose"] = n => One(ConvTranspose(n));
        ops["MaxPool"] = n => One(Pool(n, max: true));
        ops["AveragePool"] = n => One(Pool(n, max: false));
        ops["GlobalAveragePool"] = n => One(n.Input(0).Mean(Enumerable.Range(2, n.Input(0).Rank - 2).ToArray(), keepDim: true));
        ops["GlobalMaxPool"] = n => One(GlobalMax(n.Input(0)));
        ops["BatchNormalization"] = n => BatchNorm(n);
        ops["LayerNormalization"] = n => LayerNorm(n);
        ops["InstanceNormalization"] = n => One(Functional.GroupNorm(n.Input(0), n.Input(0).ShapeArray[1], n.Input(1), n.Input(2), n.Float("epsilon", 1e-5)));
        ops["LRN"] = n => One(Functional.LocalResponseNorm(n.Input(0), (int)n.Int("size", 1), n.Float("alpha", 1e-4), n.Float("beta", 0.75), n.Float("bias", 1)));
        ops["Softmax"] = n => One(SoftmaxFamily(n, (x, d) => x.Softmax(d)));
        ops["LogSoftmax"] = n => One(SoftmaxFamily(n, (x, d) => x.LogSoftmax(d)));
        ops["Hardmax"] = n => One(SoftmaxFamily(n, Hardmax));
    }

    private static Tensor Gemm(OnnxNode n)
    {
        var a = n.Input(0);
        var b = n.Input(1);
        if (n.Int("transA", 0) != 0) a = a.T();
        if (n.Int("transB", 0) != 0) b = b.T();
        var y = a.MatMul(b);
        double alpha = n.Float("alpha", 1), beta = n.Float("beta", 1);
        if (alpha != 1) y = y * alpha;
        if (n.Optional(2) is { } c) y = y + (beta == 1 ? c : c * beta);
        return y;
    }

    /// <summary>Explicit (begin, end) pads per spatial dim from pads or auto_pad, for input sizes <paramref name="sizes"/>.</summary>
    private static (int[] Begin, int[] End) Pads(OnnxNode n, int[] sizes, long[] kernel, long[] strides, long[] dilations)
    {
        int d = sizes.Length;
        var begin = new int[d];
        var end = new int[d];
        string auto = n.String("auto_pad", "NOTSET");
        if (auto is "SAME_UPPER" or "SAME_LOWER")
        {
            for (int i = 0; i < d; i++)
            {
                long outSize = (sizes[i] + strides[i] - 1) / strides[i];
                long total = Math.Max(0, (outSize - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - sizes[i]);
                long small = total / 2;
                (begin[i], end[i]) = auto == "SAME_UPPER" ? ((int)small, (int)(total - small)) : ((int)(total - small), (int)small);
            }
        }
        else if (auto != "VALID" && n.Ints("pads") is { } pads)
        {
            for (int i = 0; i < d; i++) (begin[i], end[i]) = ((int)pads[i], (int)pads[i + d]);
        }
        return (begin, end);
    }

    /// <summary>Asymmetric padding: the symmetric part goes to the op, the rest is padded onto the input first with <paramref name="value"/>.</summary>
    private static (Tensor X, int[] Symmetric) SplitPads(Tensor x, int[] begin, int[] end, double value)
    {
        int d = begin.Length;
        var sym = new int[d];
        var extra = new int[2 * d];
        bool any = false;
        for (int i = 0; i < d; i++)
        {
            sym[i] = Math.Min(begin[i], end[i]);
            int axisFromLast = d - 1 - i;
            extra[2 * axisFromLast] = begin[i] - sym[i];
            extra[2 * axisFromLast + 1] = end[i] - sym[i];
            any |= begin[i] != end[i];
        }
        return (any ? x.Pad(extra, value) : x, sym);
    }

    private static Tensor Conv(OnnxNode n)
    {
        var x = n.Input(0);
        var w = n.Input(1);
        int d = x.Rank - 2;
        if (d is not (1 or 2 or 3)) throw n.Unsupported($"a {d}-D convolution");
        long[] kernel = n.Ints("kernel_shape") ?? w.ShapeArray[2..].Select(v => (long)v).ToArray();
        long[] strides = n.Ints("strides") ?? Enumerable.Repeat(1L, d).ToArray();
        long[] dilations = n.Ints("dilations") ?? Enumerable.Repeat(1L, d).ToArray();
        int groups = (int)n.Int("group", 1);
        var (begin, end) = Pads(n, x.ShapeArray[2..], kernel, strides, dilations);
        if (d == 3) return Conv3d(x.Pad(TorchPads(begin, end), 0), w, n.Optional(2), strides, dilations, groups);
        var (padded, sym) = SplitPads(x, begin, end, 0);
        var bias = n.Optional(2);
        return d == 1
            ? Functional.Conv1d(padded, w, bias, (int)strides[0], sym[0], (int)dilations[0], groups)
            : Functional.Conv2d(padded, w, bias, ((int)strides[0], (int)strides[1]), (sym[0], sym[1]), ((int)dilations[0], (int)dilations[1]), groups);
    }

    /// <summary>
    /// The full transposed convolution (no padding), then the pads cropped from its borders: this covers asymmetric
    /// pads, auto_pad and output_shape alike. 1-D runs as 2-D with a height of 1.
    /// </summary>
    private static Tensor ConvTranspose(OnnxNode n)
    {
        var x = n.Input(0);
        var w = n.Input(1);
        int d = x.Rank - 2;
        if (d is not (1 or 2)) throw n.Unsupported($"a {d}-D transposed convolution");
        long[] kernel = w.ShapeArray[2..].Select(v => (long)v).ToArray();
        long[] strides = n.Ints("strides") ?? Enumerable.Repeat(1L, d).ToArray();
        long[] dilations = n.Ints("dilations") ?? Enumerable.Repeat(1L, d).ToArray();
        long[] outPad = n.Ints("output_padding") ?? new long[d];
        var begin = new int[d];
        var end = new int[d];
        string auto = n.String("auto_pad", "NOTSET");
        long[]? outShape = n.Ints("output_shape");
        if (outShape is null && auto is "SAME_UPPER" or "SAME_LOWER") outShape = Enumerable.Range(0, d).Select(i => x.ShapeArray[2 + i] * strides[i]).ToArray();
        for (int i = 0; i < d; i++)
        {
            long full = (x.ShapeArray[2 + i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 + outPad[i];
            if (outShape is not null)
            {
                long total = full - outShape[^(d - i)];
                (begin[i], end[i]) = auto == "SAME_LOWER" ? ((int)(total - total / 2), (int)(total / 2)) : ((int)(total / 2), (int)(total - total / 2));
            }
            else if (n.Ints("pads") is { } pads) (begin[i], end[i]) = ((int)pads[i], (int)pads[i + d]);
        }
        if (d == 1)
        {
            x = x.Unsqueeze(2);
            w = w.Unsqueeze(2);
            (kernel, strides, dilations, outPad, begin, end) = ([1, .. kernel], [1, .. strides], [1, .. dilations], [0, .. outPad], [0, .. begin], [0, .. end]);
        }
        var y = Functional.ConvTranspose2d(x, w, n.Optional(2), ((int)strides[0], (int)strides[1]), (0, 0),
            ((int)outPad[0], (int)outPad[1]), (int)n.Int("group", 1), ((int)dilations[0], (int)dilations[1]));
        y = y.Pad(TorchPads(begin.Select(v => -v).ToArray(), end.Select(v => -v).ToArray()));
        return d == 1 ? y.Squeeze(2) : y;
    }

    private static Tensor Pool(OnnxNode n, bool max)
    {
        var x = n.Input(0);
        int d = x.Rank - 2;
        if (d is not (1 or 2 or 3)) throw n.Unsupported($"{d}-D pooling");
        long[] kernel = n.Ints("kernel_shape")!;
        long[] strides = n.Ints("strides") ?? Enumerable.Repeat(1L, d).ToArray();
        long[] dilations = n.Ints("dilations") ?? Enumerable.Repeat(1L, d).ToArray();
        bool ceil = n.Int("ceil_mode", 0) != 0;
        var (begin, end) = Pads(n, x.ShapeArray[2..], kernel, strides, dilations);
        if (!x.IsFloatingPoint) return Pool(WithInput(n, 0, x.To(DType.Float64)), max).To(x.DType);
        if (d == 3) return Pool3d(x, kernel, strides, dilations, begin, end, max, n.Int("count_include_pad", 0) != 0);
        if (!max)
        {
            bool includePad = n.Int("count_include_pad", 0) != 0;
            if (dilations.Any(v => v != 1)) throw n.Unsupported("dilated average pooling");
            bool simple = Enumerable.Range(0, d).All(i => begin[i] == end[i] && 2 * begin[i] <= kernel[i]);
            if (simple) return AvgPoolNd(x, kernel, strides, begin, ceil, includePad);
            // Pads a pooling layer cannot take: average the zero-padded input, then divide by the share of the
            // window that is real input (or by nothing when padding counts).
            int[] torchPads = TorchPads(begin, end);
            int[] none = new int[d];
            var sum = AvgPoolNd(x.Pad(torchPads, 0), kernel, strides, none, ceil, true);
            return includePad ? sum : sum / AvgPoolNd(Tensor.OnesLike(x).Pad(torchPads, 0), kernel, strides, none, ceil, true);
        }
        // Max pooling pads with -inf; pads larger than half the kernel (allowed by ONNX) go onto the input too.
        bool big = Enumerable.Range(0, d).Any(i => 2 * begin[i] > kernel[i] || 2 * end[i] > kernel[i]);
        var (mx, ms) = big ? (x.Pad(TorchPads(begin, end), double.NegativeInfinity), new int[d]) : SplitPads(x, begin, end, double.NegativeInfinity);
        return d == 1
            ? Functional.MaxPool1d(mx, (int)kernel[0], (int)strides[0], ms[0], (int)dilations[0], ceil)
            : Functional.MaxPool2d(mx, ((int)kernel[0], (int)kernel[1]), ((int)strides[0], (int)strides[1]), (ms[0], ms[1]), ((int)dilations[0], (int)dilations[1]), ceil);
    }

    /// <summary>
    /// 3-D convolution of an already padded input as a sum of 2-D convolutions, one per kernel depth, for each output
    /// depth: out[:, :, z] = sum_k conv2d(x[:, :, z s + k d], w[:, :, k]).
    /// </summary>
    private static Tensor Conv3d(Tensor x, Tensor w, Tensor? bias, long[] strides, long[] dilations, int groups)
    {
        int depth = x.ShapeArray[2], kd = w.ShapeArray[2];
        int outDepth = (depth - (int)dilations[0] * (kd - 1) - 1) / (int)strides[0] + 1;
        var planes = new Tensor[outDepth];
        for (int z = 0; z < outDepth; z++)
        {
            Tensor? acc = null;
            for (int k = 0; k < kd; k++)
            {
                var y = Functional.Conv2d(x.Select(2, z * (int)strides[0] + k * (int)dilations[0]), w.Select(2, k), null,
                    ((int)strides[1], (int)strides[2]), 0, ((int)dilations[1], (int)dilations[2]), groups);
                acc = acc is null ? y : acc + y;
            }
            planes[z] = acc!;
        }
        var result = Tensor.Stack(planes, 2);
        return bias is null ? result : result + bias.Reshape(bias.Numel, 1, 1, 1);
    }

    /// <summary>3-D pooling: each output depth reduces its (dilated) depth window, then pools the plane in 2-D.</summary>
    private static Tensor Pool3d(Tensor x, long[] kernel, long[] strides, long[] dilations, int[] begin, int[] end, bool max, bool includePad)
    {
        var padded = x.Pad(TorchPads(begin, end), max ? double.NegativeInfinity : 0);
        Tensor Plane(Tensor t, int z)
        {
            var window = t.Slice(2, z * (int)strides[0], z * (int)strides[0] + (int)(dilations[0] * (kernel[0] - 1)) + 1, (int)dilations[0]);
            var reduced = max ? window.Max(2).Values : window.Mean(2);
            return max
                ? Functional.MaxPool2d(reduced, ((int)kernel[1], (int)kernel[2]), ((int)strides[1], (int)strides[2]), 0, ((int)dilations[1], (int)dilations[2]))
                : Functional.AvgPool2d(reduced, ((int)kernel[1], (int)kernel[2]), ((int)strides[1], (int)strides[2]), 0);
        }
        int outDepth = (padded.ShapeArray[2] - (int)(dilations[0] * (kernel[0] - 1)) - 1) / (int)strides[0] + 1;
        var result = Tensor.Stack(Enumerable.Range(0, outDepth).Select(z => Plane(padded, z)).ToArray(), 2);
        if (max || includePad || begin.All(p => p == 0) && end.All(p => p == 0)) return result;
        // count_include_pad = 0: divide by the share of each window that is real input.
        var mask = Tensor.OnesLike(x).Pad(TorchPads(begin, end), 0);
        return result / Tensor.Stack(Enumerable.Range(0, outDepth).Select(z => Plane(mask, z)).ToArray(), 2);
    }

    private static Tensor AvgPoolNd(Tensor x, long[] kernel, long[] strides, int[] pads, bool ceil, bool includePad) => kernel.Length == 1
        ? Functional.AvgPool2d(x.Unsqueeze(2), (1, (int)kernel[0]), (1, (int)strides[0]), (0, pads[0]), ceil, includePad).Squeeze(2)
        : Functional.AvgPool2d(x, ((int)kernel[0], (int)kernel[1]), ((int)strides[0], (int)strides[1]), (pads[0], pads[1]), ceil, includePad);

    private static OnnxNode WithInput(OnnxNode n, int i, Tensor value)
    {
        var copy = new OnnxNode(n.Proto, n.Opset, n.Training) { Inputs = (Tensor?[])n.Inputs.Clone() };
        copy.Inputs[i] = value;
        return copy;
    }

    private static int[] TorchPads(int[] begin, int[] end)
    {
        int d = begin.Length;
        var p = new int[2 * d];
        for (int i = 0; i < d; i++) (p[2 * (d - 1 - i)], p[2 * (d - 1 - i) + 1]) = (begin[i], end[i]);
        return p;
    }

    private static Tensor GlobalMax(Tensor x)
    {
        for (int axis = x.Rank - 1; axis >= 2; axis--) x = x.Max(axis, keepDim: true).Values;
        return x;
    }

    private static Tensor?[] BatchNorm(OnnxNode n)
    {
        if (n.Opset >= 14 && n.Int("training_mode", 0) != 0) return BatchNormTraining(n);
        if (n.Int("training_mode", 0) != 0 || n.OutputCount > 1 && n.Proto.Output.Skip(1).Any(o => o.Length > 0))
            throw n.Unsupported("training-mode BatchNormalization before opset 14");
        var x = n.Input(0);
        return One(Functional.BatchNorm(x, n.Input(3), n.Input(4), n.Input(1), n.Input(2), training: false, eps: n.Float("epsilon", 1e-5)));
    }

    /// <summary>
    /// Training-mode BatchNormalization (opset 14+): Y normalised with the batch mean and biased variance over every
    /// axis but 1, and the running statistics input * momentum + batch * (1 - momentum).
    /// </summary>
    private static Tensor?[] BatchNormTraining(OnnxNode n)
    {
        var x = n.Input(0);
        if (x.Rank < 2) throw new InvalidDataException($"ONNX {n.Describe}: input {Shapes.Format(x.ShapeArray)} has no channel axis");
        int[] axes = [0, .. Enumerable.Range(2, x.Rank - 2)];
        var shape = Enumerable.Repeat(1, x.Rank).ToArray();
        shape[1] = x.ShapeArray[1];
        var mean = x.Mean(axes, true);
        var centered = x - mean;
        var variance = (centered * centered).Mean(axes, true);
        var y = centered / (variance + n.Float("epsilon", 1e-5)).Sqrt() * n.Input(1).Reshape(shape) + n.Input(2).Reshape(shape);
        double momentum = n.Float("momentum", 0.9);
        var runningMean = n.Input(3) * momentum + mean.Reshape(shape[1]) * (1 - momentum);
        var runningVar = n.Input(4) * momentum + variance.Reshape(shape[1]) * (1 - momentum);
        return [y, runningMean, runningVar];
    }

    /// <summary>Y, and the optional Mean and InvStdDev outputs (over the normalised axes, kept as size 1).</summary>
    private static Tensor?[] LayerNorm(OnnxNode n)
    {
        var y = LayerNormY(n);
        if (n.OutputCount == 1) return [y];
        var x = n.Input(0);
        int axis = Axis(n.Int("axis", -1), x.Rank, n);
        int[] dims = Enumerable.Range(axis, x.Rank - axis).ToArray();
        var mean = x.Mean(dims, keepDim: true);
        var variance = x.Var(dims, unbiased: false, keepDim: true);
        return [y, mean, (variance + n.Float("epsilon", 1e-5)).Rsqrt()];
    }

    private static Tensor LayerNormY(OnnxNode n)
    {
        var x = n.Input(0);
        int axis = Axis(n.Int("axis", -1), x.Rank, n);
        int[] shape = x.ShapeArray[axis..];
        var scale = n.Input(1);
        var bias = n.Optional(2);
        // Functional.LayerNorm wants weight/bias of the normalised shape; ONNX allows anything that broadcasts to it.
        if (!scale.ShapeArray.SequenceEqual(shape)) scale = Expand(scale, shape.Select(v => (long)v).ToArray());
        if (bias is not null && !bias.ShapeArray.SequenceEqual(shape)) bias = Expand(bias, shape.Select(v => (long)v).ToArray());
        return Functional.LayerNorm(x, shape, scale, bias, n.Float("epsilon", 1e-5));
    }

    /// <summary>Opset 13 on: along one axis (default -1). Before: over the flattened dims from axis on (default 1).</summary>
    private static Tensor SoftmaxFamily(OnnxNode n, Func<Tensor, int, Tensor> f)
    {
        var x = n.Input(0);
        if (n.Opset >= 13) return f(x, Axis(n.Int("axis", -1), x.Rank, n));
        int axis = Axis(n.Int("axis", 1), x.Rank, n);
        int outer = x.ShapeArray[..axis].Aggregate(1, (a, b) => a * b);
        return f(x.Reshape(outer, -1), 1).Reshape(x.ShapeArray);
    }

    private static Tensor Hardmax(Tensor x, int dim)
    {
        var index = x.Argmax(dim, keepDim: true);
        var values = Tensor.Zeros(x.ShapeArray, DType.Float64);
        return values.ScatterAdd(dim, index, Tensor.Ones(index.ShapeArray, DType.Float64)).To(x.DType);
    }
}
