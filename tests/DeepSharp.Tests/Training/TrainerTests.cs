using System.Text.Json;
using DeepSharp.Data;
using DeepSharp.Kernels;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

[Collection("WorkerPool")]
public sealed class TrainerTests
{
    private static readonly Lazy<TensorDataset> s_train = new(() => FashionMnist.Train());

    private static IDataset Small(int count) => new Subset(s_train.Value, Enumerable.Range(0, count).ToArray());

    [Fact]
    public void GoldenMlpReproducesPyTorchLossesOver50SgdMomentumSteps()
    {
        var fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "golden_mlp.json"))).RootElement;
        var expected = fixture.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var model = ModelZoo.Create("mlp");
        model.LoadStateDict(SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "golden_mlp_init.safetensors")).Tensors);
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.05, Momentum: 0.9));
        var data = s_train.Value;
        for (int step = 0; step < expected.Length; step++)
        {
            var idx = Enumerable.Range(step * 64, 64).ToArray();
            var (x, y) = data.GetBatch(idx);
            optimizer.ZeroGrad();
            var loss = Functional.CrossEntropy(model.Call(x), y);
            loss.Backward();
            optimizer.Step();
            Assert.True(Math.Abs(loss.ToDouble() - expected[step]) <= 2e-4 * Math.Abs(expected[step]),
                $"step {step}: loss {loss.ToDouble():R} vs PyTorch {expected[step]:R}");
        }
    }

    private static (Trainer Trainer, Module<Tensor, Tensor> Model, DataLoader Loader) Setup(int seed, IDataset data)
    {
        var dropoutGenerator = new Generator((ulong)seed + 50);
        var model = new Sequential(new Flatten(), new Linear(784, 32, generator: new Generator(1)), new Relu(), new Dropout(0.2, dropoutGenerator),
            new Linear(32, 10, generator: new Generator(2)));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 2e-3));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer,
            new TrainerOptions { Scheduler = new CosineAnnealingLR(optimizer, 4), Generators = [dropoutGenerator] });
        var loader = new DataLoader(data, 64, shuffle: true, generator: new Generator((ulong)seed + 100));
        return (trainer, model, loader);
    }

    private static float[] Weights(Module model) => model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();

    [Fact]
    public void ResumedTrainingMatchesUninterruptedTrainingExactly()
    {
        var data = Small(1024);
        var (straight, straightModel, straightLoader) = Setup(5, data);
        straight.Fit(straightLoader, epochs: 2);

        var dir = Directory.CreateTempSubdirectory("deepsharp-resume");
        try
        {
            var path = Path.Combine(dir.FullName, "ckpt.safetensors");
            var (first, _, firstLoader) = Setup(5, data);
            first.Fit(firstLoader, epochs: 1);
            first.SaveCheckpoint(path);

            // A fresh process-like start: different global RNG state, new objects, then resume.
            var (resumed, resumedModel, resumedLoader) = Setup(999, data);
            resumed.LoadCheckpoint(path);
            Assert.Equal(1, resumed.Epoch);
            resumed.Fit(resumedLoader, epochs: 2);
            Assert.Equal(Weights(straightModel), Weights(resumedModel));
            Assert.Equal(straight.Step, resumed.Step);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void SameSeedGivesSameLossesWhateverTheThreadCount()
    {
        var data = Small(512);
        int saved = WorkerPool.Threads;
        try
        {
            var runs = new List<double[]>();
            foreach (int threads in new[] { 1, 2, 1 })
            {
                WorkerPool.Threads = threads;
                var (trainer, model, loader) = Setup(3, data);
                var losses = new List<double>();
                trainer.Fit(loader, epochs: 1, callbacks: [new LossRecorder(losses)]);
                runs.Add([.. losses, .. Weights(model).Take(50).Select(w => (double)w)]);
            }
            Assert.Equal(runs[0], runs[1]);
            Assert.Equal(runs[0], runs[2]);
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    private sealed class LossRecorder(List<double> losses) : ICallback
    {
        public void OnBatchEnd(Trainer trainer, long step, double loss) => losses.Add(loss);
    }

    [Fact]
    public void FitReportsHistoryCallbacksAndStopsEarly()
    {
        var data = Small(256);
        var (trainer, _, loader) = Setup(1, data);
        var dir = Directory.CreateTempSubdirectory("deepsharp-fit");
        try
        {
            var stop = new EarlyStopping("loss", patience: 1, minDelta: 100); // never "improves" by 100: stops after 2 epochs
            var checkpoint = new ModelCheckpoint(Path.Combine(dir.FullName, "ckpt"), monitor: "loss");
            var csv = Path.Combine(dir.FullName, "log.csv");
            var json = Path.Combine(dir.FullName, "log.json");
            var history = trainer.Fit(loader, new DataLoader(data, 128), epochs: 5, callbacks: [stop, checkpoint, new MetricsLogger(csv, json)]);
            Assert.True(history.StoppedEarly);
            Assert.Equal(2, history.Epochs.Count);
            Assert.All(history.Epochs, e => Assert.True(e.ContainsKey("val_loss") && e.ContainsKey("accuracy") && e.ContainsKey("samples_per_second")));
            Assert.True(File.Exists(checkpoint.LastPath) && File.Exists(checkpoint.BestPath));
            Assert.Equal(3, File.ReadAllLines(csv).Length);
            Assert.Equal(2, JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetArrayLength());
            var eval = trainer.Evaluate(new DataLoader(data, 100), keepPredictions: true);
            Assert.Equal(256, eval.Samples);
            Assert.Equal(256, eval.Predictions!.Numel);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void PreparedInferenceEvaluatesAsTheEagerModel()
    {
        var data = Small(250); // batches of 100, 100, 50: the last one reuses the plan of the first
        var model = ModelZoo.Create("cnn", new ModelOptions(Generator: new Generator(4), WidthMultiplier: 0.25));
        Trainer Make(bool prepared) => new(model, (o, t) => Functional.CrossEntropy(o, t), new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1)),
            new TrainerOptions { PreparedInference = prepared });
        Make(false).Fit(new DataLoader(data, 50), epochs: 1); // running statistics away from their initial 0 and 1
        var eager = Make(false).Evaluate(new DataLoader(data, 100), keepPredictions: true);
        var prepared = Make(true).Evaluate(new DataLoader(data, 100), keepPredictions: true);
        Assert.Equal(eager.Loss, prepared.Loss, 4);
        Assert.Equal(eager.Accuracy, prepared.Accuracy);
        Assert.Equal(eager.Predictions!.ToArray<long>(), prepared.Predictions!.ToArray<long>());
        Assert.True(model.Training); // Evaluate restores the mode
        var x = Tensor.Stack([data.Get(0).Input, data.Get(1).Input, data.Get(2).Input]);
        var p = Make(true).Predict(x).ToArray<float>();
        var e = Make(false).Predict(x).ToArray<float>();
        for (int i = 0; i < e.Length; i++) Assert.Equal(e[i], p[i], 3);
    }

    [Fact]
    public void PreparedInferenceAfterMoreTrainingSeesTheNewWeights()
    {
        // The second evaluation re-plans with the first one's tuning (InferenceModel.PrepareAgain): it must read the
        // weights as they are after the epoch in between, not the first plan's snapshot.
        var data = Small(200);
        var model = ModelZoo.Create("cnn", new ModelOptions(Generator: new Generator(5), WidthMultiplier: 0.5));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1)),
            new TrainerOptions { PreparedInference = true });
        var eagerTrainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1)));
        for (int round = 0; round < 2; round++)
        {
            trainer.Fit(new DataLoader(data, 50), epochs: round + 1);
            var prepared = trainer.Evaluate(new DataLoader(data, 100), keepPredictions: true);
            var eager = eagerTrainer.Evaluate(new DataLoader(data, 100), keepPredictions: true);
            Assert.Equal(eager.Loss, prepared.Loss, 4);
            Assert.Equal(eager.Predictions!.ToArray<long>(), prepared.Predictions!.ToArray<long>());
        }
    }

    [Fact]
    public void LoadingSomethingThatIsNotACheckpointFailsClearly()
    {
        var dir = Directory.CreateTempSubdirectory("deepsharp-bad");
        try
        {
            var path = Path.Combine(dir.FullName, "weights.safetensors");
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(2) });
            var (trainer, _, _) = Setup(1, Small(64));
            var ex = Assert.Throws<InvalidDataException>(() => trainer.LoadCheckpoint(path));
            Assert.Contains("not a DeepSharp checkpoint", ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
