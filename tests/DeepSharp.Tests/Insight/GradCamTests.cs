using DeepSharp.Insight;
using DeepSharp.NN;

namespace DeepSharp.Tests.Insight;

using Autograd = DeepSharp.Autograd;

public sealed class GradCamTests
{
    /// <summary>1x1 conv with two channels: channel 0 = x, channel 1 = -x (then ReLU: positive and negative parts).</summary>
    private sealed class SignSplit : Module<Tensor, Tensor>
    {
        private readonly Tensor _weight = Tensor.From(new double[] { 1, -1 }, 2, 1, 1, 1);

        public override Tensor Forward(Tensor input) => Tensor.Conv2d(input, _weight, null, 1);
    }

    /// <summary>Class 0 = sum of channel 0 over the top-left quadrant; class 1 = sum of channel 1 over the bottom-right quadrant.</summary>
    private sealed class QuadrantHead : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor a)
        {
            int h = a.Size(2) / 2, w = a.Size(3) / 2;
            var topLeft = a.Select(1, 0).Narrow(1, 0, h).Narrow(2, 0, w).Sum([1, 2]);
            var bottomRight = a.Select(1, 1).Narrow(1, h, h).Narrow(2, w, w).Sum([1, 2]);
            return Tensor.Stack([topLeft, bottomRight], 1);
        }
    }

    /// <summary>An 8x8 image with a bright blob in the top-left quadrant and a dark (negative) blob in the bottom-right one.</summary>
    private static Tensor TwoBlobs()
    {
        var x = new double[64];
        foreach (var (r, c) in new[] { (1, 1), (1, 2), (2, 1), (2, 2) }) x[r * 8 + c] = 1;
        foreach (var (r, c) in new[] { (5, 5), (5, 6), (6, 5), (6, 6) }) x[r * 8 + c] = -1;
        return Tensor.From(x, 1, 1, 8, 8);
    }

    [Fact]
    public void GradCamLightsUpExactlyTheEvidenceForTheChosenClass()
    {
        var features = new Sequential(new SignSplit(), new Relu());
        var model = new Sequential(features, new QuadrantHead());
        var x = TwoBlobs();
        var relu = features[1];

        // Class 0 reads channel 0 in the top-left quadrant: alpha = (0.25, 0), CAM = 0.25 relu(x): the top-left blob only.
        var cam0 = GradCam.Compute(model, relu, x, target: 0);
        Assert.Equal([0.25, 0.0], cam0.ChannelWeights);
        Assert.Equal(4, cam0.Score, 12);
        var map0 = cam0.Map.ToDoubleArray();
        for (int i = 0; i < 64; i++) Assert.Equal(x.ToDoubleArray()[i] > 0 ? 0.25 : 0, map0[i], 12);

        // Class 1 reads channel 1 (the negative part) in the bottom-right quadrant: the bottom-right blob only.
        var map1 = GradCam.Compute(model, relu, x, target: 1).Map.ToDoubleArray();
        for (int i = 0; i < 64; i++) Assert.Equal(x.ToDoubleArray()[i] < 0 ? 0.25 : 0, map1[i], 12);
    }

    [Fact]
    public void GradCamOfALowResolutionLayerMatchesTheFormulaAndIsUpsampledToTheInput()
    {
        var model = InsightModels.SmallCnn(DType.Float64);
        var x = Tensor.Rand([1, 1, 12, 12], new Generator(3), DType.Float64);
        var pool = model[2]; // [1, 4, 6, 6]
        var result = GradCam.Compute(model, pool, x, target: 2);
        Assert.Equal([6, 6], result.Coarse.ShapeArray);
        Assert.Equal([12, 12], result.Map.ShapeArray);

        // By hand: A from the forward pass, dy/dA from Autograd.Grad with A as the input.
        model.Eval();
        Tensor? a = null;
        using (pool.RegisterForwardHook((_, _, o) => a = (Tensor)o!))
        {
            var y = model.Call(x.Clone().SetRequiresGrad()).Select(1, 2).Sum();
            var g = Autograd.Grad(y, [a!])[0];
            var alpha = g.Mean([2, 3], keepDim: true);
            var expected = (a! * alpha).Sum(1).Relu()[0].ToDoubleArray();
            var coarse = result.Coarse.ToDoubleArray();
            for (int i = 0; i < 36; i++) Assert.Equal(expected[i], coarse[i], 10);
        }
        Assert.All(result.Map.ToDoubleArray(), v => Assert.True(v >= 0));
    }

    [Fact]
    public void LastConvLayerIsTheLastSpatialOutput()
    {
        var model = InsightModels.SmallCnn();
        var layer = GradCam.LastConvLayer(model, Tensor.Rand(1, 1, 12, 12));
        Assert.NotNull(layer);
        Assert.Equal("5", layer.Value.Name);
        Assert.Null(GradCam.LastConvLayer(InsightModels.SmoothMlp(4, DType.Float32), Tensor.Rand(1, 4)));
    }

    [Fact]
    public void GradCamNamesTheLayerWhenItIsNotConvLike()
    {
        var model = InsightModels.SmallCnn();
        var e = Assert.Throws<ArgumentException>(() => GradCam.Compute(model, model[7], Tensor.Rand(1, 1, 12, 12), 0));
        Assert.Contains("Linear", e.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 3]", e.Message, StringComparison.Ordinal);
    }
}
