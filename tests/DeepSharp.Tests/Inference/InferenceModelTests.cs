using DeepSharp.Kernels;
using DeepSharp.Inference;
using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Tests.Inference;

/// <summary>
/// The prepared inference path against the eager model it was prepared from: every zoo model at several batch sizes
/// (batch norm with non-trivial running statistics, so folding is exercised), concurrent callers, fallbacks and errors.
/// </summary>
public sealed class InferenceModelTests
{
    // Models that must plan completely (no eager step); the others must still give the eager model's outputs.
    private static readonly HashSet<string> FullyPlanned =
        ["mlp", "logreg", "softmax", "lenet5", "cnn", "alexnet", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet20"];

    public static TheoryData<string> ZooNames() => [.. ModelZoo.Names.Keys];

    [Theory]
    [MemberData(nameof(ZooNames))]
    public void MatchesTheEagerModelOnEveryZooModel(string name)
    {
        var (model, sample) = Create(name);
        var prepared = InferenceModel.Prepare(model, [8, .. sample]);
        if (FullyPlanned.Contains(name)) Assert.Empty(prepared.EagerModules);
        foreach (int batch in new[] { 1, 3, 8 })
        {
            var x = Tensor.Randn([batch, .. sample], new Generator((ulong)batch));
            AssertClose(Eager(model, x), prepared.Run(x), $"{name} at batch {batch}");
        }
        Assert.Equal([0, .. prepared.OutputShape.Skip(1)], prepared.Run(Tensor.Zeros([0, .. sample])).Shape.ToArray());
    }

    [Fact]
    public void FoldsBatchNormAndFusesReluAndResidualsInResNet20()
    {
        // The channel-blocked plan (Prepare may time Winograd's faster, on 128-bit vectors even at batch 2).
        var (model, sample) = Create("resnet20");
        var steps = InferenceModel.Build(model, [2, .. sample], winograd: false).Plan.Steps;
        Assert.DoesNotContain(steps, s => s.StartsWith("batch_norm", StringComparison.Ordinal) || s.StartsWith("relu", StringComparison.Ordinal));
        Assert.All(steps.Where(s => s.StartsWith("conv2d", StringComparison.Ordinal)), s => Assert.Contains("+bn", s, StringComparison.Ordinal));
        Assert.Equal(21, steps.Count(s => s.StartsWith("conv2d", StringComparison.Ordinal))); // 19 3x3 + 2 projections
        // The nine residual adds (and their ReLU) become the epilogue of a convolution on the flat kernel (every vector
        // width); on the scalar path they stay add steps.
        int fused = steps.Count(s => s.StartsWith("conv2d", StringComparison.Ordinal) && s.Contains("+add +relu", StringComparison.Ordinal));
        int adds = steps.Count(s => s.StartsWith("add +relu", StringComparison.Ordinal));
        Assert.Equal(9, fused + adds);
        if (DeepSharp.Kernels.SimdWidth.Current >= 128) Assert.Equal(9, fused);
    }

    [Fact]
    public void KeepsResNet20LaidOutBetweenItsConvolutions()
    {
        var (model, sample) = Create("resnet20");
        var steps = InferenceModel.Build(model, [2, .. sample], winograd: false).Plan.Steps; // the channel-blocked plan
        if (SimdWidth.Current < 128)
        {
            Assert.DoesNotContain(steps, s => s.Contains("flat", StringComparison.Ordinal) || s.Contains("blocked", StringComparison.Ordinal)); // no such kernels without vectors
            return;
        }
        // Every convolution writes the blocked layout its readers take, residuals included: the first (one input
        // channel: the direct kernel) lays out each image as it finishes it; the last is converted back once for the
        // pooling layer.
        Assert.Equal(0, steps.Count(s => s.StartsWith("to_flat", StringComparison.Ordinal) || s.StartsWith("to_blocked", StringComparison.Ordinal)));
        Assert.Equal(1, steps.Count(s => s.StartsWith("from_blocked", StringComparison.Ordinal)));
        var convs = steps.Where(s => s.StartsWith("conv2d", StringComparison.Ordinal)).ToList();
        Assert.Equal(21, convs.Count(s => s.EndsWith(" blocked", StringComparison.Ordinal)));
    }

    [Fact]
    public void LeNetPoolsItsFirstConvolutionInTheDirectKernel()
    {
        var (model, sample) = Create("lenet5");
        var steps = InferenceModel.Prepare(model, [2, .. sample]).Steps;
        if (SimdWidth.Current < 128) return; // no direct kernel without vectors
        var convs = steps.Where(s => s.StartsWith("conv2d", StringComparison.Ordinal)).ToList();
        Assert.Contains("+max_pool2d 2x2 stride 2", convs[0], StringComparison.Ordinal);
        Assert.Equal(1, steps.Count(s => s.StartsWith("max_pool2d", StringComparison.Ordinal))); // the second layer's stays a step
    }

    [Theory]
    [InlineData("cnn")]
    [InlineData("resnet20")]
    public void WinogradPlanMatchesTheEagerModel(string name)
    {
        // The plan Prepare compares with the channel-blocked one: Winograd's kernels at the prepared batch, the general
        // kernels for batches too small for them (1), and a batch in between.
        var (model, sample) = Create(name);
        var (prepared, candidates) = InferenceModel.Build(model, [16, .. sample], winograd: true);
        int steps = prepared.Steps.Count(s => s.Contains(" winograd", StringComparison.Ordinal));
        Assert.Equal(candidates, steps);
        if (SimdWidth.Current >= 128) Assert.True(steps >= 3, $"{name}: {steps} convolutions given to Winograd's kernels");
        foreach (int batch in new[] { 16, 5, 1 })
        {
            var x = Tensor.Randn([batch, .. sample], new Generator((ulong)(60 + batch)));
            prepared.SplitFromBatch = int.MaxValue;
            AssertClose(Eager(model, x), prepared.Run(x), $"{name} Winograd plan at batch {batch}");
            prepared.SplitFromBatch = 1;
            AssertClose(Eager(model, x), prepared.Run(x), $"{name} Winograd plan at batch {batch} in shares");
        }
    }

    [Fact]
    public void PreparingAgainKeepsTheChoicesAndTakesTheNewWeights()
    {
        var (model, sample) = Create("cnn");
        var first = InferenceModel.Prepare(model, [16, .. sample]);
        using (DeepSharp.Autograd.NoGrad())
            foreach (var p in model.Parameters()) p.MulInPlace(1.5);
        var again = InferenceModel.PrepareAgain(first, model);
        Assert.Equal(first.Steps, again.Steps);
        Assert.Equal(first.PooledFromBatch, again.PooledFromBatch);
        Assert.Equal(first.SplitFromBatch, again.SplitFromBatch);
        var x = Tensor.Randn([16, .. sample], new Generator(70));
        AssertClose(Eager(model, x), again.Run(x), "cnn prepared again after its weights changed");
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertClose(Eager(model, x), first.Run(x), "the first plan keeps its snapshot"));
    }

