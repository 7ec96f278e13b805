using DeepSharp.Data;
using DeepSharp.Insight.TensorBoard;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Tests.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Insight.TensorBoard;

[Collection("WorkerPool")]
public sealed class TensorBoardMonitorTests
{
    [Fact]
    public void FitWritesEveryStepsLossAndLrAndEachEpochsLogs()
    {
        using var dir = new TempDir();
        var g = new Generator(3);
        var x = Tensor.Randn([96, 4], generator: g);
        var y = Tensor.From(Enumerable.Range(0, 96).Select(i => (long)(i % 3)).ToArray(), 96);
        var model = new Sequential(new Linear(4, 8, generator: new Generator(1)), new Relu(), new Linear(8, 3, generator: new Generator(2)));
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1));
        string path;
        TrainingHistory history;
        using (var writer = new SummaryWriter(dir.Path))
        {
            path = writer.FilePath;
            var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer,
                new TrainerOptions { Scheduler = new StepLR(optimizer, 1, 0.5), Monitors = [new TensorBoardMonitor(writer, model)] });
            history = trainer.Fit(new DataLoader(new TensorDataset(x, y), 32), epochs: 2);
        }
        var events = EventFileReader.Read(path);
        var scalars = events.SelectMany(e => e.Values.Where(v => v.One(2) is not null).Select(v => (Tag: v.One(1)!.AsString, e.Step, Value: v.One(2)!.AsFloat))).ToList();
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6 }, scalars.Where(s => s.Tag == "train/loss").Select(s => s.Step));
        Assert.Equal(new[] { 0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f }, scalars.Where(s => s.Tag == "train/lr").Select(s => s.Value));
        // Batch accuracy of a classifier: a multiple of 1/32 in [0, 1] on every step, averaging to the epoch's accuracy.
        var accuracy = scalars.Where(s => s.Tag == "train/accuracy").ToList();
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6 }, accuracy.Select(s => s.Step));
        Assert.All(accuracy, a => Assert.Equal(0, a.Value * 32 % 1, 4));
        Assert.Equal(history.Epochs[1]["accuracy"], accuracy.Skip(3).Average(a => a.Value), 5);
        var epochLoss = scalars.Where(s => s.Tag == "epoch/loss").ToList();
        Assert.Equal(new long[] { 3, 6 }, epochLoss.Select(s => s.Step));
        Assert.Equal(history.Epochs.Select(e => (float)e["loss"]), epochLoss.Select(s => s.Value));
        Assert.Contains(events, e => e.Step == 6 && e.Values.Any(v => v.One(1)!.AsString == "weights/0.weight" && v.One(5) is not null));
    }

    [Fact]
    public void TheLanguageModelTrainerWritesTheSameSeries()
    {
        using var dir = new TempDir();
        var g = new Generator(4);
        var tokens = Enumerable.Range(0, 900).Select(i => (long)((i * 7 + i / 13) % 11)).ToArray();
        var model = new CharRnn(new CharRnnConfig(11, RecurrentCellType.Gru, EmbeddingDim: 8, HiddenSize: 16), generator: g);
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2));
        string path;
        Trainer trainer;
        using (var writer = new SummaryWriter(dir.Path))
        {
            path = writer.FilePath;
            trainer = new Trainer(model, optimizer, new TrainerOptions { LanguageModel = new() { BatchSize = 4, SequenceLength = 20 }, ClipGradNorm = 5, Monitors = [new TensorBoardMonitor(writer)] });
            trainer.Fit(tokens[..800], tokens[800..], epochs: 2);
        }
        var events = EventFileReader.Read(path);
        var losses = events.Where(e => e.Values.Any(v => v.One(1)!.AsString == "train/loss")).Select(e => e.Step).ToList();
        Assert.Equal(Enumerable.Range(1, (int)trainer.Step).Select(i => (long)i), losses);
        Assert.Equal(2, events.Count(e => e.Values.Any(v => v.One(1)!.AsString == "epoch/perplexity")));
        Assert.Contains("tokens per batch", events[1].Values[0].One(8)!.AsMessage.One(8)!.AsString, StringComparison.Ordinal);
    }
}
