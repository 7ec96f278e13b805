using DeepSharp.Insight;
using DeepSharp.NN;

namespace DeepSharp.Tests.Insight;

using Autograd = DeepSharp.Autograd;

public sealed class AttributionTests
{
    private static Tensor Image(ulong seed, DType dtype = DType.Float32) => Tensor.Rand([1, 1, 12, 12], new Generator(seed), dtype);

    [Fact]
    public void IntegratedGradientsAreCompleteForASmoothNetwork()
    {
        var model = InsightModels.SmoothMlp(10);
        var x = Tensor.Uniform([1, 10], -2, 2, new Generator(3), DType.Float64);
        var r = Attributions.IntegratedGradients(model, x, target: 1, new IntegratedGradientsOptions(Steps: 64));
        double delta = r.Score - r.BaselineScore;
        Assert.True(Math.Abs(delta) > 1e-3, $"the test needs f(x) != f(0), got {delta}");
        Assert.Equal(r.AttributionSum, r.Attributions.Sum().ToDouble(), 12);
        Assert.True(r.CompletenessError < 1e-4 * Math.Max(1, Math.Abs(delta)), $"sum {r.AttributionSum} vs f(x) - f(0) = {delta}: error {r.CompletenessError}");
        // The trapezoid rule converges: more steps, smaller error (about 1/steps^2 on a smooth path).
        var coarse = Attributions.IntegratedGradients(model, x, 1, new IntegratedGradientsOptions(Steps: 4));
        Assert.True(r.CompletenessError < coarse.CompletenessError / 50, $"error {r.CompletenessError} at 64 steps vs {coarse.CompletenessError} at 4");
    }

    [Fact]
    public void IntegratedGradientsAreCompleteForASmoothConvNetWithABaseline()
    {
        var model = InsightModels.SmoothCnn();
        using (Autograd.NoGrad()) ((Linear)model[7]).Weight.MulInPlace(10); // a head with a larger output range to test against
        var x = Image(5, DType.Float64) * 2;
        var baseline = Tensor.Full([1, 1, 12, 12], -0.5, DType.Float64);
        var r = Attributions.IntegratedGradients(model, x, target: 2, new IntegratedGradientsOptions(Steps: 64, Baseline: baseline));
        double delta = r.Score - r.BaselineScore;
        Assert.True(Math.Abs(delta) > 0.01, $"the test needs f(x) != f(b), got {delta}");
        Assert.True(r.CompletenessError <= 1e-4 * Math.Abs(delta), $"sum {r.AttributionSum} vs f(x) - f(b) = {delta}: error {r.CompletenessError}");
        Assert.Equal(x.ShapeArray, r.Attributions.ShapeArray);
    }

    [Fact]
    public void IntegratedGradientsConvergeOnAReluMaxPoolNet()
    {
        // ReLU and max-pool switch along the path: the integrand is piecewise smooth with many kinks,
        // so the trapezoid rule converges only like 1/steps and needs many steps.
        var model = InsightModels.SmallCnn(DType.Float64);
        using (Autograd.NoGrad()) ((Linear)model[7]).Weight.MulInPlace(10);
        var x = Image(5, DType.Float64);
        var coarse = Attributions.IntegratedGradients(model, x, 2, new IntegratedGradientsOptions(Steps: 64));
        var fine = Attributions.IntegratedGradients(model, x, 2, new IntegratedGradientsOptions(Steps: 1024));
        double delta = fine.Score - fine.BaselineScore;
        Assert.True(fine.CompletenessError < 0.02 * Math.Abs(delta), $"sum {fine.AttributionSum} vs f(x) - f(0) = {delta}: error {fine.CompletenessError}");
        Assert.True(fine.CompletenessError < coarse.CompletenessError / 4, $"error {fine.CompletenessError} at 1024 steps vs {coarse.CompletenessError} at 64");
    }

    [Fact]
    public void IntegratedGradientsOfALinearModelAreWeightTimesInput()
    {
        var linear = new Linear(6, 2, dtype: DType.Float64, generator: new Generator(4));
        var x = Tensor.Uniform([1, 6], -1, 1, new Generator(5), DType.Float64);
        var r = Attributions.IntegratedGradients(linear, x, target: 1, new IntegratedGradientsOptions(Steps: 3));
        var expected = (linear.Weight[1] * x[0]).ToDoubleArray();
        var actual = r.Attributions.ToDoubleArray();
        for (int i = 0; i < 6; i++) Assert.Equal(expected[i], actual[i], 12);
        Assert.True(r.CompletenessError < 1e-12);
    }

