using DeepSharp.NN;

namespace DeepSharp.Onnx;

/// <summary>
/// The ONNX nodes of the standard layers in eval mode, opset 17. An explicit switch over the layer types (no
/// reflection), as ModelZoo: a new layer adds a case here. Parameters keep their state-dict keys as initializer names.
/// </summary>
internal static class OnnxLayerExport
{
    /// <summary>The output of <paramref name="module"/> on <paramref name="x"/>, or null when the type has no exporter here.</summary>
    public static OnnxValue? Export(OnnxGraphBuilder g, Module<Tensor, Tensor> module, OnnxValue x)
    {
        var y = module switch
        {
            Sequential seq => seq.Aggregate(x, (v, layer) => g.Module(layer, v)),
            Identity or Dropout or Dropout2d => x,
            Flatten f => g.Flatten(x, f.StartDim, f.EndDim),
            Unflatten u => g.Node("Reshape", [x, g.Ints("shape", UnflattenShape(u, x))], u.Forward(x.Sample)),
            Linear l => Linear(g, x, l.Weight, l.Bias, l.Forward(x.Sample)),
            Conv2d c => Conv2d(g, c, x),
            Conv1d c => Conv1d(g, c, x),
            ConvTranspose2d c => ConvTranspose2d(g, c, x),
            MaxPool2d p => MaxPool2d(g, p, x),
            MaxPool1d p => g.Node("MaxPool", [x], p.Forward(x.Sample), OnnxAttribute.Ints("kernel_shape", p.KernelSize),
                OnnxAttribute.Ints("strides", p.Stride), OnnxAttribute.Ints("pads", p.Padding, p.Padding),
                OnnxAttribute.Ints("dilations", p.Dilation), OnnxAttribute.Int("ceil_mode", p.CeilMode ? 1 : 0)),
            AvgPool2d p => AvgPool2d(g, p, x),
            AdaptiveAvgPool2d p => AdaptivePool2d(g, x, p.OutputSize, max: false, p.Forward(x.Sample)),
            AdaptiveMaxPool2d p => AdaptivePool2d(g, x, p.OutputSize, max: true, p.Forward(x.Sample)),
            BatchNormBase bn => BatchNorm(g, bn, x),
            LayerNorm ln => LayerNorm(g, ln, x),
            GroupNorm gn => GroupNorm(g, gn, x),
            LocalResponseNorm lrn => g.Node("LRN", [x], lrn.Forward(x.Sample), OnnxAttribute.Int("size", lrn.Size),
                OnnxAttribute.Float("alpha", lrn.Alpha), OnnxAttribute.Float("beta", lrn.Beta), OnnxAttribute.Float("bias", lrn.K)),
            Embedding e => g.Node("Gather", [g.Initializer(e.Weight), x], e.Forward(x.Sample), OnnxAttribute.Int("axis", 0)),
            Relu => g.Relu(x),
            Sigmoid => g.Sigmoid(x),
            Tanh => g.Tanh(x),
            LeakyRelu a => g.Node("LeakyRelu", [x], a.Forward(x.Sample), OnnxAttribute.Float("alpha", a.NegativeSlope)),
            Elu a => g.Node("Elu", [x], a.Forward(x.Sample), OnnxAttribute.Float("alpha", a.Alpha)),
            Gelu a => Gelu(g, x, a.Approximate),
            Softplus a => Softplus(g, x, a),
            Softmax a => g.Softmax(x, a.Dim),
            LogSoftmax a => g.LogSoftmax(x, a.Dim),
            Step s => g.Node("Cast", [g.Node("Greater", [x, g.Scalar(0, x)], x.Sample.Gt(0))], s.Forward(x.Sample),
                OnnxAttribute.Int("to", OnnxTensors.ElementType(x.Sample.DType))),
            TransformerEncoderLayer t => OnnxTransformerExport.EncoderLayer(g, t, x),
            Models.Gpt gpt => OnnxGptExport.Model(g, gpt, x),
            Models.GptBlock b => OnnxGptExport.Block(g, b, x),
            Models.CausalSelfAttention a => OnnxGptExport.Attention(g, a, x),
            Models.GptMlp m => OnnxGptExport.Mlp(g, m, x),
            Models.GptLayerNorm ln => OnnxGptExport.LayerNorm(g, ln, x),
            Models.TiedLinear l => OnnxGptExport.TiedLinear(g, l, x),
            _ => null,
        };
        return y;
    }

