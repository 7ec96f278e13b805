using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Tests.Models;

public sealed class ModelZooTests
{
    [Theory]
    [InlineData("mlp", 10)]
    [InlineData("softmax", 10)]
    [InlineData("logreg", 1)]
    public void ModelsTakeImagesOrFlatVectors(string name, int outputs)
    {
        var model = ModelZoo.Create(name, new ModelOptions(Generator: new Generator(1)));
        var images = Tensor.Rand([3, 1, 28, 28], new Generator(2));
        var a = model.Call(images);
        var b = model.Call(images.Reshape(3, 784));
        Assert.Equal([3, outputs], a.Shape.ToArray());
        Assert.Equal(a.ToArray<float>(), b.ToArray<float>());
    }

    [Fact]
    public void UnknownNamesListTheAvailableModels()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet9000"));
        Assert.Contains("unknown model 'resnet9000'", ex.Message);
        Assert.Contains("mlp, logreg, softmax", ex.Message);
        Assert.All(ModelZoo.Names.Keys, n => Assert.NotNull(ModelZoo.Create(n)));
    }

    [Fact]
    public void MlpHasPyTorchSizeAndLayout()
    {
        var mlp = (Mlp)ModelZoo.Create("mlp");
        Assert.Equal(235_146, mlp.ParameterCount);
        Assert.Equal(5, mlp.Layers.Count);
        Assert.IsType<Relu>(mlp.Layers[1]);
    }

    [Fact]
    public void LogisticRegressionUsesOneVsRestTargets()
    {
        var model = (LogisticRegression)ModelZoo.Create("logreg", new ModelOptions(PositiveClass: 3));
        Assert.Equal(3, model.PositiveClass);
        var targets = model.Targets(Tensor.From(new long[] { 3, 0, 3, 9 }));
        Assert.Equal([4, 1], targets.Shape.ToArray());
        Assert.Equal([1f, 0f, 1f, 0f], targets.ToArray<float>());
        var p = model.PredictProbability(Tensor.Zeros(4, 784)).ToArray<float>();
        Assert.All(p, v => Assert.InRange(v, 0f, 1f));
        var loss = new BceWithLogitsLoss().Call(model.Call(Tensor.Zeros(4, 784)), targets);
        Assert.True(double.IsFinite(loss.ToDouble()));
    }

    [Fact]
    public void TwoLayerNetworkLearnsXor()
    {
        // XOR: a single linear layer cannot separate it; one hidden layer can.
        var x = Tensor.From(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } });
        var y = Tensor.From(new float[,] { { 0 }, { 1 }, { 1 }, { 0 } });
        var g = new Generator(3);
        var net = new Sequential(new Linear(2, 8, generator: g), new Tanh(), new Linear(8, 1, generator: g));
        var lossFn = new BceWithLogitsLoss();
        double loss = 0;
        for (int step = 0; step < 1500; step++)
        {
            net.ZeroGrad();
            var l = lossFn.Call(net.Call(x), y);
            l.Backward();
            loss = l.ToDouble();
            using (DeepSharp.Autograd.NoGrad())
                foreach (var p in net.Parameters()) p.SubInPlace(p.Grad! * 0.5);
        }
        Assert.True(loss < 0.05, $"XOR loss {loss}");
        var predictions = net.Call(x).Sigmoid().ToArray<float>().Select(v => v > 0.5f ? 1f : 0f);
        Assert.Equal([0f, 1f, 1f, 0f], predictions);
    }
}
