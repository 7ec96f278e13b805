using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>LRScheduler.Restart(n) gives the learning rates of a schedule stepped n times from its start, whatever the optimizer held before.</summary>
public sealed class SchedulerRestartTests
{
    private static Optimizer NewOptimizer() => new Sgd(new Linear(3, 2, generator: new Generator(1)).Parameters(), new SgdOptions(Lr: 0.1, Momentum: 0.9));

    public static TheoryData<string> Schedules => ["cosine", "step", "onecycle", "linear", "exponential"];

    private static LRScheduler Create(string name, Optimizer o) => name switch
    {
        "cosine" => new CosineAnnealingLR(o, 7, 0.001),
        "step" => new StepLR(o, 3, 0.5),
        "onecycle" => new OneCycleLR(o, 0.5, 20),
        "linear" => new LinearLR(o, 0.1, 1, 5),
        _ => new ExponentialLR(o, 0.9),
    };

    [Theory]
    [MemberData(nameof(Schedules))]
    public void RestartReplaysTheScheduleFromItsStart(string name)
    {
        foreach (int n in new[] { 0, 1, 5, 12 })
        {
            var stepped = NewOptimizer();
            var reference = Create(name, stepped);
            for (int i = 0; i < n; i++) reference.Step();

            var restarted = NewOptimizer();
            var scheduler = Create(name, restarted);
            for (int i = 0; i < 9; i++) scheduler.Step(); // somewhere else in the schedule
            restarted.ParamGroups[0].Lr = 0;             // and an lr from elsewhere (e.g. a loaded optimizer state)
            scheduler.Restart(n);

            Assert.Equal(stepped.ParamGroups[0].Lr, restarted.ParamGroups[0].Lr);
            Assert.Equal(reference.LastEpoch, scheduler.LastEpoch);
            Assert.Equal(reference.GetLastLr(), scheduler.GetLastLr());
        }
    }

    [Fact]
    public void APlateauScheduleCannotBeReplayed()
    {
        var o = NewOptimizer();
        var ex = Assert.Throws<NotSupportedException>(() => new ReduceLROnPlateau(o).Restart(3));
        Assert.Contains("cannot be replayed", ex.Message, StringComparison.Ordinal);
    }
}