    private static long[] UnflattenShape(Unflatten u, OnnxValue x)
    {
        int dim = u.Dim < 0 ? u.Dim + x.Rank : u.Dim;
        var shape = new List<long>();
        for (int i = 0; i < dim; i++) shape.Add(0);
        shape.AddRange(u.Sizes.Select(s => (long)s));
        for (int i = dim + 1; i < x.Rank; i++) shape.Add(x.Shape[i]);
        return [.. shape];
    }

    /// <summary>y = x W^T + b: Gemm for [N, in] inputs; MatMul with the transposed weight (and Add) for more dimensions.</summary>
    internal static OnnxValue Linear(OnnxGraphBuilder g, OnnxValue x, Tensor weight, Tensor? bias, Tensor output)
    {
        var w = g.Initializer(weight);
        var b = bias is null ? null : g.Initializer(bias);
        if (x.Rank == 2) return g.Node("Gemm", [x, w, b], output, OnnxAttribute.Int("transB", 1));
        var wt = g.Node("Transpose", [w], weight.Detach().T(), OnnxAttribute.Ints("perm", 1, 0));
        var xw = g.Node("MatMul", [x, wt], b is null ? output : x.Sample.MatMul(weight.Detach().T()));
        return b is null ? xw : g.Node("Add", [xw, b], output);
    }

    private static void RequireBatched(string layer, OnnxValue x, int rank)
    {
        if (x.Rank != rank)
            throw new NotSupportedException($"ONNX export: {layer} needs a batched input of rank {rank}, got {Shapes.Format(x.Sample.ShapeArray)}");
    }

    private static OnnxValue Conv2d(OnnxGraphBuilder g, Conv2d c, OnnxValue x)
    {
        RequireBatched("Conv2d", x, 4);
        var (pad, extra) = c.Padding.Resolve("Conv2d", c.KernelSize, c.Dilation, c.Stride);
        return g.Node("Conv", [x, g.Initializer(c.Weight), c.Bias is null ? null : g.Initializer(c.Bias)], c.Forward(x.Sample),
            OnnxAttribute.Ints("kernel_shape", c.KernelSize.H, c.KernelSize.W),
            OnnxAttribute.Ints("strides", c.Stride.H, c.Stride.W),
            OnnxAttribute.Ints("pads", pad.H, pad.W, pad.H + extra.H, pad.W + extra.W),
            OnnxAttribute.Ints("dilations", c.Dilation.H, c.Dilation.W),
            OnnxAttribute.Int("group", c.Groups));
    }

    private static OnnxValue Conv1d(OnnxGraphBuilder g, Conv1d c, OnnxValue x)
    {
        RequireBatched("Conv1d", x, 3);
        var (pad, extra) = c.Padding.Resolve("Conv1d", (1, c.KernelSize), (1, c.Dilation), (1, c.Stride));
        return g.Node("Conv", [x, g.Initializer(c.Weight), c.Bias is null ? null : g.Initializer(c.Bias)], c.Forward(x.Sample),
            OnnxAttribute.Ints("kernel_shape", c.KernelSize), OnnxAttribute.Ints("strides", c.Stride),
            OnnxAttribute.Ints("pads", pad.W, pad.W + extra.W), OnnxAttribute.Ints("dilations", c.Dilation),
            OnnxAttribute.Int("group", c.Groups));
    }

    private static OnnxValue ConvTranspose2d(OnnxGraphBuilder g, ConvTranspose2d c, OnnxValue x)
    {
        RequireBatched("ConvTranspose2d", x, 4);
        return g.Node("ConvTranspose", [x, g.Initializer(c.Weight), c.Bias is null ? null : g.Initializer(c.Bias)], c.Forward(x.Sample),
            OnnxAttribute.Ints("kernel_shape", c.KernelSize.H, c.KernelSize.W),
            OnnxAttribute.Ints("strides", c.Stride.H, c.Stride.W),
            OnnxAttribute.Ints("pads", c.Padding.H, c.Padding.W, c.Padding.H, c.Padding.W),
            OnnxAttribute.Ints("output_padding", c.OutputPadding.H, c.OutputPadding.W),
            OnnxAttribute.Ints("dilations", c.Dilation.H, c.Dilation.W),
            OnnxAttribute.Int("group", c.Groups));
    }

