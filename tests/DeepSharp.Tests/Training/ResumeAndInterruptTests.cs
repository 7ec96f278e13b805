using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

/// <summary>
/// Stopping training within an epoch (Ctrl-C in the CLI) and resuming it, resuming with a longer plan, and the
/// history across a resume.
/// </summary>
[Collection("WorkerPool")]
public sealed class ResumeAndInterruptTests
{
    internal static TensorDataset Data(int n)
    {
        var g = new Generator(11);
        var x = Tensor.Randn([n, 20], g);
        var y = Tensor.Randint(0, 4, [n], g);
        return new TensorDataset(x, y);
    }

    internal static (Trainer Trainer, Module<Tensor, Tensor> Model, DataLoader Loader) Setup(TensorDataset data, int epochsPlanned, bool perBatch = false)
    {
        var dropout = new Generator(50);
        var model = new Sequential(new Linear(20, 16, generator: new Generator(1)), new Relu(), new Dropout(0.2, dropout), new Linear(16, 4, generator: new Generator(2)));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2));
        var loader = new DataLoader(data, 16, shuffle: true, generator: new Generator(100));
        int horizon = perBatch ? epochsPlanned * loader.Count : epochsPlanned;
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer,
            new TrainerOptions { Scheduler = new CosineAnnealingLR(optimizer, horizon), SchedulerPerBatch = perBatch, Generators = [dropout] });
        return (trainer, model, loader);
    }

    private sealed class BatchRecorder(List<int> batches) : ITrainingReporter
    {
        public void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond) => batches.Add(batch);
    }

    private static float[] Weights(Module model) => model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();

    private sealed class CancelAt(long step, CancellationTokenSource source) : ICallback
    {
        public void OnBatchEnd(Trainer trainer, long s, double loss)
        {
            if (s == step) source.Cancel();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFitCancelledMidEpochSavesACheckpointThatResumesToTheSameWeights(bool perBatch)
    {
        var data = Data(160); // 10 batches per epoch
        var (straight, straightModel, straightLoader) = Setup(data, 3, perBatch);
        straight.Fit(straightLoader, epochs: 3);

        using var dir = new Serialization.TempDir();
        var (first, _, firstLoader) = Setup(data, 3, perBatch);
        using var stop = new CancellationTokenSource();
        var history = first.Fit(firstLoader, epochs: 3, callbacks: [new CancelAt(14, stop)], cancellationToken: stop.Token);
        Assert.True(history.Interrupted);
        Assert.Single(history.Epochs); // epoch 1 finished; epoch 2 stopped after its 4th batch
        Assert.Equal(1, first.Epoch);
        Assert.Equal(14, first.Step);
        Assert.Equal(4, first.InterruptedAt!.Batch);
        first.SaveCheckpoint(dir.File("ckpt.safetensors"));

        var (resumed, resumedModel, resumedLoader) = Setup(data, 3, perBatch);
        resumed.LoadCheckpoint(dir.File("ckpt.safetensors"));
        Assert.Equal(4, resumed.ResumePosition!.Batch);
        var batches = new List<int>();
        var reporting = new Trainer(resumed.Model, (o, t) => Functional.CrossEntropy(o, t), resumed.Optimizer, resumed.Options with { Reporter = new BatchRecorder(batches) });
        reporting.LoadCheckpoint(dir.File("ckpt.safetensors"));
        var rest = reporting.Fit(resumedLoader, epochs: 3);
        Assert.Equal(5, batches[0]); // the resumed epoch reports its batches by their place in the epoch: 5..10
        Assert.False(rest.Interrupted);
        Assert.Equal(straight.Step, reporting.Step);
        Assert.Equal(Weights(straightModel), Weights(resumedModel));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResumingWithALongerPlanTrainsAsIfItHadBeenPlannedFromTheStart(bool perBatch)
    {
        var data = Data(96);
        var (straight, straightModel, straightLoader) = Setup(data, 3, perBatch);
        var straightHistory = straight.Fit(straightLoader, epochs: 3);

        using var dir = new Serialization.TempDir();
        var (short1, _, shortLoader) = Setup(data, 1, perBatch); // planned for 1 epoch: cosine ends at lr 0
        short1.Fit(shortLoader, epochs: 1);
        short1.SaveCheckpoint(dir.File("ckpt.safetensors"));

        // Restoring the old schedule keeps its 1-epoch horizon: the next epoch would train at lr 0.
        var (stale, _, _) = Setup(data, 3, perBatch);
        stale.LoadCheckpoint(dir.File("ckpt.safetensors"));
        Assert.Equal(0, stale.Optimizer.ParamGroups[0].Lr, 12);

        var (replanned, replannedModel, replannedLoader) = Setup(data, 3, perBatch);
        replanned.LoadCheckpoint(dir.File("ckpt.safetensors"), replanSchedule: true);
        var rest = replanned.Fit(replannedLoader, epochs: 3);
        Assert.Equal(straightHistory.Epochs.Skip(1).Select(e => e["lr"]), rest.Epochs.Select(e => e["lr"]));
        Assert.All(rest.Epochs, e => Assert.True(e["lr"] > 0));
        // Epochs already trained keep the learning rates they had. Per epoch, the first epoch of any cosine plan trains at the
        // base lr, so extending a 1-epoch run gives exactly the longer run; per batch, epoch 1 had annealed over a shorter horizon.
        if (!perBatch) Assert.Equal(Weights(straightModel), Weights(replannedModel));
        else Assert.NotEqual(Weights(straightModel), Weights(replannedModel));
    }

    [Fact]
    public void MetricsLoggerKeepsTheEpochsBeforeAResume()
    {
        var data = Data(64);
        using var dir = new Serialization.TempDir();
        var csv = dir.File("history.csv");
        var json = dir.File("history.json");
        var (first, _, loader) = Setup(data, 4);
        first.Fit(loader, epochs: 2, callbacks: [new MetricsLogger(csv, json)]);
        first.SaveCheckpoint(dir.File("ckpt.safetensors"));
        // Two more epochs of the same run, then a rerun from the checkpoint: rows 3 and 4 are replaced, 1 and 2 kept.
        first.Fit(loader, epochs: 4, callbacks: [new MetricsLogger(csv, json)]);
        var (resumed, _, resumedLoader) = Setup(data, 4);
        resumed.LoadCheckpoint(dir.File("ckpt.safetensors"));
        var logger = new MetricsLogger(csv, json);
        resumed.Fit(resumedLoader, epochs: 4, callbacks: [logger]);

        Assert.Equal([0, 1, 2, 3], logger.Epochs.Select(e => e.Epoch));
        var rows = MetricsLogger.ReadCsv(csv);
        Assert.Equal([0, 1, 2, 3], rows.Select(r => r.Epoch));
        Assert.Equal([0, 1, 2, 3], MetricsLogger.ReadJson(json).Select(r => r.Epoch));
        Assert.All(rows, r => Assert.True(r.ContainsKey("loss") && r.ContainsKey("lr")));
    }
}
