using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

/// <summary>TrainerOptions.GradientAccumulationSteps and MaxSteps (issue #17).</summary>
[Collection("WorkerPool")]
public sealed class AccumulationAndStepLimitTests
{
    private static (Sequential Model, TensorDataset Data) Setup()
    {
        var g = new Generator(4);
        var x = Tensor.Randn([48, 5], g, DType.Float64);
        var y = Tensor.From(Enumerable.Range(0, 48).Select(i => (long)(i % 3)).ToArray(), 48);
        var model = new Sequential(new Linear(5, 7, dtype: DType.Float64, generator: new Generator(1)), new Tanh(), new Linear(7, 3, dtype: DType.Float64, generator: new Generator(2)));
        return (model, new TensorDataset(x, y));
    }

    private sealed class Steps : ICallback
    {
        public List<(long Step, double Loss)> Seen { get; } = [];

        public void OnBatchEnd(Trainer trainer, long step, double loss) => Seen.Add((step, loss));
    }

    [Fact]
    public void FourAccumulatedBatchesOfEightStepLikeOneBatchOfThirtyTwo()
    {
        // Plain SGD: one step on the mean gradient of 32 examples equals one step over 4 accumulated batches of 8.
        var (big, data) = Setup();
        var (small, _) = Setup();
        var one = new Trainer(big, (o, t) => Functional.CrossEntropy(o, t), new Sgd(big.Parameters(), new SgdOptions(Lr: 0.5)), new TrainerOptions { MaxSteps = 1 });
        one.Fit(new DataLoader(data, 32), epochs: 1);
        var steps = new Steps();
        var four = new Trainer(small, (o, t) => Functional.CrossEntropy(o, t), new Sgd(small.Parameters(), new SgdOptions(Lr: 0.5)),
            new TrainerOptions { GradientAccumulationSteps = 4, MaxSteps = 1 });
        var history = four.Fit(new DataLoader(data, 8), epochs: 3, callbacks: [steps]);
        Assert.Equal(1, one.Step);
        Assert.Equal(1, four.Step);
        Assert.True(history.StoppedEarly);
        Assert.Single(history.Epochs);
        Assert.Single(steps.Seen);
        foreach (var (a, b) in big.Parameters().Zip(small.Parameters()))
            Assert.Equal(a.ToArray<double>(), b.ToArray<double>(), (p, q) => Math.Abs(p - q) < 1e-12);
    }

    [Fact]
    public void TheLastGroupOfAnEpochIsSmallerAndTheStepLimitCountsOptimizerSteps()
    {
        var (model, data) = Setup();
        var steps = new Steps();
        // 48 examples in batches of 8: 6 batches, groups of 4 -> steps after batches 4 and 6 (a group of 2).
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1)),
            new TrainerOptions { GradientAccumulationSteps = 4, MaxSteps = 5 });
        var history = trainer.Fit(new DataLoader(data, 8), epochs: 10, callbacks: [steps]);
        Assert.Equal(5, trainer.Step);                  // 2 steps per epoch: epochs 1 and 2, then 1 step of epoch 3
        Assert.Equal(3, history.Epochs.Count);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, steps.Seen.Select(s => s.Step));
        Assert.True(history.StoppedEarly);
        // A trainer already at its limit does not step again.
        Assert.Empty(trainer.Fit(new DataLoader(data, 8), epochs: 20).Epochs);
        Assert.Equal(5, trainer.Step);
        var bad = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1)), new TrainerOptions { GradientAccumulationSteps = 0 });
        Assert.Contains("GradientAccumulationSteps must be at least 1", Assert.Throws<ArgumentException>(() => bad.Fit(new DataLoader(data, 8))).Message);
    }
}
