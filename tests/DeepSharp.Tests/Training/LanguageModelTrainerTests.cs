using System.Text.Json;
using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using DeepSharp.Tests.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

public sealed class LanguageModelTrainerTests
{
    /// <summary>tests/fixtures/charlstm_golden.json, written by scripts/gen_seq_fixtures.py.</summary>
    private sealed class Golden
    {
        private static readonly Lazy<Golden> s_instance = new(() => new Golden());
        public static Golden Instance => s_instance.Value;

        private Golden()
        {
            Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "charlstm_golden.json"))).RootElement;
            Train = Root.GetProperty("train_tokens").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Validation = Root.GetProperty("val_tokens").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Vocabulary = Root.GetProperty("vocabulary").GetString()!;
        }

        public JsonElement Root { get; }
        public long[] Train { get; }
        public long[] Validation { get; }
        public string Vocabulary { get; }

        public JsonElement Case(string cell) => Root.GetProperty("cases").GetProperty(cell);

        public double[] Numbers(string cell, string name) => Case(cell).GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();

        public (CharRnn Model, Trainer Trainer) Setup(string cell)
        {
            var config = new CharRnnConfig(Vocabulary.Length, RecurrentCellTypeNames.Parse(cell, "fixture"), Root.GetProperty("embedding_dim").GetInt32(),
                Root.GetProperty("hidden_size").GetInt32(), Root.GetProperty("num_layers").GetInt32());
            var model = new CharRnn(config);
            model.LoadStateDict(SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", Case(cell).GetProperty("init").GetString()!)).Tensors);
            var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: Root.GetProperty("optimizer").GetProperty("lr").GetDouble()));
            var trainer = new Trainer(model, optimizer, new TrainerOptions
            {
                LanguageModel = new() { BatchSize = Root.GetProperty("batch_size").GetInt32(), SequenceLength = Root.GetProperty("sequence_length").GetInt32() },
                ClipGradNorm = Root.GetProperty("clip_grad_norm").GetDouble(),
            });
            return (model, trainer);
        }
    }

    private static void AssertClose(double expected, double actual, double rtol, string what) =>
        Assert.True(Math.Abs(actual - expected) <= rtol * Math.Abs(expected), $"{what}: {actual:R} vs PyTorch {expected:R}");

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void GoldenCharRnnReproducesPyTorchLossesOver20ClippedAdamSteps(string cell)
    {
        var golden = Golden.Instance;
        var expected = golden.Numbers(cell, "losses");
        var norms = golden.Numbers(cell, "grad_norms");
        var (model, trainer) = golden.Setup(cell);
        var batches = new StreamBatches(golden.Train, trainer.Options.LanguageModel.BatchSize, trainer.Options.LanguageModel.SequenceLength);
        Assert.Equal(expected.Length, batches.Count);
        for (int k = 0; k < batches.Count; k++)
        {
            var (x, y) = batches[k];
            double loss = trainer.TrainStep(x, y);
            AssertClose(expected[k], loss, 1e-4, $"{cell} step {k}");
        }
        Assert.Contains(norms, n => n > trainer.Options.ClipGradNorm); // clipping took part
        AssertClose(golden.Case(cell).GetProperty("val_loss").GetDouble(), trainer.Evaluate(golden.Validation).Loss, 1e-4, $"{cell} validation");
        Assert.True(model.Training);
    }

    [Fact]
    public void FitRunsTheSameStepsAsAnEpochOfTrainStepsAndLogsPerplexity()
    {
        var golden = Golden.Instance;
        var expected = golden.Numbers("lstm", "losses");
        var (_, trainer) = golden.Setup("lstm");
        var history = trainer.Fit(golden.Train, golden.Validation, epochs: 1);
        var logs = Assert.Single(history.Epochs);
        AssertClose(expected.Average(), logs["loss"], 1e-4, "mean epoch loss");
        double val = golden.Case("lstm").GetProperty("val_loss").GetDouble();
        AssertClose(val, logs["val_loss"], 1e-4, "val_loss");
        AssertClose(Math.Exp(val), logs["perplexity"], 1e-3, "perplexity");
        Assert.True(logs["tokens_per_second"] > 0);
        Assert.Equal(logs["tokens_per_second"], logs["samples_per_second"]);
        Assert.Equal(20, trainer.Step);
        Assert.Equal(1, trainer.Epoch);
    }

    [Fact]
    public void CarriedStateIsDetachedSoNoGradientReachesThePreviousBatch()
    {
        var model = new CharRnn(new CharRnnConfig(7, RecurrentCellType.Lstm, 4, 6, NumLayers: 2), generator: new Generator(3));
        var trainer = new Trainer(model, new Sgd(model.Parameters(), new SgdOptions(Lr: 0)), new TrainerOptions { ClipGradNorm = null });
        var g = new Generator(4);
        var (x1, y1) = (Tensor.Randint(0, 7, [2, 5], g), Tensor.Randint(0, 7, [2, 5], g));
        var (x2, y2) = (Tensor.Randint(0, 7, [2, 5], g), Tensor.Randint(0, 7, [2, 5], g));
        trainer.TrainStep(x1, y1);
        var carried = trainer.State!;
        Assert.True(carried.H.IsLeaf && !carried.H.RequiresGrad && carried.C!.IsLeaf && !carried.C.RequiresGrad);
        Assert.NotEqual(0, carried.H.Abs().Sum().ToDouble()); // the state carries values

        // Batch 2's gradients equal those of a fresh graph started from the carried values as constants.
        var h0 = carried.H.Clone();
        var c0 = carried.C.Clone();
        trainer.TrainStep(x2, y2); // lr 0: weights unchanged, .Grad holds batch 2's gradients
        var trainerGrads = model.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
        model.ZeroGrad();
        var (logits, _) = model.Forward(x2, new RecurrentState(h0, c0));
        Functional.CrossEntropy(logits.Reshape(-1, 7), y2.Reshape(-1)).Backward();
        var expected = model.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], trainerGrads[i]);

        // And they differ from backpropagating through both batches (what detaching prevents).
        model.ZeroGrad();
        var (l1, s1) = model.Forward(x1, null);
        var (l2, _) = model.Forward(x2, s1);
        Functional.CrossEntropy(l2.Reshape(-1, 7), y2.Reshape(-1)).Backward();
        var through = model.Parameters().Select(p => p.Grad!.ToArray<float>()).ToArray();
        Assert.NotEqual(expected[1], through[1]); // rnn.weight_ih_l0 sees batch 1's inputs only without the detach
        Assert.NotNull(l1);
    }

    [Fact]
    public void StateResetsAtEveryEpochStart()
    {
        var model = new CharRnn(new CharRnnConfig(5, RecurrentCellType.Gru, 3, 4), generator: new Generator(1));
        var trainer = new Trainer(model, new Adam(model.Parameters()), new TrainerOptions { LanguageModel = new() { BatchSize = 2, SequenceLength = 3 }, ClipGradNorm = 5 });
        var tokens = Enumerable.Range(0, 25).Select(i => (long)(i % 5)).ToArray();
        var seen = new List<bool>();
        model.Rnn.RegisterForwardPreHook((_, _) => seen.Add(trainer.State is null));
        trainer.Fit(tokens, null, epochs: 2);
        // 4 batches per epoch: zero state on the first batch of each epoch only.
        Assert.Equal([true, false, false, false, true, false, false, false], seen);
    }

    [Fact]
    public void CheckpointRoundTripRestoresModelOptimizerVocabularyAndProgress()
    {
        var golden = Golden.Instance;
        var (model, trainer) = golden.Setup("lstm");
        model.Vocabulary = Vocabulary.FromCharacters(golden.Vocabulary);
        trainer.Fit(golden.Train, null, epochs: 1);
        using var dir = new TempDir();
        var path = dir.File("ckpt.safetensors");
        trainer.SaveCheckpoint(path);

        // The checkpoint alone rebuilds the model, with its vocabulary, for sampling.
        var loaded = CharRnn.Load(path);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal(golden.Vocabulary, string.Concat(loaded.Vocabulary!.Tokens));
        foreach (var (name, p) in model.StateDict()) Assert.Equal(p.ToArray<float>(), loaded.StateDict()[name].ToArray<float>());
        Assert.Equal(model.Sample("First", 40, 0.8, seed: 5), loaded.Sample("First", 40, 0.8, seed: 5));

        // Resuming continues exactly like uninterrupted training.
        var (_, resumed) = golden.Setup("lstm");
        resumed.LoadCheckpoint(path);
        Assert.Equal(1, resumed.Epoch);
        Assert.Equal(20, resumed.Step);
        var a = trainer.Fit(golden.Train, golden.Validation, epochs: 2).Epochs.Single();
        var b = resumed.Fit(golden.Train, golden.Validation, epochs: 2).Epochs.Single();
        Assert.Equal(a["loss"], b["loss"]);
        Assert.Equal(a["val_loss"], b["val_loss"]);
    }

    [Fact]
    public void AnEpochInterruptedMidwayResumesFromItsCheckpointAtTheNextBatchFromAZeroState()
    {
        var golden = Golden.Instance;
        var (_, first) = golden.Setup("lstm");
        using var stop = new CancellationTokenSource();
        Assert.True(first.Fit(golden.Train, golden.Validation, 1, [new CancelAtStep(7, stop)], stop.Token).Interrupted);
        Assert.Equal(7, first.InterruptedAt!.Batch);
        using var dir = new TempDir();
        var path = dir.File("ckpt.safetensors");
        first.SaveCheckpoint(path);
        // The position is written as the language-model trainer always wrote it: epoch:0:0:batch.
        Assert.Equal("0:0:0:7", JsonDocument.Parse(SafeTensors.Load(path).Metadata["deepsharp"]).RootElement.GetProperty("Loader").GetString());

        var (_, resumed) = golden.Setup("lstm");
        resumed.LoadCheckpoint(path);
        Assert.Equal(7, resumed.ResumePosition!.Batch);
        var logs = resumed.Fit(golden.Train, golden.Validation, 1).Epochs.Single();
        Assert.Equal(20, resumed.Step);

        // The same as stepping by hand: 7 batches, then batches 7..19 from a zero state.
        var (_, manual) = golden.Setup("lstm");
        var batches = new StreamBatches(golden.Train, manual.Options.LanguageModel.BatchSize, manual.Options.LanguageModel.SequenceLength);
        for (int k = 0; k < 7; k++) manual.TrainStep(batches[k].Input, batches[k].Target);
        manual.ResetState();
        double sum = 0;
        for (int k = 7; k < batches.Count; k++) sum += manual.TrainStep(batches[k].Input, batches[k].Target);
        Assert.Equal(sum / 13, logs["loss"], 12);
        Assert.Equal(manual.Evaluate(golden.Validation).Loss, logs["val_loss"]);
    }

    [Fact]
    public void CheckpointDirectoryGetsLastAndBest()
    {
        var golden = Golden.Instance;
        using var dir = new TempDir();
        var model = new CharRnn(new CharRnnConfig(golden.Vocabulary.Length, RecurrentCellType.Gru, 4, 8), generator: new Generator(2));
        var trainer = new Trainer(model, new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2)),
            new TrainerOptions { LanguageModel = new() { BatchSize = 4, SequenceLength = 8 }, ClipGradNorm = 5 });
        var history = trainer.Fit(golden.Train, golden.Validation, epochs: 2, [new ModelCheckpoint(dir.Path)]);
        Assert.True(history.Epochs[1]["val_loss"] < history.Epochs[0]["val_loss"]);
        Assert.True(File.Exists(dir.File("last.safetensors")));
        Assert.True(File.Exists(dir.File("best.safetensors")));
        Assert.Equal(2, int.Parse(JsonDocument.Parse(SafeTensors.Load(dir.File("last.safetensors")).Metadata["deepsharp"]).RootElement.GetProperty("Epoch").ToString(),
            System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void EvaluateHandlesTextsShorterThanOneBatch()
    {
        var model = new CharRnn(new CharRnnConfig(4, RecurrentCellType.Lstm, 3, 5), generator: new Generator(1));
        var trainer = new Trainer(model, new Adam(model.Parameters()));
        double loss = trainer.Evaluate([0, 1, 2, 3, 0]).Loss;
        Assert.InRange(loss, 0.5, 3); // about ln 4 for an untrained model
        Assert.Throws<ArgumentException>(() => trainer.Evaluate([1]));
    }
}

/// <summary>Cancels <paramref name="source"/> after optimizer step <paramref name="step"/>.</summary>
internal sealed class CancelAtStep(long step, CancellationTokenSource source) : ICallback
{
    public void OnBatchEnd(Trainer trainer, long s, double loss)
    {
        if (s == step) source.Cancel();
    }
}
