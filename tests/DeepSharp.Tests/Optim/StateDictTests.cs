using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// Checkpoint and resume: 10 steps, state dict, a fresh optimizer (and scheduler) built with other
/// hyper-parameters, load, 10 more steps must equal 20 uninterrupted steps bit for bit.
/// </summary>
public sealed class StateDictTests
{
    public static IEnumerable<object[]> Ids() => OptimFixtures.Ids("optimizers");

    [Theory]
    [MemberData(nameof(Ids))]
    public void OptimizerResumesBitIdentically(string id)
    {
        var c = OptimFixtures.Case("optimizers", id);
        var reference = new OptimFixtures.Problem(DType.Float32);
        var referenceOptimizer = OptimFixtures.BuildOptimizer(c, reference.Params);
        for (int i = 0; i < 20; i++) reference.TrainStep(referenceOptimizer);

        var first = new OptimFixtures.Problem(DType.Float32);
        var firstOptimizer = OptimFixtures.BuildOptimizer(c, first.Params);
        for (int i = 0; i < 10; i++) first.TrainStep(firstOptimizer);
        var saved = firstOptimizer.StateDict();
        AssertTensorsOnly(saved);

        // A new run from the saved weights, whose optimizer starts with other hyper-parameters that the load must replace.
        var resumed = new OptimFixtures.Problem(DType.Float32);
        CopyParams(first, resumed);
        var resumedOptimizer = OptimFixtures.BuildOptimizer(c, resumed.Params, o => o with { Lr = o.Lr * 3 + 0.5 });
        resumedOptimizer.LoadStateDict(saved);
        for (int i = 0; i < 10; i++) resumed.TrainStep(resumedOptimizer);

        Assert.Equal(reference.W.ToArray<float>(), resumed.W.ToArray<float>());
        Assert.Equal(reference.B.ToArray<float>(), resumed.B.ToArray<float>());
        Assert.Equal(Keys(referenceOptimizer.StateDict()), Keys(resumedOptimizer.StateDict()));
    }

    [Fact]
    public void StateDictLayout()
    {
        var problem = new OptimFixtures.Problem(DType.Float32);
        var adam = new Adam(problem.Params, new AdamOptions(Lr: 0.01, Amsgrad: true));
        for (int i = 0; i < 3; i++) problem.TrainStep(adam);
        var dict = adam.StateDict();
        Assert.Equal(3.0, dict["state.0.step"].ToDouble());
        Assert.Equal([3, 4], dict["state.0.exp_avg"].Shape.ToArray());
        Assert.Equal([4], dict["state.1.max_exp_avg_sq"].Shape.ToArray());
        Assert.False(dict.ContainsKey("state.2.step")); // u never had a gradient
        Assert.Equal(0.01, dict["param_groups.0.lr"].ToDouble());
        Assert.Equal(1.0, dict["param_groups.0.amsgrad"].ToDouble());
        Assert.Equal([0L, 1, 2], dict["param_groups.0.params"].ToArray<long>());

        // The dict holds copies: further steps do not change it.
        var before = dict["state.0.exp_avg"].ToArray<float>();
        problem.TrainStep(adam);
        Assert.Equal(before, dict["state.0.exp_avg"].ToArray<float>());
    }

    [Fact]
    public void LoadRejectsBadDictsAndChangesNothing()
    {
        var problem = new OptimFixtures.Problem(DType.Float32);
        var adam = new Adam(problem.Params, new AdamOptions(Lr: 0.01));
        problem.TrainStep(adam);
        var good = adam.StateDict();
        var m = adam.GetState(problem.W)!.Buffers[0]!.ToArray<float>();

        var missing = new Dictionary<string, Tensor>(good);
        missing.Remove("param_groups.0.beta2");
        Assert.Contains("param_groups.0.beta2", Assert.Throws<KeyNotFoundException>(() => adam.LoadStateDict(missing)).Message);

        var extra = new Dictionary<string, Tensor>(good) { ["state.0.momentum_buffer"] = Tensor.Zeros(3, 4) };
        Assert.Contains("unexpected", Assert.Throws<ArgumentException>(() => adam.LoadStateDict(extra)).Message);

        var wrongShape = new Dictionary<string, Tensor>(good) { ["state.0.exp_avg"] = Tensor.Zeros(4, 3) };
        Assert.Contains("shape", Assert.Throws<ArgumentException>(() => adam.LoadStateDict(wrongShape)).Message);

        var sgd = new Sgd(problem.Params, new SgdOptions(0.1, Momentum: 0.9));
        Assert.Throws<KeyNotFoundException>(() => sgd.LoadStateDict(good)); // an Adam dict has no momentum

        Assert.Equal(0.01, adam.ParamGroups[0].Lr);
        Assert.Equal(m, adam.GetState(problem.W)!.Buffers[0]!.ToArray<float>());
    }

