using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Onnx;
using static DeepSharp.Tests.Onnx.OnnxTestHelpers;

namespace DeepSharp.Tests.Onnx;

/// <summary>Every zoo model and the standard layers, exported and run in ONNX Runtime against DeepSharp's eval-mode forward.</summary>
public sealed class OnnxExportTests
{
    /// <summary>Zoo models at small sizes (so the test stays fast) in both the small-input and the torchvision layouts.</summary>
    public static TheoryData<string, int, int, double> ZooConfigs() => new()
    {
        { "mlp", 1, 28, 1 },
        { "logreg", 1, 28, 1 },
        { "softmax", 1, 28, 1 },
        { "lenet5", 1, 28, 1 },
        { "cnn", 1, 28, 0.25 },
        { "alexnet", 1, 28, 0.125 },
        { "alexnet", 3, 64, 0.0625 },
        { "vgg11", 3, 32, 0.125 },
        { "vgg11_bn", 3, 32, 0.125 },
        { "vgg16", 3, 32, 0.125 },
        { "vgg16_bn", 1, 28, 0.125 },
        { "googlenet", 1, 28, 0.125 },
        { "googlenet", 3, 64, 0.0625 },
        { "resnet18", 1, 28, 0.125 },
        { "resnet18", 3, 64, 0.125 },
        { "resnet34", 3, 32, 0.125 },
        { "resnet20", 3, 32, 0.5 },
        { "seq-gru", 1, 28, 1 },
    };

    [Theory]
    [MemberData(nameof(ZooConfigs))]
    public void ZooModelRunsInOnnxRuntime(string name, int channels, int size, double width)
    {
        var g = new Generator(7);
        var options = new ModelOptions(InputChannels: channels, ImageSize: size, WidthMultiplier: width, Generator: g,
            InputFeatures: channels * size * size);
        var model = ModelZoo.Create(name, options);
        RandomizeRunningStats(model, g);
        var bytes = OnnxExporter.ExportBytes(model, Tensor.Randn([2, channels, size, size], g));
        AssertValidGraph(bytes);
        KeepForChecker(bytes, FormattableString.Invariant($"{name}-{channels}x{size}x{size}-w{width}"));
        Assert.True(model.Training, "export must restore the training mode");
        model.Eval();
        foreach (int batch in new[] { 1, 5 })
        {
            var x = Tensor.Randn([batch, channels, size, size], g);
            using var _ = DeepSharp.Autograd.NoGrad();
            AssertClose(model.Call(x), RunOrt(bytes, x), 1e-4, $"{name} {channels}x{size}x{size} batch {batch}");
        }
    }

