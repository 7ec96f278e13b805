using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Onnx;
using DeepSharp.Onnx.Proto;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using static DeepSharp.Tests.Onnx.OnnxTestHelpers;

namespace DeepSharp.Tests.Onnx;

/// <summary>OnnxModel.Load: DeepSharp's own exports round-trip, PyTorch's exports import and match, imported models fine-tune.</summary>
public sealed class OnnxImportTests
{
    public static TheoryData<string, int, int, double> RoundTripConfigs() => new()
    {
        { "mlp", 1, 28, 1 },
        { "lenet5", 1, 28, 1 },
        { "cnn", 1, 28, 0.25 },
        { "alexnet", 3, 64, 0.0625 },
        { "vgg11_bn", 3, 32, 0.125 },
        { "googlenet", 1, 28, 0.125 },
        { "resnet20", 3, 32, 0.5 },
        { "seq-gru", 1, 28, 1 },
    };

    [Theory]
    [MemberData(nameof(RoundTripConfigs))]
    public void ExportedZooModelImportsWithTheSameOutputs(string name, int channels, int size, double width)
    {
        var g = new Generator(11);
        var model = ModelZoo.Create(name, new ModelOptions(InputChannels: channels, ImageSize: size, WidthMultiplier: width, Generator: g,
            InputFeatures: channels * size * size));
        RandomizeRunningStats(model, g);
        var imported = OnnxModel.Load(OnnxExporter.ExportBytes(model, Tensor.Randn([2, channels, size, size], g)));
        model.Eval();
        imported.Eval();
        var x = Tensor.Randn([5, channels, size, size], g);
        using var _ = DeepSharp.Autograd.NoGrad();
        AssertClose(model.Call(x), imported.Call(x), 1e-4, name);
        foreach (var (key, value) in model.StateDict())
            if (!key.EndsWith("num_batches_tracked", StringComparison.Ordinal) && !key.StartsWith("rnn.", StringComparison.Ordinal))
                Assert.True(imported.StateDict().TryGetValue(key, out var v) && v.ShapeArray.SequenceEqual(value.ShapeArray), $"{name}: state-dict key {key}");
    }

    [Fact]
    public void TransformerAndRecurrentLayersRoundTrip()
    {
        var g = new Generator(5);
        Module<Tensor, Tensor>[] models =
        [
            new TransformerEncoderLayer(8, 2, 16, batchFirst: true, generator: g),
            new TransformerEncoderLayer(8, 4, 12, activation: TransformerActivation.Gelu, normFirst: true, generator: g),
            new Sequential(new Conv1d(4, 6, 3, padding: 1, groups: 2, generator: g), new GroupNorm(2, 6), new Gelu(), new Flatten(), new LayerNorm(30)),
        ];
        int[][] shapes = [[3, 5, 8], [5, 3, 8], [2, 4, 5]];
        for (int i = 0; i < models.Length; i++)
        {
            var x = Tensor.Randn(shapes[i], g);
            var imported = OnnxModel.Load(OnnxExporter.ExportBytes(models[i], x, new OnnxExportOptions(BatchDim: null)));
            models[i].Eval();
            using var _ = DeepSharp.Autograd.NoGrad();
            AssertClose(models[i].Call(x), imported.Call(x), 1e-4, models[i].TypeName);
        }
    }

    public static TheoryData<string> PyTorchFixtures() => ["lenet5", "resnet20", "vgg_small", "lstm_lm", "gru_lm", "transformer_encoder"];

    [Theory]
    [MemberData(nameof(PyTorchFixtures))]
    public void PyTorchExportImportsAndMatches(string name)
    {
        var (model, input, expected) = LoadFixture(name);
        model.Eval();
        using var _ = DeepSharp.Autograd.NoGrad();
        AssertClose(expected, model.Call(input), 1e-4, name);
        Assert.NotEmpty(model.Summary(input.ShapeArray, input.DType));
        // The batch dimension is dynamic: one sample gives the first row.
        AssertClose(expected.Narrow(0, 0, 1), model.Call(input.Narrow(0, 0, 1)), 1e-4, name + " batch 1");
    }

    [Fact]
    public void PyTorchLeNetKeepsStateDictKeysAndFineTunes()
    {
        var (model, input, _) = LoadFixture("lenet5");
        Assert.Contains("0.weight", model.StateDict().Keys);
        Assert.Contains("11.bias", model.StateDict().Keys);
        var target = Tensor.From(new long[] { 1, 4, 7 }, 3);
        var loss = new CrossEntropyLoss();
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.05));
        model.Train();
        double first = 0, last = 0;
        for (int step = 0; step < 5; step++)
        {
            optimizer.ZeroGrad();
            var l = loss.Call(model.Call(input), target);
            l.Backward();
            optimizer.Step();
            if (step == 0) first = l.ToDouble();
            last = l.ToDouble();
        }
        Assert.True(last < first, $"fine-tuning the imported model should lower the loss: {first} -> {last}");
        var recurrent = LoadFixture("lstm_lm").Model;
        Assert.Contains(recurrent.Parameters(), p => p.Rank == 3); // LSTM W/R [directions, 4H, ...] are trainable parameters
    }

    [Fact]
    public void UnsupportedOperatorsFailAtLoadWithTheirNames()
    {
        var graph = new GraphProto { Name = "g" };
        graph.Input.Add(new ValueInfoProto { Name = "x" });
        graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "a" } });
        graph.Node.Add(new NodeProto { OpType = "FancyOp", Input = { "a" }, Output = { "b" } });
        graph.Node.Add(new NodeProto { OpType = "FancyOp", Input = { "b" }, Output = { "c" } });
        graph.Node.Add(new NodeProto { OpType = "Thing", Domain = "com.example", Input = { "c" }, Output = { "y" } });
        graph.Output.Add(new ValueInfoProto { Name = "y" });
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        var e = Assert.Throws<NotSupportedException>(() => OnnxModel.Load(Google.Protobuf.MessageExtensions.ToByteArray(model)));
        Assert.Contains("FancyOp (x2)", e.Message, StringComparison.Ordinal);
        Assert.Contains("com.example.Thing", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => OnnxModel.Load([1, 2, 3, 4, 5]));
    }

    internal static (OnnxModel Model, Tensor Input, Tensor Expected) LoadFixture(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "fixtures", "onnx");
        var data = SafeTensors.Load(Path.Combine(dir, name + ".safetensors")).Tensors;
        return (OnnxModel.Load(Path.Combine(dir, name + ".onnx")), data["input"], data["output"]);
    }
}
