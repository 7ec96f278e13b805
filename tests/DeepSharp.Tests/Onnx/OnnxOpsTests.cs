using DeepSharp.Onnx;
using DeepSharp.Onnx.Proto;
using DeepSharp.Optim;
using Google.Protobuf;

namespace DeepSharp.Tests.Onnx;

/// <summary>
/// The importer's training-side operators on graphs built in code: a GRU with ONNX's default linear_before_reset=0,
/// an Einsum head and a SoftmaxCrossEntropyLoss fine-tune together (gradients reach every initializer), and
/// settings DeepSharp does not implement are reported when the model loads.
/// </summary>
public sealed class OnnxOpsTests
{
    private const int Steps = 3, Batch = 4, Features = 5, Hidden = 6, Classes = 3;

    private static ValueInfoProto Value(string name, int elementType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } };
    }

    private static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>x [T, N, I] -> GRU (lbr=0, bidirectional) -> Einsum "dnh,dhc->nc" with a head per direction -> SoftmaxCrossEntropyLoss (mean, weights, ignore_index).</summary>
    private static byte[] GruEinsumLossModel(Generator g)
    {
        var graph = new GraphProto { Name = "gru_einsum_sce" };
        graph.Input.Add(Value("x", OnnxTensors.Float, Steps, Batch, Features));
        graph.Input.Add(Value("labels", OnnxTensors.Int64, Batch));
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.Randn([2, 3 * Hidden, Features], g) * 0.4, "W"));
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.Randn([2, 3 * Hidden, Hidden], g) * 0.4, "R"));
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.Randn([2, 6 * Hidden], g) * 0.1, "B"));
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.Randn([2, Hidden, Classes], g) * 0.4, "head"));
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.From([1f, 2f, 0.5f], Classes), "class_weight"));
        graph.Node.Add(new NodeProto
        {
            OpType = "GRU", Name = "gru", Input = { "x", "W", "R", "B" }, Output = { "", "h" },
            Attribute = { Attr("hidden_size", Hidden), Attr("direction", "bidirectional") },
        });
        graph.Node.Add(new NodeProto { OpType = "Einsum", Name = "head", Input = { "h", "head" }, Output = { "scores" }, Attribute = { Attr("equation", "dnh,dhc->nc") } });
        graph.Node.Add(new NodeProto
        {
            OpType = "SoftmaxCrossEntropyLoss", Name = "loss", Input = { "scores", "labels", "class_weight" }, Output = { "loss" },
            Attribute = { Attr("ignore_index", -1) },
        });
        graph.Output.Add(Value("loss", OnnxTensors.Float));
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        return model.ToByteArray();
    }

    [Fact]
    public void GruEinsumAndSoftmaxCrossEntropyFineTune()
    {
        var g = new Generator(7);
        var model = OnnxModel.Load(GruEinsumLossModel(g));
        var inputs = new Dictionary<string, Tensor>
        {
            ["x"] = Tensor.Randn([Steps, Batch, Features], g),
            ["labels"] = Tensor.From(new long[] { 0, 2, -1, 1 }, Batch), // the third is ignored
        };
        var parameters = model.Parameters().ToList();
        Assert.Equal(5, parameters.Count);
        var optimizer = new Sgd(parameters, new SgdOptions(Lr: 0.5));
        model.Train();
        double first = 0, last = 0;
        for (int step = 0; step < 20; step++)
        {
            optimizer.ZeroGrad();
            var loss = model.Run(inputs)["loss"];
            Assert.Equal(0, loss.Rank);
            loss.Backward();
            if (step == 0)
            {
                first = loss.ToDouble();
                foreach (var p in parameters.Where(p => p.Rank == 3)) // W, R and both heads
                    Assert.True(p.Grad is { } grad && grad.Abs().Sum().ToDouble() > 0, $"no gradient reached a parameter of shape {Shapes.Format(p.ShapeArray)}");
            }
            optimizer.Step();
            last = loss.ToDouble();
        }
        Assert.True(double.IsFinite(first) && last < 0.5 * first, $"fine-tuning through GRU(lbr=0), Einsum and the loss should lower the loss: {first} -> {last}");
    }

    [Fact]
    public void UnimplementedSettingsAreReportedAtLoad()
    {
        var graph = new GraphProto { Name = "g" };
        graph.Input.Add(Value("x", OnnxTensors.Float, 1, 1, 4, 4));
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.From([1f, 1f, 0.5f, 0.5f], 4), "scales"));
        graph.Node.Add(new NodeProto { OpType = "Resize", Name = "down", Input = { "x", "", "scales" }, Output = { "y" }, Attribute = { Attr("mode", "linear"), Attr("antialias", 1) } });
        graph.Output.Add(Value("y", OnnxTensors.Float));
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 18 });
        var e = Assert.Throws<NotSupportedException>(() => OnnxModel.Load(model.ToByteArray()));
        Assert.Contains("Resize(antialias)", e.Message, StringComparison.Ordinal);
    }

    private static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    /// <summary>
    /// One-node graphs of the differentiable new operators: checks their gradients in float64 against finite
    /// differences for every input named in <c>wrt</c> (the others are fixed initializers).
    /// </summary>
    public static TheoryData<string> GradientCases() =>
        ["Resize linear", "Resize cubic", "GridSample", "ScatterND", "ScatterElements mul", "GatherND", "Einsum", "Einsum diagonal", "Einsum chain",
         "NegativeLogLikelihoodLoss", "GRU reverse lengths", "DFT", "RoiAlign"];

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void NewOperatorsHaveCorrectGradients(string name)
    {
        var g = new Generator(11);
        Tensor R(params int[] shape) => Tensor.Randn(shape, g, DType.Float64);
        Tensor F(double[] values, params int[] shape) => Tensor.From(values, shape);
        Tensor L(long[] values, params int[] shape) => Tensor.From(values, shape);
        var (op, opset, inputs, wrt, attrs) = name switch
        {
            "Resize linear" => ("Resize", 13, new (string, Tensor?)[] { ("x", R(1, 1, 3, 4)), ("", null), ("scales", F([1, 1, 2, 1.5], 4)) }, new[] { "x" },
                new[] { Attr("mode", "linear") }),
            "Resize cubic" => ("Resize", 13, [("x", R(1, 1, 4, 3)), ("", null), ("", null), ("sizes", L([1, 1, 3, 5], 4))], ["x"],
                [Attr("mode", "cubic"), Attr("coordinate_transformation_mode", "align_corners")]),
            "GridSample" => ("GridSample", 16, [("x", R(1, 2, 3, 4)), ("grid", Tensor.Rand([1, 2, 3, 2], g, DType.Float64) * 2.2 - 1.1)], ["x"],
                [Attr("padding_mode", "border")]),
            "ScatterND" => ("ScatterND", 13, [("data", R(4, 3)), ("indices", L([1, 3], 2, 1)), ("updates", R(2, 3))], ["data", "updates"], []),
            "ScatterElements mul" => ("ScatterElements", 16, [("data", R(3, 3)), ("indices", L([1, 0, 2, 1, 2, 2], 2, 3)), ("updates", R(2, 3))],
                ["data", "updates"], [Attr("reduction", "mul")]),
            "GatherND" => ("GatherND", 13, [("data", R(2, 3, 4)), ("indices", L([2, 1, 0, 3], 2, 2))], ["data"], [Attr("batch_dims", 1)]),
            "Einsum" => ("Einsum", 12, [("a", R(2, 3, 4)), ("b", R(2, 4, 5))], ["a", "b"], [Attr("equation", "bij,bjk->bik")]),
            "Einsum chain" => ("Einsum", 12, [("a", R(2, 3)), ("b", R(3, 4)), ("c", R(1, 4, 2))], ["a", "b", "c"], [Attr("equation", "ij,jk,...kl->...il")]),
            "Einsum diagonal" => ("Einsum", 12, [("a", R(2, 3, 3)), ("b", R(3))], ["a", "b"], [Attr("equation", "...ii,i")]),
            "NegativeLogLikelihoodLoss" => ("NegativeLogLikelihoodLoss", 13, [("logp", R(3, 4, 2)), ("target", L([1, 3, -1, 0, 2, 2], 3, 2)), ("weight", R(4).Abs() + 0.5)],
                ["logp", "weight"], [Attr("ignore_index", -1)]),
            "GRU reverse lengths" => ("GRU", 14, [("x", R(3, 2, 2)), ("W", R(1, 6, 2)), ("R", R(1, 6, 2)), ("B", R(1, 12)), ("lengths", L([3, 2], 2))],
                ["x", "W", "R", "B"], [Attr("hidden_size", 2), Attr("direction", "reverse")]),
            "DFT" => ("DFT", 17, [("x", R(2, 5, 1))], ["x"], [Attr("axis", 1)]),
            "RoiAlign" => ("RoiAlign", 16, [("x", R(1, 1, 5, 5)), ("rois", F([0.5, 0.7, 3.6, 4.2, 1, 0.2, 4.8, 2.9], 2, 4)), ("batch", L([0, 0], 2))], ["x"],
                [Attr("output_height", 2), Attr("output_width", 3), Attr("sampling_ratio", 2)]),
            _ => throw new ArgumentException(name),
        };
        var graph = new GraphProto { Name = name };
        var node = new NodeProto { OpType = op, Name = name, Output = { "y" } };
        node.Attribute.Add(attrs);
        foreach (var (input, value) in inputs)
        {
            node.Input.Add(input);
            if (value is null) continue;
            if (wrt.Contains(input)) graph.Input.Add(Value(input, OnnxTensors.Double));
            else graph.Initializer.Add(OnnxTensors.ToProto(value, input));
        }
        graph.Node.Add(node);
        graph.Output.Add(Value("y", OnnxTensors.Double));
        var proto = new ModelProto { IrVersion = 8, Graph = graph };
        proto.OpsetImport.Add(new OperatorSetIdProto { Version = opset });
        var model = OnnxModel.Load(proto.ToByteArray());
        var points = wrt.Select(w => inputs.First(i => i.Item1 == w).Item2!.SetRequiresGrad()).ToArray();
        Assert.True(DeepSharp.Autograd.GradCheck(xs => model.Run(wrt.Select((w, i) => (w, xs[i])).ToDictionary(p => p.w, p => p.Item2))["y"], points));
    }

    private static Tensor RunEinsum(string equation, params Tensor[] operands)
    {
        var graph = new GraphProto { Name = "einsum" };
        var node = new NodeProto { OpType = "Einsum", Name = "e", Output = { "y" }, Attribute = { Attr("equation", equation) } };
        var inputs = new Dictionary<string, Tensor>();
        for (int i = 0; i < operands.Length; i++)
        {
            string name = "x" + i;
            graph.Input.Add(Value(name, OnnxTensors.Double));
            node.Input.Add(name);
            inputs[name] = operands[i];
        }
        graph.Node.Add(node);
        graph.Output.Add(Value("y", OnnxTensors.Double));
        var proto = new ModelProto { IrVersion = 8, Graph = graph };
        proto.OpsetImport.Add(new OperatorSetIdProto { Version = 12 });
        return OnnxModel.Load(proto.ToByteArray()).Run(inputs)["y"];
    }

    [Fact]
    public void EinsumMatchesDirectTensorOps()
    {
        var g = new Generator(3);
        Tensor R(params int[] shape) => Tensor.Randn(shape, g, DType.Float64);
        var (a, b, c) = (R(2, 3), R(3, 4), R(4, 2));
        OnnxTestHelpers.AssertClose(a.MatMul(b).MatMul(c), RunEinsum("ij,jk,kl->il", a, b, c), 1e-12, "chain");
        var (p, q) = (R(2, 1, 3, 4), R(5, 4, 2));
        OnnxTestHelpers.AssertClose(p.Expand(2, 5, 3, 4).MatMul(q.Expand(2, 5, 4, 2)), RunEinsum("...ij,...jk", p, q), 1e-12, "broadcast batch (implicit output)");
        var m = R(4, 4);
        OnnxTestHelpers.AssertClose((m * Tensor.Eye(4, dtype: DType.Float64)).Sum(), RunEinsum("ii", m), 1e-12, "trace");
        var (u, v) = (R(3, 5), R(5));
        OnnxTestHelpers.AssertClose(u.MatMul(v.Reshape(5, 1)).Reshape(3).Sum(), RunEinsum("ij,j->", u, v), 1e-12, "contraction to a scalar");
        OnnxTestHelpers.AssertClose(a.Transpose(0, 1), RunEinsum("ij->ji", a), 0, "transpose");
    }
}
