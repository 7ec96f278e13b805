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
}