    [Fact]
    public void GptRunsInOnnxRuntimeAndImportsBack()
    {
        var g = new Generator(11);
        var gpt = new Gpt(new GptConfig(VocabSize: 13, Layers: 2, Heads: 2, Width: 16, Context: 9, Dropout: 0.1), generator: g);
        var bytes = OnnxExporter.ExportBytes(gpt, Tensor.Randint(0, 13, [2, 7], g));
        AssertValidGraph(bytes);
        KeepForChecker(bytes, "gpt-2l-2h-16w-t7");
        Assert.True(gpt.Training, "export must restore the training mode");
        var proto = Onnx_Proto(bytes);
        Assert.Single(proto.Graph.Initializer, i => i.Name == "transformer.wte.weight"); // tied with lm_head: stored once
        Assert.DoesNotContain(proto.Graph.Initializer, i => i.Name == "lm_head.weight");
        gpt.Eval();
        var imported = DeepSharp.Onnx.OnnxModel.Load(bytes);
        imported.Eval();
        foreach (int batch in new[] { 1, 5 })
        {
            var x = Tensor.Randint(0, 13, [batch, 7], g);
            using var _ = DeepSharp.Autograd.NoGrad();
            var expected = gpt.Call(x);
            AssertClose(expected, RunOrt(bytes, x), 1e-4, $"gpt batch {batch}");
            AssertClose(expected, imported.Call(x), 1e-5, $"gpt imported, batch {batch}");
        }
        var tooLong = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportBytes(gpt, Tensor.Zeros([1, 10], DType.Int64)));
        Assert.Contains("context 9", tooLong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InitializersKeepStateDictKeys()
    {
        var model = ModelZoo.Create("resnet20", new ModelOptions(InputChannels: 3, ImageSize: 32, WidthMultiplier: 0.25));
        var proto = Onnx_Proto(OnnxExporter.ExportBytes(model, Tensor.Randn(1, 3, 32, 32)));
        var names = proto.Graph.Initializer.Select(i => i.Name).ToHashSet();
        foreach (var (key, _) in model.StateDict())
            if (!key.EndsWith("num_batches_tracked", StringComparison.Ordinal)) Assert.Contains(key, names);
        Assert.Equal(17, proto.OpsetImport.Single().Version);
        Assert.Equal("batch", proto.Graph.Input.Single().Type.TensorType.Shape.Dim[0].DimParam);
    }

    private static DeepSharp.Onnx.Proto.ModelProto Onnx_Proto(byte[] bytes) => DeepSharp.Onnx.Proto.ModelProto.Parser.ParseFrom(bytes);

    /// <summary>Layers the zoo does not use (or uses with other settings), each in a small model.</summary>
    public static TheoryData<string> LayerCases() => [.. LayerModels.Keys];

    private static readonly Dictionary<string, (Func<Generator, Module<Tensor, Tensor>> Create, int[] Input, bool Tokens)> LayerModels = new()
    {
        ["conv1d-groups-dilation"] = (g => new Sequential(new Conv1d(4, 8, 3, stride: 2, padding: 2, dilation: 2, groups: 2, generator: g), new Tanh(),
            new Conv1d(8, 6, 3, padding: ConvPadding.Same, generator: g), new MaxPool1d(2, ceilMode: true)), [2, 4, 17], false),
        ["conv2d-same-groups"] = (g => new Sequential(new Conv2d(4, 8, (3, 4), padding: ConvPadding.Same, dilation: (1, 2), groups: 4, generator: g),
            new LeakyRelu(0.2), new AvgPool2d(3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false), new Elu(0.7)), [2, 4, 11, 10], false),
        ["convtranspose2d"] = (g => new Sequential(new ConvTranspose2d(4, 6, 3, stride: 2, padding: 1, outputPadding: 1, groups: 2, generator: g),
            new BatchNorm2d(6), new Sigmoid(), new AvgPool2d(2)), [2, 4, 5, 6], false),
        ["adaptive-pools"] = (g => new Sequential(new Conv2d(2, 3, 3, generator: g), new AdaptiveMaxPool2d((3, 2)), new Gelu(),
            new AdaptiveAvgPool2d((2, 3)), new Flatten(), new Softmax(1)), [2, 2, 9, 8], false),
        ["norms-activations"] = (g => new Sequential(new Conv2d(3, 6, 1, generator: g), new GroupNorm(3, 6), new Gelu(GeluApproximation.Tanh),
            new LocalResponseNorm(3), new Flatten(2), new LayerNorm(20), new Softplus(2, 5), new Unflatten(2, 4, 5), new Flatten(1, 2),
            new LogSoftmax(-1)), [2, 3, 4, 5], false),
        ["embedding-lstm"] = (g => new RecurrentHead(new Embedding(11, 6, generator: g), new Lstm(6, 5, numLayers: 2, bidirectional: true, batchFirst: true, generator: g)), [3, 7], true),
        ["gru-time-major"] = (g => new RecurrentHead(null, new Gru(4, 6, numLayers: 2, generator: g)), [7, 3, 4], false),
        ["rnn-relu"] = (g => new RecurrentHead(null, new Rnn(4, 5, nonlinearity: RnnNonlinearity.Relu, bidirectional: true, generator: g)), [6, 2, 4], false),
        ["transformer-encoder"] = (g => new TransformerEncoderLayer(8, 2, 16, batchFirst: true, generator: g), [3, 5, 8], false),
        ["transformer-norm-first-gelu"] = (g => new TransformerEncoderLayer(8, 4, 12, activation: TransformerActivation.Gelu, normFirst: true, generator: g), [5, 3, 8], false),
    };

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void LayerRunsInOnnxRuntime(string name)
    {
        var g = new Generator(3);
        var (create, shape, tokens) = LayerModels[name];
        var model = create(g);
        RandomizeRunningStats(model, g);
        Tensor Input(int batchDim) => tokens ? Tensor.Randint(0, 11, shape, g) : Tensor.Randn(shape, g);
        var bytes = OnnxExporter.ExportBytes(model, Input(0), new OnnxExportOptions(BatchDim: null));
        AssertValidGraph(bytes);
        KeepForChecker(bytes, "layer-" + name);
        model.Eval();
        var x = Input(0);
        using var _ = DeepSharp.Autograd.NoGrad();
        AssertClose(model.Call(x), RunOrt(bytes, x), 1e-4, name);
    }

    [Fact]
    public void UnsupportedModuleIsNamed()
    {
        var model = new Sequential(new Linear(3, 3), new Opaque());
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ExportBytes(model, Tensor.Randn(2, 3)));
        Assert.Contains("Opaque", e.Message, StringComparison.Ordinal);
        Assert.Contains("'1'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExportWritesFileAtomically()
    {
        string dir = Directory.CreateTempSubdirectory("onnx").FullName;
        try
        {
            string path = Path.Combine(dir, "m.onnx");
            File.WriteAllText(path, "previous");
            Assert.Throws<NotSupportedException>(() => new Sequential(new Opaque()).ExportOnnx(path, Tensor.Randn(1, 2)));
            Assert.Equal("previous", File.ReadAllText(path));
            var model = new Sequential(new Linear(2, 3), new Relu());
            model.ExportOnnx(path, Tensor.Randn(1, 2));
            var x = Tensor.Randn(4, 2);
            model.Eval();
            AssertClose(model.Call(x), RunOrt(File.ReadAllBytes(path), x), 1e-5, "file");
            Assert.Single(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private sealed class Opaque : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input * 2;
    }

    /// <summary>A user module exporting itself: optional embedding, a recurrent network, then its output (a tensor).</summary>
    private sealed class RecurrentHead : Module<Tensor, Tensor>, IOnnxExportable
    {
        private readonly Embedding? _embedding;
        private readonly RecurrentBase _rnn;

        public RecurrentHead(Embedding? embedding, RecurrentBase rnn)
        {
            if (embedding is not null) _embedding = RegisterModule("embedding", embedding);
            _rnn = RegisterModule("rnn", rnn);
        }

        public override Tensor Forward(Tensor input)
        {
            var x = _embedding is null ? input : _embedding.Call(input);
            var (output, hN, _) = _rnn.Call(x, null);
            return output.Sum(-1) + hN.Sum(0).Sum(-1).Unsqueeze(_rnn.BatchFirst ? 1 : 0);
        }

        public OnnxValue ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
        {
            var x = _embedding is null ? input : graph.Module(_embedding, input);
            var (output, hN, _) = graph.Recurrent(_rnn, x);
            var outSum = graph.Node("ReduceSum", [output, graph.Ints("axes", -1)], output.Sample.Sum(-1), OnnxAttribute.Int("keepdims", 0));
            var hSum = graph.Node("ReduceSum", [hN, graph.Ints("axes", 0, 2)], hN.Sample.Sum(0).Sum(-1), OnnxAttribute.Int("keepdims", 0));
            return graph.Add(outSum, graph.Unsqueeze(hSum, _rnn.BatchFirst ? 1 : 0));
        }
    }
}