    private static OnnxValue MaxPool2d(OnnxGraphBuilder g, MaxPool2d p, OnnxValue x)
    {
        RequireBatched("MaxPool2d", x, 4);
        return g.Node("MaxPool", [x], p.Forward(x.Sample),
            OnnxAttribute.Ints("kernel_shape", p.KernelSize.H, p.KernelSize.W),
            OnnxAttribute.Ints("strides", p.Stride.H, p.Stride.W),
            OnnxAttribute.Ints("pads", p.Padding.H, p.Padding.W, p.Padding.H, p.Padding.W),
            OnnxAttribute.Ints("dilations", p.Dilation.H, p.Dilation.W),
            OnnxAttribute.Int("ceil_mode", p.CeilMode ? 1 : 0));
    }

    private static OnnxValue AvgPool2d(OnnxGraphBuilder g, AvgPool2d p, OnnxValue x)
    {
        RequireBatched("AvgPool2d", x, 4);
        if (p.DivisorOverride is not null)
            throw new NotSupportedException("ONNX export: AvgPool2d with divisor_override has no ONNX AveragePool equivalent");
        return g.Node("AveragePool", [x], p.Forward(x.Sample),
            OnnxAttribute.Ints("kernel_shape", p.KernelSize.H, p.KernelSize.W),
            OnnxAttribute.Ints("strides", p.Stride.H, p.Stride.W),
            OnnxAttribute.Ints("pads", p.Padding.H, p.Padding.W, p.Padding.H, p.Padding.W),
            OnnxAttribute.Int("count_include_pad", p.CountIncludePad ? 1 : 0),
            OnnxAttribute.Int("ceil_mode", p.CeilMode ? 1 : 0));
    }

    /// <summary>
    /// Adaptive pooling: a global pool for 1x1, one strided pool when the input divides evenly, else PyTorch's
    /// uneven windows [floor(i in/out), ceil((i+1) in/out)) as slices reduced and concatenated, height then width.
    /// </summary>
    private static OnnxValue AdaptivePool2d(OnnxGraphBuilder g, OnnxValue x, Size2d output, bool max, Tensor result)
    {
        RequireBatched(max ? "AdaptiveMaxPool2d" : "AdaptiveAvgPool2d", x, 4);
        int h = x.Shape[2], w = x.Shape[3];
        if (output.H == 1 && output.W == 1) return g.Node(max ? "GlobalMaxPool" : "GlobalAveragePool", [x], result);
        if (h % output.H == 0 && w % output.W == 0)
        {
            int kh = h / output.H, kw = w / output.W;
            return g.Node(max ? "MaxPool" : "AveragePool", [x], result,
                OnnxAttribute.Ints("kernel_shape", kh, kw), OnnxAttribute.Ints("strides", kh, kw));
        }
        var rows = AdaptiveAxis(g, x, 2, output.H, max);
        return AdaptiveAxis(g, rows, 3, output.W, max);
    }

    private static OnnxValue AdaptiveAxis(OnnxGraphBuilder g, OnnxValue x, int axis, int outSize, bool max)
    {
        int size = x.Shape[axis];
        if (size == outSize) return x;
        var parts = new List<OnnxValue>();
        for (int i = 0; i < outSize; i++)
        {
            int start = i * size / outSize, end = ((i + 1) * size + outSize - 1) / outSize;
            var slice = g.Node("Slice", [x, g.Ints("starts", start), g.Ints("ends", end), g.Ints("axes", axis)], x.Sample.Narrow(axis, start, end - start));
            var reduced = max ? slice.Sample.Max(axis, keepDim: true).Values : slice.Sample.Mean(axis, keepDim: true);
            parts.Add(g.Node(max ? "ReduceMax" : "ReduceMean", [slice], reduced, OnnxAttribute.Ints("axes", axis), OnnxAttribute.Int("keepdims", 1)));
        }
        return g.Concat(parts, axis);
    }

    private static OnnxValue BatchNorm(OnnxGraphBuilder g, BatchNormBase bn, OnnxValue x)
    {
        if (bn.RunningMean is null || bn.RunningVar is null)
            throw new NotSupportedException($"ONNX export: {bn.TypeName} without running statistics (track_running_stats=False) normalises with batch statistics even in eval mode, which ONNX's BatchNormalization does not");
        var dt = bn.RunningMean.DType;
        var scale = bn.Weight is null ? g.Constant(Tensor.Ones([bn.NumFeatures], dt), "scale") : g.Initializer(bn.Weight);
        var bias = bn.Bias is null ? g.Constant(Tensor.Zeros([bn.NumFeatures], dt), "bias") : g.Initializer(bn.Bias);
        return g.Node("BatchNormalization", [x, scale, bias, g.Initializer(bn.RunningMean), g.Initializer(bn.RunningVar)], bn.Forward(x.Sample),
            OnnxAttribute.Float("epsilon", bn.Eps));
    }

