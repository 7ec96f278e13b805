using DeepSharp.Data;
using DeepSharp.Inference;
using DeepSharp.Insight;
using DeepSharp.Kernels;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Docs;

// Inside the namespace, so that it wins over the test namespace DeepSharp.Tests.Autograd.
using Autograd = DeepSharp.Autograd;

/// <summary>
/// The code of docs/getting-started.md, section by section, run and checked: a snippet that no longer compiles or no
/// longer does what the guide says fails here. Keep the two in step (same names, same numbers).
/// </summary>
[Collection("WorkerPool")]
public sealed class GettingStartedTests
{
    // ---- Install: the first program ----

    [Fact]
    public void FirstProgramPrintsATensor()
    {
        var t = Tensor.Ones(2, 3);
        string printed = t.ToString();
        Assert.Equal("tensor([[1., 1., 1.],\n        [1., 1., 1.]], shape=[2, 3])", printed);
    }

    // ---- Tensors and autograd ----

    [Fact]
    public void TensorsAndAutograd()
    {
        var x = Tensor.From([1f, 2f, 3f]).SetRequiresGrad();
        var y = (x * x).Sum();              // y = x1^2 + x2^2 + x3^2
        y.Backward();                        // fills x.Grad with dy/dx = 2x
        Assert.Equal([2f, 4f, 6f], x.Grad!.ToArray<float>());

        var a = Tensor.Randn([64, 784], new Generator(seed: 42));
        var w = Tensor.Randn([10, 784]).Mul(0.01).SetRequiresGrad();
        var logits = a.MatMul(w.T());        // [64, 10]
        Assert.Equal([64, 10], logits.Shape.ToArray());
        Assert.Equal("[64, 10]", logits.Shape.ToString());
        Assert.Equal(10, logits.Shape[1]);
        Assert.Equal([10], logits.Shape[1..].ToArray());
        Assert.Equal(640, logits.Shape.Aggregate(1, (p, d) => p * d));
        Assert.Equal(640, logits.Numel);
        var loss = Functional.CrossEntropy(logits, Tensor.Randint(0, 10, [64]));
        loss.Backward();
        Assert.Equal([10, 784], w.Grad!.Shape.ToArray());

        using (Autograd.NoGrad())
        {
            var before = w.ToArray<float>();
            w.SubInPlace(w.Grad! * 0.1);               // an SGD step by hand, not recorded
            Assert.Equal(before[0] - 0.1f * w.Grad!.ToArray<float>()[0], w.ToArray<float>()[0], 6);
            Assert.False(w.Sub(1).RequiresGrad); // nothing is recorded inside NoGrad
        }

        var b = Tensor.Randn([3, 4], dtype: DType.Float64, requiresGrad: true);
        Assert.True(Autograd.GradCheck(t => t[0].Tanh().Softmax(-1).Sum(), [b]));
    }

    // ---- Writing a Module ----

    /// <summary>The guide's module: two linear layers with a ReLU and dropout between them.</summary>
    private sealed class TwoLayerNet : Module<Tensor, Tensor>
    {
        private readonly Linear _hidden;
        private readonly Dropout _dropout;
        private readonly Linear _output;

        public TwoLayerNet(int inputs, int hidden, int classes, Generator? generator = null)
        {
            _hidden = RegisterModule("hidden", new Linear(inputs, hidden, generator: generator));
            _dropout = RegisterModule("dropout", new Dropout(0.1, generator));
            _output = RegisterModule("output", new Linear(hidden, classes, generator: generator));
        }

        public override Tensor Forward(Tensor input) =>
            _output.Call(_dropout.Call(_hidden.Call(input.Flatten(1)).Relu()));
    }

    [Fact]
    public void WritingAModule()
    {
        var model = new TwoLayerNet(784, 128, 10, new Generator(seed: 1));
        Assert.Equal(784 * 128 + 128 + 128 * 10 + 10, model.ParameterCount); // 101,770
        Assert.Equal(["hidden.weight", "hidden.bias", "output.weight", "output.bias"], model.StateDict().Keys);
        var logits = model.Call(Tensor.Randn(32, 1, 28, 28));
        Assert.Equal([32, 10], logits.Shape.ToArray());
        string summary = model.Summary([1, 1, 28, 28]);
        Assert.Contains("101,770", summary, StringComparison.Ordinal);

        var same = new Sequential(new Flatten(), new Linear(784, 128), new Relu(), new Dropout(0.1), new Linear(128, 10));
        Assert.Equal(model.ParameterCount, same.ParameterCount);
        Assert.Equal(["1.weight", "1.bias", "4.weight", "4.bias"], same.StateDict().Keys);
    }

