using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Tests.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Insight;

using Autograd = DeepSharp.Autograd;

[Collection("WorkerPool")]
public sealed class RecorderTests
{
    private sealed class LossLog : ICallback
    {
        public List<double> Losses { get; } = [];

        public void OnBatchEnd(Trainer trainer, long step, double loss) => Losses.Add(loss);
    }

    private static TensorDataset Data(int n, ulong seed)
    {
        var g = new Generator(seed);
        return new TensorDataset(Tensor.Rand([n, 1, 12, 12], g), Tensor.Randint(0, 3, [n], g));
    }

    private static (List<double> Losses, float[] Weights, InsightRecorder? Recorder) Train(bool record, int every = 3)
    {
        var dropout = new Generator(77);
        var model = InsightModels.SmallCnn(seed: 11);
        model.Add(new Dropout(0.3, dropout));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer, new TrainerOptions { Generators = [dropout] });
        var log = new LossLog();
        var recorder = record ? new InsightRecorder(new InsightOptions { Every = every, HistogramBins = 8 }) : null;
        var callbacks = new List<ICallback> { log };
        if (recorder is not null) callbacks.Insert(0, recorder);
        trainer.Fit(new DataLoader(Data(96, 5), 16, shuffle: true, generator: new Generator(6)), new DataLoader(Data(32, 7), 16), epochs: 2, callbacks: callbacks);
        return (log.Losses, model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray(), recorder);
    }

    [Fact]
    public void RecordingDoesNotChangeTrainingResults()
    {
        var plain = Train(record: false);
        var recorded = Train(record: true, every: 2);
        Assert.Equal(12, plain.Losses.Count);
        Assert.Equal(plain.Losses, recorded.Losses);
        Assert.Equal(plain.Weights, recorded.Weights);
        Assert.Equal(plain.Losses, recorded.Recorder!.Log.BatchLosses);
    }

    [Fact]
    public void StatisticsAreRecordedOnEveryNthStepOnlyWithHooksAttachedOnlyThen()
    {
        var model = InsightModels.SmallCnn(seed: 3);
        var recorder = new InsightRecorder(new InsightOptions { Every = 5, HistogramBins = 10 });
        var armedAtForward = new List<bool>();
        using var probe = model[0].RegisterForwardHook((m, _, _) => { if (m.Training) armedAtForward.Add(recorder.Armed); });
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new Sgd(model.Parameters(), new SgdOptions(Lr: 0.05)));
        trainer.Fit(new DataLoader(Data(192, 8), 16), epochs: 1, callbacks: [recorder]);

        var log = recorder.Log;
        Assert.Equal([1L, 6, 11], log.Steps.Select(s => s.Step));
        Assert.Equal(Enumerable.Range(1, 12).Select(s => (s - 1) % 5 == 0), armedAtForward);
        Assert.False(recorder.Armed);
        // Shape-only layers (Flatten) are skipped; every other leaf is recorded on every recorded step.
        Assert.Equal(["0", "1", "2", "3", "4", "5", "7"], log.Layers.Select(l => l.Name));
        Assert.All(log.Steps, s => Assert.Equal(7, s.Activations.Count));
        Assert.Equal(["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "Tanh", "MaxPool2d", "Linear"], log.Layers.Select(l => l.Type));
        Assert.Equal([16, 4, 12, 12], log.Layers[0].Shape);
        // Gradients: every parameter, grouped by layer, with positive norms and a small update ratio.
        Assert.All(log.Steps, s => Assert.Equal(6, s.Gradients.Count));
        Assert.All(log.Steps.SelectMany(s => s.Gradients), g =>
        {
            Assert.True(g.GradNorm > 0 && g.WeightNorm > 0 && g.UpdateRatio > 0 && g.UpdateRatio < 1, $"{g}");
            Assert.Equal(g.Parameter[..g.Parameter.LastIndexOf('.')], g.Layer);
        });
        Assert.Equal(["0", "3", "7"], log.LayerGradientNorms().Select(l => l.Layer));
        Assert.Equal(12, log.BatchLosses.Count);
        Assert.Equal([12L], log.EpochEnds);
    }

    [Fact]
    public void EachRecordedStepKeepsTheLearningRateItTrainedWith()
    {
        var model = InsightModels.SmallCnn(seed: 4);
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer,
            new TrainerOptions { Scheduler = new StepLR(optimizer, 1, 0.5) });
        var recorder = new InsightRecorder(new InsightOptions { Every = 3 });
        trainer.Fit(new DataLoader(Data(48, 9), 16), epochs: 2, callbacks: [recorder]); // 3 steps per epoch
        Assert.Equal([1L, 4], recorder.Log.Steps.Select(s => s.Step));
        Assert.Equal([0.1, 0.05], recorder.Log.Steps.Select(s => s.Lr));
        Assert.Equal([0, 1], recorder.Log.Steps.Select(s => s.Epoch));
    }

    [Fact]
    public void UpdateRatioIsTheActualStepOverTheWeights()
    {
        // Plain SGD without momentum: w_after - w_before = -lr * grad exactly.
        var model = new Sequential(new Linear(3, 2, generator: new Generator(1)));
        var recorder = new InsightRecorder(new InsightOptions { Every = 1 });
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1));
        var x = Tensor.Rand([4, 3], new Generator(2));
        recorder.RecordNextStep(model);
        var before = model.Parameters().Select(p => p.ToDoubleArray()).ToList();
        optimizer.ZeroGrad();
        var loss = model.Call(x).Square().Mean();
        loss.Backward();
        optimizer.Step();
        var record = recorder.CompleteStep(model, 1, loss.ToDouble());
        for (int k = 0; k < 2; k++)
        {
            var g = record.Gradients[k];
            var grad = model.Parameters().ElementAt(k).Grad!.ToDoubleArray();
            double gradNorm = Math.Sqrt(grad.Sum(v => v * v));
            double wNorm = Math.Sqrt(before[k].Sum(v => v * v));
            Assert.Equal(gradNorm, g.GradNorm, 5);
            Assert.Equal(0.1 * gradNorm, g.UpdateNorm, 5);
            Assert.Equal(0.1 * gradNorm / wNorm, g.UpdateRatio, 5);
        }
    }

    [Fact]
    public void ActivationStatisticsMatchTheirDefinitions()
    {
        var model = new Sequential(new Linear(4, 50, generator: new Generator(3)), new Relu(), new Linear(50, 30, generator: new Generator(4)), new Sigmoid());
        var recorder = new InsightRecorder(new InsightOptions { Every = 1, HistogramBins = 5, RecordGradients = false });
        var x = Tensor.Normal([64, 4], 0, 4, new Generator(5));
        recorder.RecordNextStep(model);
        Tensor? relu = null, sigmoid = null;
        using (model[1].RegisterForwardHook((_, _, o) => relu = (Tensor)o!))
        using (model[3].RegisterForwardHook((_, _, o) => sigmoid = (Tensor)o!))
            model.Call(x);
        var record = recorder.CompleteStep(model, 1, 0);

        var r = relu!.ToDoubleArray();
        var stats = record.Activations.Single(a => a.Layer == "1");
        Assert.Equal(r.Average(), stats.Mean, 5);
        Assert.Equal(Math.Sqrt(r.Select(v => (v - r.Average()) * (v - r.Average())).Average()), stats.Std, 4);
        Assert.Equal(r.Count(v => v == 0) / (double)r.Length, stats.ZeroFraction, 12);
        Assert.True(stats.ZeroFraction is > 0.2 and < 0.8);
        Assert.Null(stats.Saturation);
        Assert.Equal(r.Length, stats.Counts.Sum());
        Assert.Equal(r.Min(), stats.Min, 6);
        Assert.Equal(r.Max(), stats.Max, 6);

        var s = sigmoid!.ToDoubleArray();
        var sat = record.Activations.Single(a => a.Layer == "3");
        Assert.Equal(s.Count(v => v <= 0.02 || v >= 0.98) / (double)s.Length, sat.Saturation!.Value, 12);
        Assert.Equal((0.0, 1.0), (sat.HistogramMin, sat.HistogramMax));
        Assert.Equal(s.Count(v => v < 0.2), sat.Counts[0]);
    }

    [Fact]
    public void VanishingAndExplodingGradientsRaiseWarningsOnce()
    {
        var warnings = new List<InsightWarning>();
        var dead = new Sequential(new Linear(4, 4, generator: new Generator(1)), new Relu(), new Linear(4, 2, generator: new Generator(2)));
        using (Autograd.NoGrad()) ((Linear)dead[0]).Bias!.Fill(-100); // every first-layer ReLU is dead: zero gradient upstream
        var recorder = new InsightRecorder(new InsightOptions { Every = 1, OnWarning = warnings.Add });
        var trainer = new Trainer(dead, (o, t) => Functional.CrossEntropy(o, t), new Sgd(dead.Parameters(), new SgdOptions(Lr: 0.01)));
        var g = new Generator(3);
        trainer.Fit(new DataLoader(new TensorDataset(Tensor.Rand([32, 4], g), Tensor.Randint(0, 2, [32], g)), 8), epochs: 1, callbacks: [recorder]);
        // Dead ReLUs stop the gradient of layer 0, and feed zeros to layer 2, whose weight gradient is zero too.
        Assert.Equal(["0.weight", "0.bias", "2.weight"], warnings.Select(w => w.Parameter));
        Assert.All(warnings, w => Assert.Equal("vanishing", w.Kind));
        Assert.All(warnings, w => Assert.Equal(1, w.Step));
        Assert.Equal(warnings, recorder.Log.Warnings);

        warnings.Clear();
        var huge = new Sequential(new Linear(4, 2, generator: new Generator(1)));
        using (Autograd.NoGrad()) ((Linear)huge[0]).Weight.MulInPlace(1e6);
        var r2 = new InsightRecorder(new InsightOptions { Every = 1, OnWarning = warnings.Add });
        var t2 = new Trainer(huge, (o, t) => Functional.CrossEntropy(o, t), new Sgd(huge.Parameters(), new SgdOptions(Lr: 0)));
        t2.Fit(new DataLoader(new TensorDataset(Tensor.Rand([32, 4], g) * 1e5, Tensor.Randint(0, 2, [32], g)), 8), epochs: 1, callbacks: [r2]);
        Assert.Contains(warnings, w => w.Parameter == "0.weight" && w.Kind == "exploding" && w.Norm > 1e3);
        Assert.Single(warnings, w => w.Parameter == "0.weight");
        Assert.Contains("exploding gradient in 0.weight", warnings[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLogRoundTripsThroughJson()
    {
        var (_, _, recorder) = Train(record: true, every: 4);
        using var dir = new TempDir();
        var path = dir.File(InsightLog.FileName);
        recorder!.Log.Save(path);
        var loaded = InsightLog.Load(path);
        Assert.Equal(recorder.Log.Steps.Count, loaded.Steps.Count);
        Assert.Equal(recorder.Log.BatchLosses, loaded.BatchLosses);
        Assert.Equal(recorder.Log.Steps[1].Activations[0].Counts, loaded.Steps[1].Activations[0].Counts);
        Assert.Equal(recorder.Log.Steps[1].Gradients[2], loaded.Steps[1].Gradients[2]);
        Assert.Equal(recorder.Log.Layers.Select(l => l.Name), loaded.Layers.Select(l => l.Name));
        File.WriteAllText(path, "{\"format\":\"other\"}");
        Assert.Throws<InvalidDataException>(() => InsightLog.Load(path));
    }
}