    [Fact]
    public void SaliencyEqualsTheInputGradientComputedDirectly()
    {
        var model = InsightModels.SmallCnn();
        var x = Image(7);
        var saliency = Attributions.Saliency(model, x, target: 0);

        model.Eval();
        var input = x.Clone().SetRequiresGrad();
        var logit = model.Call(input).Select(1, 0).Sum();
        var direct = Autograd.Grad(logit, [input])[0].Abs();
        Assert.Equal(direct.ToArray<float>(), saliency.ToArray<float>());
        Assert.Contains(saliency.ToArray<float>(), v => v > 0);
        // Attribution leaves the parameters' gradients alone and restores the training mode.
        model.Train();
        _ = Attributions.Saliency(model, x, 0);
        Assert.All(model.Parameters(), p => Assert.Null(p.Grad));
        Assert.All(model.Modules(), m => Assert.True(m.Training));
    }

    [Fact]
    public void SmoothGradIsSeededAndReducesToSaliencyWithoutNoise()
    {
        var model = InsightModels.SmallCnn();
        var x = Image(8);
        var saliency = Attributions.Saliency(model, x, 1).ToArray<float>();
        var noiseless = Attributions.SmoothGrad(model, x, 1, new SmoothGradOptions(Samples: 3, NoiseLevel: 0)).ToArray<float>();
        for (int i = 0; i < saliency.Length; i++) Assert.Equal(saliency[i], noiseless[i], 5);

        var a = Attributions.SmoothGrad(model, x, 1, new SmoothGradOptions(Samples: 10, NoiseLevel: 0.2, Seed: 3));
        var b = Attributions.SmoothGrad(model, x, 1, new SmoothGradOptions(Samples: 10, NoiseLevel: 0.2, Seed: 3));
        var c = Attributions.SmoothGrad(model, x, 1, new SmoothGradOptions(Samples: 10, NoiseLevel: 0.2, Seed: 4));
        Assert.Equal(a.ToArray<float>(), b.ToArray<float>());
        Assert.NotEqual(a.ToArray<float>(), c.ToArray<float>());
        Assert.Equal(x.ShapeArray, a.ShapeArray);
    }

    [Fact]
    public void OcclusionOfALinearModelMeasuresEachPixelsContribution()
    {
        var model = new Sequential(new Flatten(), new Linear(16, 2, bias: true, dtype: DType.Float64, generator: new Generator(9)));
        var x = Tensor.Uniform([1, 1, 4, 4], 0, 1, new Generator(10), DType.Float64);
        var w = ((Linear)model[1]).Weight[1].ToDoubleArray();
        var pixels = x.ToDoubleArray();

        // 1x1 patches with a zero baseline: removing pixel i lowers the logit by w_i x_i exactly.
        var single = Attributions.Occlusion(model, x, 1, new OcclusionOptions(Patch: 1, Stride: 1)).ToDoubleArray();
        for (int i = 0; i < 16; i++) Assert.Equal(w[i] * pixels[i], single[i], 10);

        // 2x2 patches, stride 2: every pixel of a patch gets the patch's total contribution.
        var blocks = Attributions.Occlusion(model, x, 1, new OcclusionOptions(Patch: 2, Stride: 2)).ToDoubleArray();
        for (int by = 0; by < 2; by++)
            for (int bx = 0; bx < 2; bx++)
            {
                double total = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) total += w[(2 * by + dy) * 4 + 2 * bx + dx] * pixels[(2 * by + dy) * 4 + 2 * bx + dx];
                Assert.Equal(total, blocks[(2 * by) * 4 + 2 * bx + 1], 10);
            }
    }

    [Fact]
    public void AttributionsRejectInputsWithoutABatchDimAndBadTargets()
    {
        var model = InsightModels.SmallCnn();
        var e = Assert.Throws<ArgumentException>(() => Attributions.Saliency(model, Tensor.Rand(2, 1, 12, 12), 0));
        Assert.Contains("[1, C, H, W]", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Attributions.Saliency(model, Image(1), 7));
        Assert.Throws<ArgumentException>(() => Attributions.Occlusion(new Linear(4, 2), Tensor.Rand(1, 4), 0));
    }
}