    // ---- Data ----

    [Fact]
    public void Data()
    {
        var g = new Generator(seed: 7);
        var x = Tensor.Randn([1000, 2], g);
        var y = x.Sum(1).Gt(0).Long();                    // class 1 above the line x0 + x1 = 0
        var all = new TensorDataset(x, y);
        var parts = Datasets.RandomSplit(all, [800, 200], new Generator(seed: 8));
        var train = new DataLoader(parts[0], batchSize: 32, shuffle: true, generator: new Generator(seed: 9));
        var validation = new DataLoader(parts[1], batchSize: 200);

        Assert.Equal(25, train.Count);                   // batches per epoch
        var (inputs, targets) = train.First();
        Assert.Equal([32, 2], inputs.Shape.ToArray());
        Assert.Equal(DType.Int64, targets.DType);
        Assert.Equal(1, validation.Count);

        var fashion = FashionMnist.Train();               // 60,000 images [1, 28, 28] in [0, 1], int64 labels
        var (mean, std) = FashionMnist.Normalization;
        var images = new DataLoader(fashion, 64, shuffle: true, generator: new Generator(seed: 1),
            transform: Transforms.Compose(new RandomHorizontalFlip(), new Normalize(mean, std)));
        Assert.Equal(60_000, fashion.Count);
        var (batch, labels) = images.First();
        Assert.Equal([64, 1, 28, 28], batch.Shape.ToArray());
        Assert.Equal([64], labels.Shape.ToArray());
    }

    /// <summary>The guide's data: two classes of points on either side of a line, split 800/200.</summary>
    private static (DataLoader Train, DataLoader Validation) LineData()
    {
        var x = Tensor.Randn([1000, 2], new Generator(seed: 7));
        var all = new TensorDataset(x, x.Sum(1).Gt(0).Long());
        var parts = Datasets.RandomSplit(all, [800, 200], new Generator(seed: 8));
        return (new DataLoader(parts[0], 32, shuffle: true, generator: new Generator(seed: 9)), new DataLoader(parts[1], 200));
    }

    // ---- Fit and callbacks ----

    /// <summary>The guide's callback: the loss of every step.</summary>
    private sealed class LossHistory : ICallback
    {
        public List<double> Losses { get; } = [];

        public void OnBatchEnd(Trainer trainer, long step, double loss) => Losses.Add(loss);
    }