    [Fact]
    public void BatchNorm1dFoldsIntoLinear()
    {
        var (model, sample) = Create("cnn");
        var steps = InferenceModel.Prepare(model, [1, .. sample]).Steps;
        Assert.Contains(steps, s => s.StartsWith("linear", StringComparison.Ordinal) && s.Contains("+bn +relu", StringComparison.Ordinal));
        Assert.DoesNotContain(steps, s => s.StartsWith("batch_norm", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("lenet5")]
    [InlineData("resnet20")]
    public void BatchesSplitIntoSharesPerThreadMatchTheWholeBatch(string name)
    {
        var (model, sample) = Create(name);
        var prepared = InferenceModel.Prepare(model, [5, .. sample]);
        foreach (int batch in new[] { 1, 2, 5 })
        {
            var x = Tensor.Randn([batch, .. sample], new Generator((ulong)(40 + batch)));
            prepared.SplitFromBatch = int.MaxValue;
            var whole = prepared.Run(x);
            prepared.SplitFromBatch = 1; // shares of 3 and 2 at batch 5 on two threads
            var split = prepared.Run(x);
            AssertClose(whole, split, $"{name} at batch {batch} in shares");
            AssertClose(Eager(model, x), split, $"{name} at batch {batch} in shares, against eager");
        }
    }

    [Fact]
    public void PlansWithEagerStepsKeepTheBatchWhole()
    {
        var model = new Sequential(new Linear(4, 3), new Tanh());
        model.Eval();
        var prepared = InferenceModel.Prepare(model, 8, 4);
        Assert.NotEmpty(prepared.EagerModules);
        Assert.Equal(int.MaxValue, prepared.SplitFromBatch);
    }

    [Fact]
    public void ConcurrentCallersGetTheSameResultsAsOneCaller()
    {
        var (model, sample) = Create("resnet20");
        var prepared = InferenceModel.Prepare(model, [4, .. sample]);
        var inputs = Enumerable.Range(0, 6).Select(i => Tensor.Randn([1 + i % 4, .. sample], new Generator((ulong)(100 + i)))).ToArray();
        var expected = inputs.Select(x => prepared.Run(x).ToArray<float>()).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int round = 0; round < 10; round++)
            {
                int i = (t + round) % inputs.Length;
                if (!prepared.Run(inputs[i]).ToArray<float>().SequenceEqual(expected[i])) failures.Add($"thread {t} round {round} input {i}");
            }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        Assert.Empty(failures);
    }

    [Fact]
    public void RepeatedCallsAllocateOnlyTheirOutput()
    {
        var (model, sample) = Create("resnet20");
        var prepared = InferenceModel.Prepare(model, [1, .. sample]);
        var x = Tensor.Randn([1, .. sample], new Generator(1));
        for (int i = 0; i < 3; i++) prepared.Run(x);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) prepared.Run(x);
        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
        // The activations (~230 KB at batch 1) come from the arena; a call allocates its output and small objects.
        Assert.True(perCall < 8 * 1024, $"{perCall} bytes allocated per call");
        // At most three [16, 32, 32] values live at once, kept in the flat layout (borders and slack included) where the vectors allow.
        long value = SimdWidth.Current >= 128 ? new FlatShape(16, 32, 32, 1, 1).Floats(1) : 16 * 32 * 32;
        Assert.True(prepared.ActivationBytes < 3 * value * sizeof(float) + 4096, $"{prepared.ActivationBytes} bytes of activations");
    }

