using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.Optim;
using DeepSharp.Training;

namespace DeepSharp.Tests.Models;

public sealed class GptTrainingTests
{
    private const string Text = "the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs away.\n";

    private static (Gpt Model, long[] Tokens) Setup(double dropout = 0) => Setup(new Generator(7), dropout);

    /// <summary>A small character GPT whose initialisation and dropout draw from <paramref name="generator"/>.</summary>
    private static (Gpt Model, long[] Tokens) Setup(Generator generator, double dropout)
    {
        var vocabulary = Vocabulary.FromCharacters(Text);
        var model = new Gpt(new GptConfig(vocabulary.Count, Layers: 2, Heads: 2, Width: 16, Context: 16, Dropout: dropout), generator: generator)
            { Tokenizer = new CharTokenizer(vocabulary) };
        var tokens = vocabulary.Encode(string.Concat(Enumerable.Repeat(Text, 6)));
        return (model, tokens);
    }

    [Fact]
    public void TrainerFitsAGptOnRandomWindowsAndTheLossFalls()
    {
        var (model, tokens) = Setup();
        var optimizer = new AdamW(AdamW.WeightDecayGroups(model.Parameters(), new AdamWOptions(Lr: 3e-3, Beta2: 0.95, WeightDecay: 0.1)));
        var trainer = new Trainer(model, optimizer, new TrainerOptions
        {
            LanguageModel = new() { BatchSize = 8, SequenceLength = 16, StepsPerEpoch = 40, WindowGenerator = new Generator(3) },
            GradientAccumulationSteps = 2, ClipGradNorm = 1.0,
            Scheduler = new WarmupCosineLR(optimizer, 10, 120, 3e-4), SchedulerPerBatch = true,
        });
        double before = trainer.Evaluate(tokens).Loss;
        var history = trainer.Fit(tokens, tokens, epochs: 3);
        Assert.Equal(3, history.Epochs.Count);
        Assert.Equal(120, trainer.Step);
        double after = history.Epochs[^1]["val_loss"];
        Assert.True(after < 0.5 * before, $"validation loss {before:F3} -> {after:F3}");
        Assert.Equal(3e-4, optimizer.ParamGroups[0].Lr, 1e-12); // the schedule ended at the minimum
        Assert.Equal(3e-4, optimizer.ParamGroups[1].Lr, 1e-12);
        Assert.Equal(0.1, ((AdamWOptions)optimizer.ParamGroups[0].Options).WeightDecay);
        Assert.Equal(0.0, ((AdamWOptions)optimizer.ParamGroups[1].Options).WeightDecay);
    }

    [Fact]
    public void AnInsightRecorderSeesEveryBlockOnItsStepsAsWithFit()
    {
        var (model, tokens) = Setup();
        var recorded = new List<DeepSharp.Insight.StepRecord>();
        var insight = new DeepSharp.Insight.InsightRecorder(new DeepSharp.Insight.InsightOptions { Every = 4, OnStep = recorded.Add });
        var trainer = new Trainer(model, new AdamW(model.Parameters()), new TrainerOptions
            { LanguageModel = new() { BatchSize = 4, SequenceLength = 16, StepsPerEpoch = 10, WindowGenerator = new Generator(3) }, ClipGradNorm = 5 });
        trainer.Fit(tokens, null, epochs: 1, [insight]);
        Assert.Equal(new long[] { 1, 5, 9 }, recorded.Select(r => r.Step));
        var first = recorded[0];
        Assert.Contains(first.Activations, a => a.Layer.StartsWith("transformer.h.1.", StringComparison.Ordinal)); // the last block's layers too
        Assert.Contains(first.Gradients, g => g.Parameter == "transformer.h.0.attn.c_attn.weight" && g.GradNorm > 0 && double.IsFinite(g.UpdateNorm));
        Assert.False(insight.Armed); // no hooks left behind
    }