    [Fact]
    public void FitAndCallbacks()
    {
        var (train, validation) = LineData();
        var model = new Sequential(new Linear(2, 16, generator: new Generator(seed: 3)), new Relu(), new Linear(16, 2, generator: new Generator(seed: 4)));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 0.01));
        var trainer = new Trainer(model, (output, target) => Functional.CrossEntropy(output, target), optimizer,
            new TrainerOptions { Scheduler = new CosineAnnealingLR(optimizer, 20), ClipGradNorm = 1.0 });
        var losses = new LossHistory();
        var history = trainer.Fit(train, validation, epochs: 20,
            callbacks: [new EarlyStopping("val_loss", patience: 3), losses]);

        var last = history.Epochs[^1];
        Assert.True(last["val_accuracy"] > 0.95, $"val_accuracy {last["val_accuracy"]}");
        Assert.Equal(trainer.Step, losses.Losses.Count);
        Assert.Equal(history.Epochs.Count * train.Count, trainer.Step);
        Assert.True(history.Epochs.Count <= 20 && (history.Epochs.Count == 20 || history.StoppedEarly));
        Assert.Contains("lr", last.Keys);

        var result = trainer.Evaluate(validation);
        Assert.Equal(200, result.Samples);
        Assert.Equal(last["val_accuracy"], result.Accuracy!.Value, 12);
        var predicted = trainer.Predict(Tensor.From([2f, 2f, -2f, -2f], 2, 2)).Argmax(1);
        Assert.Equal([1L, 0L], predicted.ToArray<long>());
    }

    // ---- Checkpoints and resume ----

    private static (Trainer Trainer, Module<Tensor, Tensor> Model) NewTrainer()
    {
        var model = new Sequential(new Linear(2, 16, generator: new Generator(seed: 3)), new Relu(), new Linear(16, 2, generator: new Generator(seed: 4)));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 0.01));
        return (new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer,
            new TrainerOptions { Scheduler = new CosineAnnealingLR(optimizer, 4) }), model);
    }

    [Fact]
    public void CheckpointsAndResume()
    {
        using var dir = new Serialization.TempDir();
        string runs = dir.Path;

        // Uninterrupted: four epochs.
        var (straight, straightModel) = NewTrainer();
        var (straightTrain, _) = LineData();
        straight.Fit(straightTrain, epochs: 4);

        // The guide: two epochs with a checkpoint after each, then a new process resumes to four.
        var (trainer, _) = NewTrainer();
        var (train, validation) = LineData();
        var checkpoints = new ModelCheckpoint(Path.Combine(runs, "checkpoint"), monitor: "val_accuracy");
        trainer.Fit(train, validation, epochs: 2, callbacks: [checkpoints]);
        Assert.True(File.Exists(checkpoints.LastPath));
        Assert.True(File.Exists(checkpoints.BestPath));

        var (resumed, resumedModel) = NewTrainer();
        var (resumedTrain, resumedValidation) = LineData();
        resumed.LoadCheckpoint(Path.Combine(runs, "checkpoint", "last.safetensors"));
        Assert.Equal(2, resumed.Epoch);
        resumed.Fit(resumedTrain, resumedValidation, epochs: 4);
        Assert.Equal(straight.Step, resumed.Step);
        // Validation does not touch the model, the optimizer or the loader's generator: the weights are the same.
        Assert.Equal(straightModel.Parameters().SelectMany(p => p.ToArray<float>()), resumedModel.Parameters().SelectMany(p => p.ToArray<float>()));

        // Weights only: a state dict in a .safetensors file (PyTorch's safetensors format).
        string weights = Path.Combine(runs, "model.safetensors");
        SafeTensors.Save(weights, resumedModel.StateDict(), new Dictionary<string, string> { ["model"] = "line" });
        var (fresh, freshModel) = NewTrainer();
        var file = SafeTensors.Load(weights);
        var missing = freshModel.LoadStateDict(file.Tensors);
        Assert.Empty(missing.MissingKeys);
        Assert.Equal("line", file.Metadata["model"]);
        Assert.Equal(resumedModel.Parameters().SelectMany(p => p.ToArray<float>()), freshModel.Parameters().SelectMany(p => p.ToArray<float>()));
        _ = fresh;

        // Cancellation: the step in progress finishes, the checkpoint resumes at the next batch.
        var (stopped, _) = NewTrainer();
        var (stoppedTrain, _) = LineData();
        using var cts = new CancellationTokenSource();
        var history = stopped.Fit(stoppedTrain, epochs: 4, callbacks: [new StopAfter(5, cts)], cancellationToken: cts.Token);
        Assert.True(history.Interrupted);
        Assert.Equal(5, stopped.Step);
        stopped.SaveCheckpoint(Path.Combine(runs, "interrupted.safetensors"));
        var (again, againModel) = NewTrainer();
        var (againTrain, _) = LineData();
        again.LoadCheckpoint(Path.Combine(runs, "interrupted.safetensors"));
        again.Fit(againTrain, epochs: 4);
        Assert.Equal(straight.Step, again.Step);
        Assert.Equal(straightModel.Parameters().SelectMany(p => p.ToArray<float>()), againModel.Parameters().SelectMany(p => p.ToArray<float>()));
    }

    /// <summary>Cancels after a number of steps (what Ctrl-C does in the guide's console program).</summary>
    private sealed class StopAfter(long steps, CancellationTokenSource cts) : ICallback
    {
        public void OnBatchEnd(Trainer trainer, long step, double loss)
        {
            if (step == steps) cts.Cancel();
        }
    }

    // ---- Insight and reports ----

    [Fact]
    public void InsightAndReports()
    {
        using var dir = new Serialization.TempDir();
        var g = new Generator(seed: 5);
        var x = Tensor.Rand([256, 1, 8, 8], g);
        var y = x.Mean([1, 2, 3]).Gt(0.5).Long();          // bright images are class 1
        var train = new DataLoader(new TensorDataset(x.Narrow(0, 0, 192), y.Narrow(0, 0, 192)), 32, shuffle: true, generator: new Generator(seed: 6));
        var test = (Inputs: x.Narrow(0, 192, 64), Targets: y.Narrow(0, 192, 64));

        var model = new Sequential(new Conv2d(1, 4, 3, generator: g), new Relu(), new Flatten(), new Linear(4 * 6 * 6, 2, generator: g));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new Adam(model.Parameters(), new AdamOptions(Lr: 0.01)));
        var warnings = new List<InsightWarning>();
        var recorder = new InsightRecorder(new InsightOptions { Every = 5, OnWarning = warnings.Add });
        var history = trainer.Fit(train, epochs: 3, callbacks: [recorder]);

        var report = ReportBuilder.Build(model, new ReportInputs
        {
            Title = "bright or dark",
            TestInputs = test.Inputs,
            TestTargets = test.Targets,
            ClassNames = ["dark", "bright"],
            History = [.. history.Epochs.Select(e => (IReadOnlyDictionary<string, double>)new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 })],
            Statistics = recorder.Log,
        });
        string path = RunReport.Write(dir.Path, report);

        Assert.Equal(Path.Combine(dir.Path, "report.html"), path);
        Assert.Equal(64, report.ConfusionMatrix!.Sum(row => row.Sum()));
        Assert.Equal(3 * train.Count, recorder.Log.BatchLosses.Count);
        Assert.NotEmpty(recorder.Log.Steps);
        Assert.NotNull(report.Filters);                      // a convolution: its filters are drawn
        string html = File.ReadAllText(path);
        foreach (var id in RunReport.SectionIds) Assert.Contains($"id=\"{id}\"", html, StringComparison.Ordinal);
    }

    // ---- Threads and memory ----

    [Fact]
    public void ThreadsAndMemory()
    {
        int before = Compute.Threads;
        try
        {
            Compute.Threads = 2;
            Assert.Equal(2, WorkerPool.Threads);
            var a = Tensor.Randn(512, 512);
            var c = a.MatMul(a);                             // large enough to use both threads
            Assert.Equal([512, 512], c.Shape.ToArray());
        }
        finally
        {
            Compute.Threads = before;
        }

        var pool = Compute.PoolStatistics;
        for (int i = 0; i < 4; i++) _ = Tensor.Zeros(256, 1024) + 1;   // 1 MiB buffers come from the pool
        var after = Compute.PoolStatistics;
        Assert.True(after.Hits + after.Misses >= pool.Hits + pool.Misses + 4);
        long cap = Compute.PoolCapacityBytes;
        try
        {
            Compute.PoolCapacityBytes = 256L << 20;                      // keep at most 256 MiB idle
            Assert.Equal(268_435_456, Compute.PoolCapacityBytes);
            Compute.TrimPool();
        }
        finally
        {
            Compute.PoolCapacityBytes = cap;
        }

        // Serving: the model planned once for eval mode; same outputs as the eager model within float32 rounding.
        var model = new Sequential(new Conv2d(1, 8, 3, generator: new Generator(seed: 2)), new BatchNorm2d(8), new Relu(),
            new Flatten(), new Linear(8 * 26 * 26, 10, generator: new Generator(seed: 3)));
        model.Eval();
        var plan = InferenceModel.Prepare(model, 16, 1, 28, 28);    // up to 16 images per call
        var images = Tensor.Rand(4, 1, 28, 28);
        var planned = plan.Run(images);
        Tensor eager;
        using (Autograd.NoGrad()) eager = model.Call(images);
        Assert.Equal([4, 10], planned.Shape.ToArray());
        var (p, e) = (planned.ToArray<float>(), eager.ToArray<float>());
        for (int i = 0; i < p.Length; i++) Assert.True(Math.Abs(p[i] - e[i]) <= 1e-4 + 1e-4 * Math.Abs(e[i]), $"{i}: {p[i]} vs {e[i]}");
        Assert.Empty(plan.EagerModules);
    }
}
