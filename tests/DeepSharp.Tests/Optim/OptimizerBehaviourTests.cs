using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>Construction rules, error messages, gradient handling and the no-allocation steady state.</summary>
public sealed class OptimizerBehaviourTests
{
    [Fact]
    public void InvalidConfigurationsAreRejectedWithClearErrors()
    {
        var w = Tensor.Zeros([3], DType.Float32, requiresGrad: true);
        Assert.Contains("Nesterov", Assert.Throws<ArgumentException>(() => new Sgd([w], new SgdOptions(0.1, Nesterov: true))).Message);
        Assert.Throws<ArgumentException>(() => new Sgd([w], new SgdOptions(0.1, Momentum: 0.9, Dampening: 0.1, Nesterov: true)));
        Assert.Contains("empty parameter list", Assert.Throws<ArgumentException>(() => new Adam([])).Message);
        Assert.Contains("more than once", Assert.Throws<ArgumentException>(() => new Adam([w, w])).Message);
        Assert.Contains("more than once", Assert.Throws<ArgumentException>(() =>
            new Adam([new ParamGroup([w], new AdamOptions()), new ParamGroup([w], new AdamOptions())])).Message);
        Assert.Contains("non-leaf", Assert.Throws<ArgumentException>(() => new Adam([w * 2])).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => new Adam([Tensor.From(new long[] { 1 }, 1)])).Message);
        Assert.Contains("SgdOptions", Assert.Throws<ArgumentException>(() => new Adam([new ParamGroup([w], new SgdOptions(0.1))])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([w], new AdamOptions(Lr: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([w], new AdamOptions(Beta1: 1.0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([w], new AdamWOptions(Beta2: -0.1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adadelta([w], new AdadeltaOptions(Rho: 1.5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp([w], new RmsPropOptions(Momentum: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad([w], new AdagradOptions(LrDecay: -1)));

        var adam = new Adam([w]);
        Assert.Throws<ArgumentException>(() => adam.ParamGroups[0].Options = new SgdOptions(0.1)); // another optimizer's options
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.ParamGroups[0].Options = new AdamOptions(Eps: -1));
        w.Grad = Tensor.Zeros([4]);
        Assert.Contains("gradient", Assert.Throws<InvalidOperationException>(adam.Step).Message);
        w.Grad = Tensor.Zeros([3], DType.Float64);
        Assert.Throws<InvalidOperationException>(adam.Step);
    }

    [Fact]
    public void DefaultsArePyTorchs()
    {
        Assert.Equal(new AdamOptions(1e-3, 0.9, 0.999, 1e-8, 0, false, false), new AdamOptions());
        Assert.Equal(1e-2, new AdamWOptions().WeightDecay);
        Assert.Equal(new RmsPropOptions(1e-2, 0.99, 1e-8, 0, 0, false), new RmsPropOptions());
        Assert.Equal(new AdagradOptions(1e-2, 0, 0, 0, 1e-10), new AdagradOptions());
        Assert.Equal(new AdadeltaOptions(1.0, 0.9, 1e-6, 0), new AdadeltaOptions());
    }

    [Fact]
    public void ParametersWithoutGradientsAreSkippedAndZeroGradClears()
    {
        var a = Tensor.Ones([2], DType.Float32, requiresGrad: true);
        var b = Tensor.Ones([2], DType.Float32, requiresGrad: true);
        var opt = new Sgd([a, b], new SgdOptions(0.5, Momentum: 0.9));
        a.Grad = Tensor.Ones([2]);
        int version = a.Version;
        opt.Step();
        Assert.Equal([0.5, 0.5], a.ToDoubleArray());
        Assert.Equal([1.0, 1.0], b.ToDoubleArray());
        Assert.True(a.Version > version); // in-place write: autograd sees saved copies of a as stale
        Assert.NotNull(opt.GetState(a));
        Assert.Null(opt.GetState(b));

        opt.ZeroGrad(setToNone: false);
        Assert.Equal([0.0, 0.0], a.Grad!.ToDoubleArray());
        opt.ZeroGrad();
        Assert.Null(a.Grad);
        Assert.Throws<ArgumentException>(() => opt.GetState(Tensor.Zeros(2)));
    }

    [Fact]
    public void NonContiguousParametersAndGradientsAreUpdated()
    {
        var p = Tensor.From(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3).Transpose(0, 1); // [3,2] view, not contiguous
        p.RequiresGrad = true;
        Assert.False(p.IsContiguous);
        p.Grad = Tensor.From(new float[] { 1, 1, 1, 1, 1, 1 }, 2, 3).Transpose(0, 1);
        var opt = new Sgd([p], new SgdOptions(0.5));
        opt.Step();
        Assert.Equal([0.5, 3.5, 1.5, 4.5, 2.5, 5.5], p.ToDoubleArray());
    }

    [Fact]
    public void AddParamGroupExtendsTheOptimizer()
    {
        var a = Tensor.Ones([2], DType.Float32, requiresGrad: true);
        var b = Tensor.Ones([3], DType.Float64, requiresGrad: true);
        var opt = new Adam([a], new AdamOptions(Lr: 0.1));
        opt.AddParamGroup(new ParamGroup([b], new AdamOptions(Lr: 0.2)));
        a.Grad = Tensor.Ones([2]);
        b.Grad = Tensor.Ones([3], DType.Float64);
        opt.Step();
        Assert.Equal(0.9, a.ToDoubleArray()[0], 1e-6); // Adam's first step moves by lr
        Assert.Equal(0.8, b.ToDoubleArray()[0], 1e-6);
        Assert.Equal(0.2, opt.Options(1).Lr);
        Assert.True(opt.StateDict().ContainsKey("state.1.exp_avg"));
        Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup([a], new AdamOptions())));
    }

    [Fact]
    public void OneCycleNeedsMomentumAndPlateauNeedsAMetric()
    {
        var p = Tensor.Zeros([2], DType.Float32, requiresGrad: true);
        Assert.Contains("momentum", Assert.Throws<ArgumentException>(() => new OneCycleLR(new Adagrad([p]), 0.1, 10)).Message);
        var plateau = new ReduceLROnPlateau(new Sgd([p], new SgdOptions(0.1)));
        Assert.Throws<InvalidOperationException>(plateau.Step);
        Assert.Equal([0.1], plateau.GetLastLr());
        var oneCycle = new OneCycleLR(new Sgd([p], new SgdOptions(0.1, Momentum: 0.9)), 0.1, totalSteps: 3);
        for (int i = 0; i < 3; i++) oneCycle.Step();
        Assert.Contains("total steps", Assert.Throws<InvalidOperationException>(oneCycle.Step).Message);
    }

    [Fact]
    public void SchedulersShareTheInitialLrLikePyTorch()
    {
        var p = Tensor.Zeros([2], DType.Float32, requiresGrad: true);
        var opt = new Sgd([p], new SgdOptions(1.0));
        var warmup = new LinearLR(opt, startFactor: 0.5);
        Assert.Equal(0.5, opt.ParamGroups[0].Lr);
        var cosine = new CosineAnnealingLR(opt, 10); // base lr is the initial 1.0, not the warmed-up 0.5
        Assert.Equal([1.0], cosine.BaseLrs);
        Assert.Equal(1.0, opt.ParamGroups[0].InitialLr);
        Assert.Equal(1.0, opt.StateDict()["param_groups.0.initial_lr"].ToDouble());
        _ = warmup;
    }

    public static IEnumerable<object[]> Optimizers() =>
        new[] { "sgd", "sgd_nesterov_wd", "adagrad_all", "rmsprop_centered_momentum_wd", "adam_amsgrad", "adamw", "adadelta" }.Select(id => new object[] { id });

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void SteadyStateStepAllocatesNothing(string id)
    {
        var c = OptimFixtures.Case("optimizers", id);
        var w = Tensor.Ones([64, 33], DType.Float32, requiresGrad: true);
        var b = Tensor.Ones([33], DType.Float64, requiresGrad: true);
        var optimizer = OptimFixtures.BuildOptimizer(c, [w, b, Tensor.Zeros([1], DType.Float32, requiresGrad: true)]);
        w.Grad = Tensor.Full([64, 33], 0.01);
        b.Grad = Tensor.Full([33], -0.02, DType.Float64);
        for (int i = 0; i < 3; i++) optimizer.Step(); // state allocated here
        // The runtime itself may allocate now and then (tiered JIT); one clean window of 10 steps proves the point.
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 5 && least > 0; attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) optimizer.Step();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, least);
    }
}
