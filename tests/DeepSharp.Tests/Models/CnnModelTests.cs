using System.Text.Json;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;
using DeepSharp.Tests.NN;

namespace DeepSharp.Tests.Models;

/// <summary>
/// The CNN model zoo against torchvision / PyTorch (tests/fixtures/cnn.json and cnn_models.safetensors from
/// scripts/gen_cnn_fixtures.py): parameter counts and state-dict layouts of the canonical configurations,
/// and the logits of the small configurations with PyTorch's weights loaded, in eval mode and in train mode.
/// </summary>
public sealed class CnnModelTests
{
    private const double Rtol = 1e-4, Atol = 1e-5;

    /// <summary>Published parameter counts (torchvision's documentation; ResNet-20 with projection shortcuts).</summary>
    private static readonly Dictionary<string, long> ReferenceCounts = new()
    {
        ["lenet5"] = 61_706,
        ["cnn"] = 871_082,
        ["resnet20"] = 272_474,
        ["alexnet"] = 61_100_840,
        ["vgg11"] = 132_863_336,
        ["vgg11_bn"] = 132_868_840,
        ["vgg16"] = 138_357_544,
        ["vgg16_bn"] = 138_365_992,
        ["googlenet"] = 6_624_904,
        ["resnet18"] = 11_689_512,
        ["resnet34"] = 21_797_672,
    };

    public static IEnumerable<object[]> CanonicalNames() => CnnFixtures.CanonicalNames();

    public static IEnumerable<object[]> FixtureIds() => CnnFixtures.ModelFixtureIds();