    [Fact]
    public void LoadConvertsStateToTheParameterDtype()
    {
        var p32 = new OptimFixtures.Problem(DType.Float32);
        var adam32 = new Adam(p32.Params, new AdamOptions(Lr: 0.01));
        p32.TrainStep(adam32);

        var p64 = new OptimFixtures.Problem(DType.Float64);
        var adam64 = new Adam(p64.Params);
        adam64.LoadStateDict(adam32.StateDict());
        var m = adam64.GetState(p64.W)!.Buffers[0]!;
        Assert.Equal(DType.Float64, m.DType);
        Assert.Equal(adam32.GetState(p32.W)!.Buffers[0]!.ToDoubleArray(), m.ToDoubleArray());
        p64.TrainStep(adam64);
    }

    public static IEnumerable<object[]> SchedulerIds() =>
        new[] { "step", "multistep", "exponential", "cosine", "linear_warmup", "onecycle_cos_sgd", "onecycle_linear_three_phase_adam",
            "onecycle_rmsprop_groups", "plateau_min_rel", "plateau_max_abs" }.Select(id => new object[] { id });

    [Theory]
    [MemberData(nameof(SchedulerIds))]
    public void SchedulerResumesBitIdentically(string id)
    {
        var c = OptimFixtures.Case("schedulers", id);
        var metrics = c.GetProperty("metrics");

        void Advance(Optimizer o, LRScheduler s, int epoch)
        {
            o.Step();
            if (s is ReduceLROnPlateau plateau) plateau.Step(metrics[epoch].GetDouble());
            else s.Step();
        }

        var refOptimizer = SchedulerParityTests.BuildOptimizer(c);
        var refScheduler = SchedulerParityTests.BuildScheduler(c, refOptimizer);
        var lrs = new List<double[]>();
        for (int e = 0; e < 20; e++)
        {
            Advance(refOptimizer, refScheduler, e);
            lrs.Add([.. refOptimizer.ParamGroups.Select(g => g.Lr), .. refOptimizer.ParamGroups.Select(g => g.Options.CycledMomentum ?? 0)]);
        }

        var optimizer = SchedulerParityTests.BuildOptimizer(c);
        var scheduler = SchedulerParityTests.BuildScheduler(c, optimizer);
        for (int e = 0; e < 10; e++) Advance(optimizer, scheduler, e);
        var savedOptimizer = optimizer.StateDict();
        var savedScheduler = scheduler.StateDict();
        AssertTensorsOnly(savedScheduler);

        // PyTorch's resume order: build both (the scheduler's constructor steps), then load both.
        var resumedOptimizer = SchedulerParityTests.BuildOptimizer(c);
        var resumedScheduler = SchedulerParityTests.BuildScheduler(c, resumedOptimizer);
        resumedOptimizer.LoadStateDict(savedOptimizer);
        resumedScheduler.LoadStateDict(savedScheduler);
        for (int e = 10; e < 20; e++)
        {
            Advance(resumedOptimizer, resumedScheduler, e);
            double[] got = [.. resumedOptimizer.ParamGroups.Select(g => g.Lr), .. resumedOptimizer.ParamGroups.Select(g => g.Options.CycledMomentum ?? 0)];
            Assert.Equal(lrs[e], got);
            Assert.Equal(e + 1, resumedScheduler.LastEpoch);
        }
        Assert.Equal(refScheduler.GetLastLr(), resumedScheduler.GetLastLr());
        Assert.Equal(Keys(refScheduler.StateDict()), Keys(resumedScheduler.StateDict()));
    }

    [Fact]
    public void SchedulerLoadRejectsAnotherSchedulersDict()
    {
        var optimizer = new Sgd([Tensor.Zeros([2], DType.Float32, requiresGrad: true)], new SgdOptions(0.1));
        var step = new StepLR(optimizer, 3);
        var cosine = new CosineAnnealingLR(optimizer, 10);
        Assert.Throws<KeyNotFoundException>(() => cosine.LoadStateDict(step.StateDict()));
        var stepDict = step.StateDict();
        stepDict["T_max"] = Tensor.Scalar(3, DType.Float64);
        Assert.Throws<ArgumentException>(() => step.LoadStateDict(stepDict));
    }

    internal static void AssertTensorsOnly(Dictionary<string, Tensor> dict)
    {
        foreach (var (key, t) in dict)
        {
            Assert.NotNull(t);
            if (key.EndsWith(".params", StringComparison.Ordinal) || key == "milestones") continue;
            if (key.StartsWith("state.", StringComparison.Ordinal) && !key.EndsWith(".step", StringComparison.Ordinal)) continue;
            Assert.True(t.Rank == 0 && t.DType == DType.Float64, $"'{key}' should be a rank-0 float64 tensor, is {t.DType} rank {t.Rank}");
        }
    }

    private static void CopyParams(OptimFixtures.Problem from, OptimFixtures.Problem to)
    {
        using var _ = DeepSharp.Autograd.NoGrad();
        to.W.CopyFrom(from.W);
        to.B.CopyFrom(from.B);
        to.U.CopyFrom(from.U);
    }

    private static string[] Keys(Dictionary<string, Tensor> dict) => [.. dict.Keys.Order(StringComparer.Ordinal)];
}
