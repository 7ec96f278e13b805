using System.Text.Json;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// Every scheduler case in tests/fixtures/optim.json against PyTorch 1.13: the learning rate of
/// every group right after construction and after each of 30 steps (and the cycled momentum or
/// beta1 for OneCycleLR).
/// </summary>
public sealed class SchedulerParityTests
{
    public static IEnumerable<object[]> Ids() => OptimFixtures.Ids("schedulers");

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorch(string id)
    {
        var c = OptimFixtures.Case("schedulers", id);
        var optimizer = BuildOptimizer(c);
        var scheduler = BuildScheduler(c, optimizer);
        var metrics = c.GetProperty("metrics");
        var lrs = c.GetProperty("lr");
        var momentums = c.GetProperty("momentum");
        for (int epoch = 0; epoch < lrs.GetArrayLength(); epoch++)
        {
            if (epoch > 0)
            {
                optimizer.Step();
                if (scheduler is ReduceLROnPlateau plateau) plateau.Step(metrics[epoch - 1].GetDouble());
                else scheduler.Step();
            }
            var want = OptimFixtures.Numbers(lrs[epoch]);
            var got = optimizer.ParamGroups.Select(g => g.Lr).ToArray();
            AssertClose(id, "lr", epoch, want, got);
            AssertClose(id, "GetLastLr", epoch, want, [.. scheduler.GetLastLr()]);
            if (momentums.ValueKind != JsonValueKind.Null)
                AssertClose(id, "momentum", epoch, OptimFixtures.Numbers(momentums[epoch]),
                    [.. optimizer.ParamGroups.Select(g => g.Options.CycledMomentum!.Value)]);
        }
    }

    private static void AssertClose(string id, string what, int epoch, double[] want, double[] got)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            if (!(Math.Abs(got[i] - want[i]) <= 1e-13 * Math.Abs(want[i]) + 1e-17))
                Assert.Fail($"{id}: {what} of group {i} at epoch {epoch} is {got[i]:R}, PyTorch {want[i]:R}");
    }

    internal static Optimizer BuildOptimizer(JsonElement c)
    {
        string name = c.GetProperty("optimizer").GetString()!;
        var groups = OptimFixtures.Numbers(c.GetProperty("group_lrs")).Select(lr => new ParamGroup([Tensor.Zeros([2], DType.Float32, requiresGrad: true)],
            name switch
            {
                "SGD" => new SgdOptions(lr, Momentum: 0.9),
                "Adam" => new AdamOptions(lr),
                "Adagrad" => new AdagradOptions(lr),
                "RMSprop" => new RmsPropOptions(lr),
                _ => throw new ArgumentException(name),
            }));
        return OptimFixtures.Create(name, groups);
    }

    internal static LRScheduler BuildScheduler(JsonElement c, Optimizer optimizer)
    {
        var a = OptimFixtures.Args(c.GetProperty("args"));
        double D(string key, double fallback) => a.TryGetValue(key, out var v) ? OptimFixtures.Number(v) : fallback;
        int I(string key, int fallback) => a.TryGetValue(key, out var v) ? v.GetInt32() : fallback;
        bool B(string key, bool fallback) => a.TryGetValue(key, out var v) ? v.GetBoolean() : fallback;
        string S(string key, string fallback) => a.TryGetValue(key, out var v) ? v.GetString()! : fallback;

        // Cases that pass only the required arguments use the C# defaults, which must be PyTorch's.
        return c.GetProperty("scheduler").GetString() switch
        {
            "StepLR" => a.ContainsKey("gamma") ? new StepLR(optimizer, I("step_size", 0), D("gamma", 0)) : new StepLR(optimizer, I("step_size", 0)),
            "MultiStepLR" => new MultiStepLR(optimizer, a["milestones"].EnumerateArray().Select(e => e.GetInt32()), D("gamma", 0.1)),
            "ExponentialLR" => new ExponentialLR(optimizer, D("gamma", 0)),
            "CosineAnnealingLR" => a.ContainsKey("eta_min") ? new CosineAnnealingLR(optimizer, I("T_max", 0), D("eta_min", 0)) : new CosineAnnealingLR(optimizer, I("T_max", 0)),
            "LinearLR" => a.Count == 0 ? new LinearLR(optimizer)
                : new LinearLR(optimizer, D("start_factor", 1.0 / 3), D("end_factor", 1.0), I("total_iters", 5)),
            "OneCycleLR" => a.Count == 2 ? new OneCycleLR(optimizer, D("max_lr", 0), I("total_steps", 0))
                : new OneCycleLR(optimizer, D("max_lr", 0), I("total_steps", 0), D("pct_start", 0.3),
                    S("anneal_strategy", "cos") == "cos" ? AnnealStrategy.Cos : AnnealStrategy.Linear,
                    B("cycle_momentum", true), D("base_momentum", 0.85), D("max_momentum", 0.95), D("div_factor", 25),
                    D("final_div_factor", 1e4), B("three_phase", false)),
            "ReduceLROnPlateau" => a.Count == 1 ? new ReduceLROnPlateau(optimizer, patience: I("patience", 10))
                : a.TryGetValue("min_lr", out var m) && m.ValueKind == JsonValueKind.Array
                    ? new ReduceLROnPlateau(optimizer, OptimFixtures.Numbers(m), PlateauModeOf(S("mode", "min")), D("factor", 0.1), I("patience", 10),
                        D("threshold", 1e-4), ThresholdModeOf(S("threshold_mode", "rel")), I("cooldown", 0), D("eps", 1e-8))
                    : new ReduceLROnPlateau(optimizer, PlateauModeOf(S("mode", "min")), D("factor", 0.1), I("patience", 10),
                        D("threshold", 1e-4), ThresholdModeOf(S("threshold_mode", "rel")), I("cooldown", 0), D("min_lr", 0), D("eps", 1e-8)),
            var s => throw new ArgumentException(s),
        };
    }

    private static PlateauMode PlateauModeOf(string s) => s == "min" ? PlateauMode.Min : PlateauMode.Max;

    private static ThresholdMode ThresholdModeOf(string s) => s == "rel" ? ThresholdMode.Rel : ThresholdMode.Abs;
}