    [Theory]
    [MemberData(nameof(CanonicalNames))]
    public void CanonicalConfigurationHasTorchvisionLayoutAndSize(string name)
    {
        var entry = CnnFixtures.Canonical.GetProperty(name);
        // Layer-default initialisation only: VGG-16's 138M torchvision-initialised weights would cost seconds.
        var model = ModelZoo.Create(name, CnnFixtures.Options(entry.GetProperty("options")) with { InitWeights = false });
        Assert.Equal(ReferenceCounts[name], model.ParameterCount);
        Assert.Equal(entry.GetProperty("parameters").GetInt64(), model.ParameterCount);
        // Keys and shapes in PyTorch's order: torchvision's state dict loads unchanged.
        var expected = entry.GetProperty("state").EnumerateArray()
            .Select(e => (e.GetProperty("key").GetString()!, Shapes.Format(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray()))).ToList();
        var actual = model.StateDict().Select(kv => (kv.Key, Shapes.Format(kv.Value.ShapeArray))).ToList();
        Assert.Equal(expected, actual);
        // Hand the large buffers back to the pool now, so the next canonical model reuses them.
        model = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    [Fact]
    public void EveryConvNetOfTheZooHasACanonicalFixture()
    {
        var canonical = CnnFixtures.Canonical.EnumerateObject().Select(p => p.Name).Order().ToArray();
        Assert.Equal(ReferenceCounts.Keys.Order(), canonical);
        Assert.All(canonical, name => Assert.True(ModelZoo.Names.ContainsKey(name), $"{name} is not in ModelZoo.Names"));
        var fixtureModels = CnnFixtures.ModelFixtures.Values.Select(f => f.GetProperty("model").GetString()!).Distinct().Order();
        Assert.Equal(canonical, fixtureModels);
    }

    [Fact]
    public void GoogLeNetTransformInputRescalesImageNetNormalisedChannels()
    {
        var o = new ModelOptions(InputChannels: 3, ImageSize: 32, WidthMultiplier: 0.125, Generator: new Generator(2));
        var plain = new GoogLeNet(o);
        var transforming = new GoogLeNet(o with { Generator = new Generator(2) }, transformInput: true);
        plain.Eval();
        transforming.Eval();
        var x = Tensor.Rand([2, 3, 32, 32], new Generator(3));
        var mean = Tensor.From([0.485f, 0.456f, 0.406f], 1, 3, 1, 1);
        var std = Tensor.From([0.229f, 0.224f, 0.225f], 1, 3, 1, 1);
        // torchvision's transform_input: x * std / 0.5 + (mean - 0.5) / 0.5 per channel.
        var expected = plain.Call(x * std / 0.5 + (mean - 0.5) / 0.5);
        OpParityTests.AssertClose(expected, transforming.Call(x), 1e-5, 1e-6, "transform_input");
        Assert.Throws<ArgumentException>(() => new GoogLeNet(new ModelOptions(), transformInput: true));
    }

    [Theory]
    [MemberData(nameof(FixtureIds))]
    public void SmallConfigurationMatchesPyTorch(string id)
    {
        var f = CnnFixtures.ModelFixtures[id];
        var t = CnnFixtures.ModelTensors;
        var model = ModelZoo.Create(f.GetProperty("model").GetString()!, CnnFixtures.Options(f.GetProperty("options")));
        var prefix = id + "/state/";
        var state = t.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        model.LoadStateDict(state, strict: true);
        var x = t[f.GetProperty("input").GetString()!];

        model.Eval();
        OpParityTests.AssertClose(t[id + "/eval_logits"], model.Call(x), Rtol, Atol, $"{id} eval logits");

        // Train mode: batch statistics in every batch norm; dropout off, its masks cannot match PyTorch's.
        model.Train();
        foreach (var m in model.Modules())
            if (m is Dropout or Dropout2d) m.Eval();
        OpParityTests.AssertClose(t[id + "/train_logits"], model.Call(x), Rtol, Atol, $"{id} train logits");
        var after = model.StateDict();
        var trainPrefix = id + "/train_state/";
        int buffers = 0;
        foreach (var (key, expected) in t.Where(kv => kv.Key.StartsWith(trainPrefix, StringComparison.Ordinal)))
        {
            OpParityTests.AssertClose(expected, after[key[trainPrefix.Length..]], Rtol, Atol, $"{id} {key} after the train-mode forward");
            buffers++;
        }
        Assert.Equal(after.Keys.Count(k => k.Contains("running_", StringComparison.Ordinal) || k.EndsWith("num_batches_tracked", StringComparison.Ordinal)), buffers);
    }

    [Theory]
    [InlineData("lenet5", 1.0)]
    [InlineData("cnn", 0.25)]
    [InlineData("alexnet", 0.125)]
    [InlineData("vgg11", 0.0625)]
    [InlineData("vgg11_bn", 0.0625)]
    [InlineData("vgg16", 0.0625)]
    [InlineData("vgg16_bn", 0.0625)]
    [InlineData("googlenet", 0.0625)]
    [InlineData("resnet18", 0.0625)]
    [InlineData("resnet34", 0.0625)]
    [InlineData("resnet20", 0.25)]
    public void SmallConfigurationTrainsOnFashionMnistSizedImages(string name, double width)
    {
        // A few SGD steps on one fixed batch of 1x28x28 images: the loss must drop (gradients reach every layer).
        var o = new ModelOptions(WidthMultiplier: width, Generator: new Generator(11));
        var model = ModelZoo.Create(name, o);
        var x = Tensor.Rand([8, 1, 28, 28], new Generator(12));
        var y = Tensor.Randint(0, 10, [8], new Generator(13));
        var optimizer = new DeepSharp.Optim.Sgd(model.Parameters(), new DeepSharp.Optim.SgdOptions(Lr: 0.02, Momentum: 0.9));
        var lossFn = new CrossEntropyLoss();
        double first = 0, last = 0;
        for (int step = 0; step < 6; step++)
        {
            optimizer.ZeroGrad();
            var logits = model.Call(x);
            Assert.Equal([8, 10], logits.Shape.ToArray());
            var loss = lossFn.Call(logits, y);
            loss.Backward();
            if (step == 0)
                foreach (var (pname, p) in model.NamedParameters())
                    Assert.True(p.Grad is not null, $"{name}: no gradient reached {pname}");
            optimizer.Step();
            last = loss.ToDouble();
            if (step == 0) first = last;
        }
        Assert.True(double.IsFinite(last) && last < first, $"{name}: loss went from {first} to {last}");
    }

    [Fact]
    public void LeNet5HasThePeerBenchmarkLayout()
    {
        // The layout of ../shared/bench/peer_torch.py's nn.Sequential.
        var lenet = (Sequential)ModelZoo.Create("lenet5");
        string[] types = ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"];
        Assert.Equal(types, lenet.Select(m => m.TypeName).ToArray());
        Assert.Equal(["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias", "11.weight", "11.bias"], lenet.StateDict().Keys.ToArray());
        Assert.Equal("Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))", lenet[0].ToString());
    }

    [Fact]
    public void SameSeedGivesTheSameWeightsAndOptionsShapeTheModel()
    {
        var a = ModelZoo.Create("resnet20", new ModelOptions(Generator: new Generator(5)));
        var b = ModelZoo.Create("resnet20", new ModelOptions(Generator: new Generator(5)));
        foreach (var ((_, pa), (_, pb)) in a.NamedParameters().Zip(b.NamedParameters()))
            Assert.Equal(pa.ToArray<float>(), pb.ToArray<float>());

        var rgb = ModelZoo.Create("resnet18", new ModelOptions(InputChannels: 3, ImageSize: 32, NumClasses: 7, WidthMultiplier: 0.125));
        Assert.Equal([2, 7], rgb.Call(Tensor.Rand([2, 3, 32, 32])).Shape.ToArray());
        var ex = Assert.Throws<ArgumentException>(() => rgb.Call(Tensor.Rand([2, 1, 32, 32])));
        Assert.Contains("expected images [N, 3, H, W], got [2, 1, 32, 32]", ex.Message);
        Assert.Throws<ArgumentException>(() => ModelZoo.Create("lenet5", new ModelOptions(ImageSize: 8)));
    }

    [Fact]
    public void SmallInputLayoutsKeepTorchvisionNames()
    {
        // Small inputs replace pools by Identity instead of removing them, so every key keeps torchvision's name.
        var big = ModelZoo.Create("vgg16_bn", new ModelOptions(InputChannels: 3, ImageSize: 64, NumClasses: 10, WidthMultiplier: 0.0625)).StateDict().Keys;
        var small = ModelZoo.Create("vgg16_bn", new ModelOptions(InputChannels: 3, ImageSize: 28, NumClasses: 10, WidthMultiplier: 0.0625)).StateDict().Keys;
        Assert.Equal(big, small);
        var resnet = (ResNet)ModelZoo.Create("resnet18", new ModelOptions(WidthMultiplier: 0.0625));
        Assert.IsType<Identity>(resnet.MaxPool);
        Assert.Equal((3, 3), (resnet.Conv1.KernelSize.H, resnet.Conv1.KernelSize.W));
        var googlenet = (GoogLeNet)ModelZoo.Create("googlenet", new ModelOptions(WidthMultiplier: 0.0625));
        Assert.IsType<Identity>(googlenet.MaxPool1);
    }

    [Fact]
    public void InitialisationFollowsTorchvision()
    {
        var g = new Generator(3);
        // ResNet: conv weights N(0, 2 / fan_out); BN weight 1, bias 0.
        var resnet = ResNet.ResNet20(new ModelOptions(Generator: g));
        var w = resnet.Stages[2][1] is BasicBlock block ? block.Conv2.Weight : throw new InvalidOperationException();
        AssertStd(w, Math.Sqrt(2.0 / (64 * 9)), 0.05);
        Assert.All(resnet.Bn1.Weight!.ToArray<float>(), v => Assert.Equal(1f, v));
        // VGG: linear N(0, 0.01) with zero bias, conv bias 0.
        var vgg = new Vgg(Vgg.Vgg11Config, batchNorm: false, new ModelOptions(Generator: g, WidthMultiplier: 0.25));
        var fc = (Linear)vgg.Classifier[0];
        AssertStd(fc.Weight, 0.01, 0.05);
        Assert.All(fc.Bias!.ToArray<float>(), v => Assert.Equal(0f, v));
        // GoogLeNet: trunc_normal(0, 0.01) on conv and linear weights.
        var googlenet = new GoogLeNet(new ModelOptions(Generator: g, WidthMultiplier: 0.5));
        AssertStd(googlenet.Inception4e.Branch1.Conv.Weight, 0.01, 0.05);
        Assert.All(googlenet.Fc.Weight.ToArray<float>(), v => Assert.InRange(v, -0.06f, 0.06f));

        static void AssertStd(Tensor t, double expected, double relTol)
        {
            var v = t.ToDoubleArray();
            double mean = v.Average(), std = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
            Assert.InRange(std, expected * (1 - relTol), expected * (1 + relTol));
            Assert.InRange(mean, -expected * 0.05, expected * 0.05);
        }
    }

    [Fact]
    public void SummaryPrintsTheModelTable()
    {
        var summary = ModelZoo.Create("lenet5").Summary([1, 1, 28, 28]);
        Assert.Contains("Total params: 61,706", summary);
        Assert.Contains("[1, 16, 5, 5]", summary);
        Assert.Contains("[1, 10]", summary);
    }
}