    [Theory]
    [InlineData(100, 6400, 80, 3300, 64, 64, 1)]            // the pool pays at batch 1
    [InlineData(100, 6400, 150, 6300, 64, 64, int.MaxValue)] // never 5 % faster
    [InlineData(10, 640, 40, 340, 64, 64, 8)]               // 10b alone, 35.2 + 4.76b pooled: 0.95 * 10b is below from b = 7.4
    [InlineData(10, 80, 64.76, 98.1, 8, 64, 13)]            // 10b alone, 60 + 4.76b pooled, measured at 8: extrapolated to 12.7
    [InlineData(10, 80, 64.76, 98.1, 8, 10, int.MaxValue)]  // ... beyond the largest batch
    [InlineData(10, 10, 40, 40, 1, 1, int.MaxValue)]        // one batch size only
    public void ThePoolIsUsedFromTheMeasuredCrossover(double single1, double singleAt, double pooled1, double pooledAt, int batch, int maxBatch, int expected) =>
        Assert.Equal(expected, ThreadingTuner.FirstPooledBatch(single1, singleAt, pooled1, pooledAt, batch, maxBatch));

    [Theory]
    [InlineData(1000, 100, 600, 2)]   // shares faster from the smallest batch
    [InlineData(1000, 5000, 900, 50)] // shares faster from 50 samples, beyond the batch compared at: extrapolated
    public void LargeBatchesAreComparedAtFewerSamples(double wholePerSample, double splitFixed, double splitPerSample, int expected)
    {
        int saved = WorkerPool.Threads, largest = 0;
        try
        {
            WorkerPool.Threads = 2;
            int from = ThreadingTuner.SplitFrom((batch, split) =>
            {
                largest = Math.Max(largest, batch);
                return split ? splitFixed + splitPerSample * batch : wholePerSample * batch;
            }, maxBatch: 1000);
            Assert.Equal(expected, from);
            // One run at 1 ms per sample may take 25 ms: the plan is timed at 25 samples, not at the 1,000 it is prepared for.
            Assert.Equal(25, largest);
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    [Fact]
    public void EveryStepHasAThreadingChoice()
    {
        var (model, sample) = Create("resnet20");
        var prepared = InferenceModel.Prepare(model, [4, .. sample]);
        Assert.Equal(prepared.Steps.Count, prepared.PooledFromBatch.Count);
        Assert.All(prepared.PooledFromBatch, b => Assert.True(b >= 1));
    }

    [Fact]
    public void UnknownModulesRunEagerlyInsideThePlan()
    {
        var g = new Generator(3);
        var model = new Sequential(new Linear(6, 5, generator: g), new Tanh(), new Scale(), new Linear(5, 4, generator: g), new Relu());
        model.Eval();
        var prepared = InferenceModel.Prepare(model, 3, 6);
        Assert.Equal(["1", "2"], prepared.EagerModules);
        Assert.Contains(prepared.Steps, s => s.StartsWith("linear 5->4 +relu", StringComparison.Ordinal));
        var x = Tensor.Randn([3, 6], g);
        AssertClose(Eager(model, x), prepared.Run(x), "mixed plan");
    }

    [Fact]
    public void ModulesWithHooksRunEagerlySoTheHooksFire()
    {
        var model = new Sequential(new Linear(4, 3), new Relu());
        model.Eval();
        int calls = 0;
        ((Linear)model[0]).RegisterForwardHook((_, _, _) => calls++);
        var prepared = InferenceModel.Prepare(model, 2, 4); // calls it too: for its output shape, and timing the steps
        int before = calls;
        prepared.Run(Tensor.Randn([2, 4], new Generator(1)));
        Assert.Equal(["0"], prepared.EagerModules);
        Assert.Equal(before + 1, calls);
    }

    [Fact]
    public void ResidualReadOfTheValueBeforeNormIsNotFolded()
    {
        var model = new PreNormReader();
        model.Eval();
        RandomizeNorms(model, new Generator(4));
        var prepared = InferenceModel.Prepare(model, 2, 3, 6, 6);
        Assert.Contains(prepared.Steps, s => s.StartsWith("batch_norm", StringComparison.Ordinal));
        var x = Tensor.Randn([2, 3, 6, 6], new Generator(5));
        AssertClose(Eager(model, x), prepared.Run(x), "conv output read by the norm and the sum");
    }

    [Fact]
    public void Float64ModelRunsEagerlyAsAWhole()
    {
        var model = new Mlp(8, [6], 3, dtype: DType.Float64);
        model.Eval();
        var prepared = InferenceModel.Prepare(model, 4, 8);
        Assert.Equal(["Mlp"], prepared.EagerModules);
        var x = Tensor.Randn([4, 8], new Generator(1)).To(DType.Float64);
        Assert.Equal(Eager(model, x).ToArray<double>(), prepared.Run(x).ToArray<double>());
        Assert.Equal([4, 3], prepared.OutputShape);
    }

    [Fact]
    public void OutputsRecordNoGradients()
    {
        var (model, sample) = Create("lenet5");
        var y = InferenceModel.Prepare(model, [1, .. sample]).Run(Tensor.Randn([1, .. sample], new Generator(1)));
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void BadUseFailsWithClearErrors()
    {
        var (model, sample) = Create("lenet5");
        var prepared = InferenceModel.Prepare(model, [4, .. sample]);
        var tooLarge = Assert.Throws<ArgumentException>(() => prepared.Run(Tensor.Zeros([5, .. sample])));
        Assert.Contains("batch 5 is larger than the 4", tooLarge.Message, StringComparison.Ordinal);
        var wrongShape = Assert.Throws<ArgumentException>(() => prepared.Run(Tensor.Zeros(2, 1, 32, 32)));
        Assert.Contains("expected float32 input [N, 1, 28, 28]", wrongShape.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => prepared.Run(Tensor.Zeros([2, .. sample], DType.Float64)));
        model.Train();
        var training = Assert.Throws<InvalidOperationException>(() => InferenceModel.Prepare(model, [1, .. sample]));
        Assert.Contains("call model.Eval() first", training.Message, StringComparison.Ordinal);
        model.Eval();
        // A shape the model itself rejects fails at preparation with the model's error.
        Assert.ThrowsAny<ArgumentException>(() => InferenceModel.Prepare(model, 1, 3, 28, 28));
    }

    internal static (Module<Tensor, Tensor> Model, int[] Sample) Create(string name)
    {
        var g = new Generator(7);
        bool large = name is "alexnet" or "vgg11" or "vgg11_bn" or "vgg16" or "vgg16_bn" or "googlenet" or "resnet18" or "resnet34";
        var options = name == "resnet20" ? ModelOptions.Cifar10 with { Generator = g }
            : new ModelOptions(Generator: g, WidthMultiplier: large ? 0.125 : 1);
        var model = ModelZoo.Create(name, options);
        model.Eval();
        RandomizeNorms(model, g);
        int[] sample = name is "mlp" or "logreg" or "softmax" ? [784] : [options.InputChannels, options.ImageSize, options.ImageSize];
        return (model, sample);
    }

    /// <summary>Running statistics and affine parameters away from 0/1, as after training.</summary>
    private static void RandomizeNorms(Module model, Generator g)
    {
        using var _ = DeepSharp.Autograd.NoGrad();
        foreach (var bn in model.Modules().OfType<BatchNormBase>())
        {
            int c = bn.NumFeatures;
            bn.RunningMean!.CopyFrom(Tensor.Randn([c], g) * 0.2);
            bn.RunningVar!.CopyFrom(Tensor.Rand([c], g) + 0.5);
            bn.Weight?.CopyFrom(Tensor.Rand([c], g) + 0.5);
            bn.Bias?.CopyFrom(Tensor.Randn([c], g) * 0.2);
        }
    }

    private static Tensor Eager(Module<Tensor, Tensor> model, Tensor x)
    {
        using var _ = DeepSharp.Autograd.NoGrad();
        return model.Call(x);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        double scale = e.Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-4 * (1 + scale), $"{what}: element {i}: got {a[i]:R}, expected {e[i]:R}");
    }

    /// <summary>A module the planner does not know.</summary>
    private sealed class Scale : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input * 2;
    }

    /// <summary>y = bn(conv(x)) + conv(x): the conv output has two readers, so the norm must not be folded into it.</summary>
    private sealed class PreNormReader : Module<Tensor, Tensor>, IInferencePlannable
    {
        private readonly Conv2d _conv;
        private readonly BatchNorm2d _bn;

        public PreNormReader()
        {
            _conv = RegisterModule("conv", new Conv2d(3, 4, 3, padding: 1, generator: new Generator(2)));
            _bn = RegisterModule("bn", new BatchNorm2d(4));
        }

        public override Tensor Forward(Tensor input)
        {
            var c = _conv.Call(input);
            return _bn.Call(c) + c;
        }

        PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input)
        {
            var c = plan.Call(_conv, input);
            return plan.Add(plan.Call(_bn, c), c);
        }
    }
}