    private static OnnxValue LayerNorm(OnnxGraphBuilder g, LayerNorm ln, OnnxValue x)
    {
        int[] shape = [.. ln.NormalizedShape];
        var dt = x.Sample.DType;
        var scale = ln.Weight is null ? g.Constant(Tensor.Ones(shape, dt), "scale") : g.Initializer(ln.Weight);
        var bias = ln.Bias is null ? g.Constant(Tensor.Zeros(shape, dt), "bias") : g.Initializer(ln.Bias);
        return g.Node("LayerNormalization", [x, scale, bias], ln.Forward(x.Sample),
            OnnxAttribute.Int("axis", -shape.Length), OnnxAttribute.Float("epsilon", ln.Eps));
    }

    /// <summary>
    /// GroupNormalization is opset 18, so: reshape to [N, groups, -1], InstanceNormalization (per sample and group),
    /// reshape back, then the per-channel affine transform.
    /// </summary>
    private static OnnxValue GroupNorm(OnnxGraphBuilder g, GroupNorm gn, OnnxValue x)
    {
        var dt = x.Sample.DType;
        var grouped = g.Reshape(x, 0, gn.NumGroups, -1);
        var normed = g.Node("InstanceNormalization",
            [grouped, g.Constant(Tensor.Ones([gn.NumGroups], dt), "ones"), g.Constant(Tensor.Zeros([gn.NumGroups], dt), "zeros")],
            Tensor.GroupNorm(grouped.Sample.Unsqueeze(-1), gn.NumGroups, null, null, gn.Eps).Squeeze(-1), OnnxAttribute.Float("epsilon", gn.Eps));
        var back = g.Node("Reshape", [normed, g.Node("Shape", [x], Tensor.From(x.Shape.Select(d => (long)d).ToArray(), x.Rank))],
            normed.Sample.Reshape([.. x.Shape]));
        if (gn.Weight is null && gn.Bias is null) return back;
        var perChannel = new int[x.Rank - 1];
        perChannel[0] = gn.NumChannels;
        for (int i = 1; i < perChannel.Length; i++) perChannel[i] = 1;
        var y = back;
        if (gn.Weight is not null) y = g.Mul(y, g.Reshape(g.Initializer(gn.Weight), perChannel.Select(d => (long)d).ToArray()));
        if (gn.Bias is not null) y = g.Add(y, g.Reshape(g.Initializer(gn.Bias), perChannel.Select(d => (long)d).ToArray()));
        return y;
    }

    /// <summary>GELU has no operator before opset 20: x/2 (1 + erf(x/sqrt 2)), or the tanh formula.</summary>
    internal static OnnxValue Gelu(OnnxGraphBuilder g, OnnxValue x, GeluApproximation approximate)
    {
        OnnxValue inner;
        if (approximate == GeluApproximation.Tanh)
        {
            var cube = g.Mul(g.Mul(x, x), x);
            var poly = g.Add(x, g.Mul(cube, g.Scalar(0.044715, x)));
            inner = g.Tanh(g.Mul(poly, g.Scalar(Math.Sqrt(2 / Math.PI), x)));
        }
        else
        {
            var scaled = g.Div(x, g.Scalar(Math.Sqrt(2), x));
            inner = g.Node("Erf", [scaled], scaled.Sample.Erf());
        }
        var half = g.Mul(x, g.Scalar(0.5, x));
        return g.Mul(half, g.Add(inner, g.Scalar(1, x)));
    }

    /// <summary>log(1 + e^{beta x}) / beta, and x itself where beta x exceeds the threshold (as PyTorch).</summary>
    private static OnnxValue Softplus(OnnxGraphBuilder g, OnnxValue x, Softplus s)
    {
        var bx = g.Mul(x, g.Scalar(s.Beta, x));
        var soft = g.Div(g.Node("Softplus", [bx], bx.Sample.Softplus()), g.Scalar(s.Beta, x));
        var over = g.Node("Greater", [bx, g.Scalar(s.Threshold, x)], bx.Sample.Gt(s.Threshold));
        return g.Node("Where", [over, x, soft], s.Forward(x.Sample));
    }
}