    [Fact]
    public void AccumulatedMicroBatchesGiveTheGradientOfTheirUnion()
    {
        var (model, tokens) = Setup();
        var windows = new LanguageModelDataset(tokens, 16);
        var (x, y) = windows.GetBatch([0, 1, 2, 3]);
        // One step of SGD with lr 0 leaves the gradients in place for comparison.
        var trainer = new Trainer(model, new Sgd(model.Parameters(), new SgdOptions(Lr: 0)), new TrainerOptions { LanguageModel = new() { SequenceLength = 16 }, ClipGradNorm = null });
        double whole = trainer.TrainStep(x, y);
        var expected = model.Parameters().Select(p => p.Grad!.ToArray<float>()).ToList();
        double halves = trainer.TrainStep([(x.Narrow(0, 0, 2), y.Narrow(0, 0, 2)), (x.Narrow(0, 2, 2), y.Narrow(0, 2, 2))]);
        Assert.Equal(whole, halves, 1e-5);
        foreach (var (p, e) in model.Parameters().Zip(expected))
        {
            var a = p.Grad!.ToArray<float>();
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - e[i]) <= 1e-6 + 1e-4 * Math.Abs(e[i]), $"{a[i]} vs {e[i]}");
        }
    }

    [Fact]
    public void CheckpointRestoresTheGptAndItsWindowStream()
    {
        var dropoutGenerator = new Generator(7);
        var (model, tokens) = Setup(dropoutGenerator, dropout: 0.1);
        var dir = Path.Combine(Path.GetTempPath(), $"gpt-ckpt-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            // The checkpoint saves the window and dropout generators, so the resumed run draws the same windows and masks.
            Trainer Trainer(Gpt m, Generator g) => new(m, new AdamW(AdamW.WeightDecayGroups(m.Parameters(), new AdamWOptions(Lr: 1e-3))),
                new TrainerOptions { LanguageModel = new() { BatchSize = 4, SequenceLength = 8, StepsPerEpoch = 5, WindowGenerator = new Generator(5) }, ClipGradNorm = 5, Generators = [g] });
            var first = Trainer(model, dropoutGenerator);
            first.Fit(tokens, null, 1);
            string path = Path.Combine(dir, "ckpt.safetensors");
            first.SaveCheckpoint(path);
            var continued = first.Fit(tokens, tokens, 2).Epochs[^1]["val_loss"];

            var freshGenerator = new Generator(99);
            var (fresh, _) = Setup(freshGenerator, dropout: 0.1);
            var second = Trainer(fresh, freshGenerator);
            second.LoadCheckpoint(path);
            Assert.Equal(1, second.Epoch);
            var resumed = second.Fit(tokens, tokens, 2).Epochs[^1]["val_loss"];
            Assert.Equal(continued, resumed, 1e-9);
            var loaded = Gpt.Load(path);
            Assert.Equal(model.Config, loaded.Config);
            Assert.Same(loaded.Transformer.Wte.Weight, loaded.LmHead.Weight);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AnInterruptedRunWithAccumulationSavesItsPositionInStepsAndResumesToTheSameWeights()
    {
        static Trainer Make(Gpt m) => new(m, new AdamW(m.Parameters(), new AdamWOptions(Lr: 1e-3)), new TrainerOptions
        {
            LanguageModel = new() { BatchSize = 2, SequenceLength = 8, StepsPerEpoch = 6, WindowGenerator = new Generator(5) },
            GradientAccumulationSteps = 2,
        });
        var (whole, tokens) = Setup();
        Make(whole).Fit(tokens, null, 1);

        var (model, _) = Setup();
        var first = Make(model);
        using var stop = new CancellationTokenSource();
        Assert.True(first.Fit(tokens, null, 1, [new Training.CancelAtStep(4, stop)], stop.Token).Interrupted);
        Assert.Equal(4, first.InterruptedAt!.Batch); // optimizer steps, as checkpoints have always counted a GPT's position
        var path = Path.Combine(Path.GetTempPath(), $"gpt-accum-{Guid.NewGuid():N}.safetensors");
        try
        {
            first.SaveCheckpoint(path);
            var (fresh, _) = Setup();
            var resumed = Make(fresh);
            resumed.LoadCheckpoint(path);
            resumed.Fit(tokens, null, 1);
            Assert.Equal(6, resumed.Step);
            foreach (var (name, p) in whole.StateDict()) Assert.Equal(p.ToArray<float>(), fresh.StateDict()[name].ToArray<float>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void WindowsLongerThanTheContextAreRefused()
    {
        var (model, _) = Setup();
        var e = Assert.Throws<ArgumentException>(() => new Trainer(model, new AdamW(model.Parameters()), new TrainerOptions { LanguageModel = new() { SequenceLength = 17 } }));
        Assert.Contains("context of 16", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new Trainer(model, new AdamW(model.Parameters()), new TrainerOptions { LanguageModel = new() { SequenceLength = 8 }, GradientAccumulationSteps = 0 }));
    }

    [Fact]
    public void RandomWindowsAreShiftedByOneAndReproducible()
    {
        long[] tokens = [.. Enumerable.Range(0, 50).Select(i => (long)i)];
        var a = new RandomWindows(tokens, 3, 7, new Generator(1)).Next();
        var b = new RandomWindows(tokens, 3, 7, new Generator(1)).Next();
        Assert.Equal(a.Input.ToArray<long>(), b.Input.ToArray<long>());
        var x = a.Input.ToArray<long>();
        var y = a.Target.ToArray<long>();
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i] + 1, y[i]);
        for (int r = 0; r < 3; r++)
            for (int t = 1; t < 7; t++) Assert.Equal(x[r * 7] + t, x[r * 7 + t]); // consecutive tokens
        Assert.All(y, v => Assert.InRange(v, 1, 49));
        Assert.Throws<ArgumentException>(() => new RandomWindows(tokens, 1, 50, new Generator()));
    }

    [Fact]
    public void WarmupCosineFollowsNanoGpt()
    {
        var p = Tensor.Zeros([2]);
        var optimizer = new AdamW([new ParamGroup([p], new AdamWOptions(Lr: 1e-3)), new ParamGroup([Tensor.Zeros([1])], new AdamWOptions(Lr: 2e-3))]);
        var scheduler = new WarmupCosineLR(optimizer, warmupSteps: 4, decaySteps: 14, minLr: 1e-4);
        var seen = new List<double>();
        for (int t = 0; t < 18; t++)
        {
            seen.Add(optimizer.ParamGroups[0].Lr);
            Assert.Equal(2 * optimizer.ParamGroups[0].Lr, optimizer.ParamGroups[1].Lr, 1e-15); // min lr scales with the group
            scheduler.Step();
        }
        Assert.Equal(1e-3 * 1 / 5, seen[0], 1e-15);
        Assert.Equal(1e-3 * 4 / 5, seen[3], 1e-15);
        Assert.Equal(1e-3, seen[4], 1e-15);                                  // the peak
        Assert.Equal(1e-4 + 0.5 * 9e-4, seen[9], 1e-15);                      // half way through the decay
        Assert.Equal(1e-4, seen[14], 1e-15);
        Assert.Equal(1e-4, seen[17], 1e-15);
        for (int t = 5; t < 14; t++) Assert.True(seen[t] < seen[t - 1]);
        var restored = new WarmupCosineLR(new AdamW([new ParamGroup([p], new AdamWOptions(Lr: 1e-3)), new ParamGroup([Tensor.Zeros([1])], new AdamWOptions(Lr: 2e-3))]), 1, 2);
        restored.LoadStateDict(scheduler.StateDict());
        Assert.Equal(14, restored.DecaySteps);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineLR(optimizer, 5, 4));
    }
}
