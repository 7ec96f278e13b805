using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>Loss behaviour beyond the PyTorch fixtures: the fused ops' graphs, float32 stability, error messages.</summary>
public sealed class LossTests
{
    // Regression (issue 11): MseLoss and the other regression losses broadcast an [N, 1] output against [N] targets
    // into an [N, N] loss without a word (PyTorch warns). Now a clear error.
    public static TheoryData<string> RegressionLosses => new(["mse", "l1", "smooth_l1", "huber", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"]);

    private static Tensor RegressionLoss(string name, Tensor input, Tensor target) => name switch
    {
        "mse" => Functional.MseLoss(input, target),
        "l1" => Functional.L1Loss(input, target),
        "smooth_l1" => Functional.SmoothL1Loss(input, target),
        "huber" => Functional.HuberLoss(input, target),
        "MSELoss" => new MseLoss().Call(input, target),
        "L1Loss" => new L1Loss().Call(input, target),
        "SmoothL1Loss" => new SmoothL1Loss().Call(input, target),
        _ => new HuberLoss().Call(input, target),
    };

    [Theory]
    [MemberData(nameof(RegressionLosses))]
    public void RegressionLossesRefuseTargetsOfAnotherShape(string name)
    {
        var output = Tensor.Randn([5, 1], new Generator(1));
        var target = Tensor.Randn([5], new Generator(2));
        var ex = Assert.Throws<ArgumentException>(() => RegressionLoss(name, output, target));
        Assert.Contains("target shape [5] differs from the input shape [5, 1]", ex.Message);
        Assert.Contains("[5, 5] loss", ex.Message);
        Assert.Contains("input.Squeeze(-1) or target.Unsqueeze(-1)", ex.Message);
        Assert.Contains("target.Squeeze(-1)", Assert.Throws<ArgumentException>(() => RegressionLoss(name, target, output)).Message);
        Assert.Throws<ArgumentException>(() => RegressionLoss(name, output, Tensor.Scalar(0.0, DType.Float32)));
        // Matching shapes work as before.
        Assert.Equal(RegressionLoss(name, output.Squeeze(-1), target).ToDouble(), RegressionLoss(name, output, target.Unsqueeze(-1)).ToDouble(), 6);
    }

    [Fact]
    public void CrossEntropyIsOneFusedNodeWithTheGoldenPairGradient()
    {
        var logits = Tensor.Randn([6, 4], new Generator(1), requiresGrad: true);
        var labels = Tensor.From(new long[] { 0, 3, 1, 1, 2, 0 });
        var loss = Functional.CrossEntropy(logits, labels);
        Assert.Equal("CrossEntropyLossBackward", loss.GradFn!.Name);
        Assert.IsType<AccumulateGrad>(loss.GradFn.NextFunctions[0]);
        loss.Backward();
        // delta = (softmax - onehot) / N
        var expected = (logits.Detach().Softmax(1) - OneHot(labels, 4)) / 6;
        OpParityTests.AssertClose(expected, logits.Grad!, 1e-5, 1e-7, "softmax - onehot");
        // Same value as the composed formula.
        var composed = -logits.Detach().LogSoftmax(1).Gather(1, labels.Unsqueeze(1)).Mean();
        Assert.Equal(composed.ToDouble(), loss.ToDouble(), 5);
    }

    [Fact]
    public void MseWithIdentityGivesTwiceTheErrorOverN()
    {
        var a = Tensor.Randn([3, 2], new Generator(2), requiresGrad: true);
        var y = Tensor.Randn([3, 2], new Generator(3));
        new MseLoss().Call(a, y).Backward();
        OpParityTests.AssertClose((a.Detach() - y) * (2.0 / 6), a.Grad!, 1e-6, 1e-7, "2(a - y)/n");
    }

    [Fact]
    public void HugeLogitsGiveFiniteLossesAndGradientsInFloat32()
    {
        var logits = Tensor.From(new float[] { 1e4f, -1e4f, 0, -1e4f, 1e4f, 1e4f }, 2, 3).SetRequiresGrad();
        var loss = Functional.CrossEntropy(logits, Tensor.From(new long[] { 1, 0 }), labelSmoothing: 0.1);
        loss.Backward();
        Assert.True(double.IsFinite(loss.ToDouble()));
        // row 0: 0.9 * 2e4 + 0.1/3 * 3e4; row 1 (two tied maxima): 0.9 (2e4 + ln 2) + 0.1/3 (2e4 + 3 ln 2)
        double expected = (19000 + 0.9 * (2e4 + Math.Log(2)) + (2e4 + 3 * Math.Log(2)) / 30) / 2;
        Assert.Equal(expected, loss.ToDouble(), 1e-3 * expected);
        Assert.All(logits.Grad!.ToArray<float>(), v => Assert.True(float.IsFinite(v)));

        var x = Tensor.From(new float[] { 1e4f, -1e4f, 3e4f, -3e4f }).SetRequiresGrad();
        var bce = Functional.BinaryCrossEntropyWithLogits(x, Tensor.From(new float[] { 0, 1, 1, 0 }), reduction: Reduction.None);
        Assert.Equal([1e4f, 1e4f, 0f, 0f], bce.ToArray<float>());
        bce.Sum().Backward();
        Assert.Equal([1f, -1f, 0f, 0f], x.Grad!.ToArray<float>());
    }

    [Fact]
    public void IgnoredTargetsGetNoGradientAndAllIgnoredMeanIsNaN()
    {
        var logits = Tensor.Randn([3, 4], new Generator(4), requiresGrad: true);
        Functional.CrossEntropy(logits, Tensor.From(new long[] { -100, 2, -100 })).Backward();
        var g = logits.Grad!;
        Assert.All(g[0].ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.All(g[2].ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.True(double.IsNaN(Functional.CrossEntropy(logits, Tensor.From(new long[] { -100, -100, -100 })).ToDouble()));
    }

    [Fact]
    public void ErrorsNameTheOpShapesAndExpectation()
    {
        var logits = Tensor.Zeros(3, 4);
        Assert.Contains("target 4 at position 1 is out of bounds for 4 classes",
            Assert.Throws<ArgumentException>(() => Functional.CrossEntropy(logits, Tensor.From(new long[] { 0, 4, 1 }))).Message);
        var shape = Assert.Throws<ArgumentException>(() => Functional.CrossEntropy(logits, Tensor.From(new long[] { 0, 1 }))).Message;
        Assert.Contains("cross_entropy", shape);
        Assert.Contains("[3, 4]", shape);
        Assert.Contains("[2]", shape);
        Assert.Contains("weight must have shape [4]", Assert.Throws<ArgumentException>(() =>
            Functional.CrossEntropy(logits, Tensor.From(new long[] { 0, 1, 2 }), weight: Tensor.Ones(3))).Message);
        Assert.Contains("ignore_index", Assert.Throws<ArgumentException>(() =>
            Functional.CrossEntropy(logits, Tensor.Zeros(3, 4), ignoreIndex: 1)).Message);
        Assert.Contains("batchmean is not a valid value", Assert.Throws<ArgumentException>(() =>
            Functional.MseLoss(logits, logits, Reduction.BatchMean)).Message);
        Assert.Contains("between 0 and 1", Assert.Throws<ArgumentException>(() =>
            Functional.BinaryCrossEntropy(Tensor.From(new float[] { 1.5f }), Tensor.From(new float[] { 1f }))).Message);
        Assert.Contains("cannot be broadcast", Assert.Throws<ArgumentException>(() =>
            Functional.L1Loss(Tensor.Zeros(3), Tensor.Zeros(4))).Message);
        Assert.Contains("int64", Assert.Throws<ArgumentException>(() =>
            Functional.NllLoss(logits, Tensor.Zeros(3))).Message);
    }

    [Fact]
    public void LossModulesExposeWeightsAsPyTorchBuffers()
    {
        Assert.Equal(["weight"], new CrossEntropyLoss(Tensor.Ones(3)).StateDict().Keys);
        Assert.Empty(new CrossEntropyLoss().StateDict());
        Assert.Equal(["weight", "pos_weight"], new BceWithLogitsLoss(Tensor.Ones(2), posWeight: Tensor.Ones(2)).StateDict().Keys);
        var ce = new CrossEntropyLoss(Tensor.Ones(3));
        ce.To(DType.Float64);
        Assert.Equal(DType.Float64, ce.Weight!.DType);
        var loss = ce.Call(Tensor.Zeros([2, 3], DType.Float64), Tensor.From(new long[] { 0, 2 }));
        Assert.Equal(Math.Log(3), loss.ToDouble(), 12);
    }

    private static Tensor OneHot(Tensor labels, int classes)
    {
        var l = labels.ToArray<long>();
        var data = new float[l.Length * classes];
        for (int i = 0; i < l.Length; i++) data[i * classes + l[i]] = 1;
        return Tensor.From(data, l.Length, classes);
    }
}
