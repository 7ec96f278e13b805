using DeepSharp.Data;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Training;

namespace DeepSharp.Tests.Tensors;

// Alone: the pool is process-wide, so other tests renting from it would perturb PooledBytes, and the stress mode's
// full collections would slow everything running beside it.
[CollectionDefinition(nameof(BufferPoolTests), DisableParallelization = true)]
public sealed class BufferPoolCollection;

[Collection(nameof(BufferPoolTests))]
public sealed class BufferPoolTests
{
    [Fact]
    public void LargeBuffersAreReusedFromThePool()
    {
        MemoryPool.Trim(); // earlier tests may have filled the pool to its cap, and a full pool lets returned arrays go
        long before = BufferPool<float>.PooledBytes;
        for (int i = 0; i < 50; i++) _ = Tensor.Zeros(256, 256) + 1;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(BufferPool<float>.PooledBytes > before);
        var rented = Tensor.Zeros(256, 256);
        Assert.Equal(0.0, rented.Sum().ToDouble()); // zeroed even when reused
    }

    [Fact]
    public void NearbyLengthsShareASizeClass()
    {
        // Quarter powers of two, multiples of 16, at most 19 % above the request.
        foreach (int n in new[] { 4096, 5000, 16384, 16385, 100_000, 1_234_567 })
        {
            int c = BufferPool<float>.ClassLength(n);
            Assert.True(c >= n && c <= n * 1.19 + 16 && c % 16 == 0, $"{n} -> {c}");
            Assert.Equal(c, BufferPool<float>.ClassLength(c));
        }
        Assert.Equal(BufferPool<float>.ClassLength(60_000), BufferPool<float>.ClassLength(57_000));
        MemoryPool.Trim(); // earlier tests may have filled the pool to its cap, and a full pool lets returned arrays go
        var a = BufferPool<float>.Rent(60_000);
        BufferPool<float>.Return(a);
        Assert.Same(a, BufferPool<float>.Rent(57_000)); // a batch of 57 reuses the buffer of a batch of 60
        BufferPool<float>.Return(a);
    }

    [Fact]
    public void IdleBytesStayUnderTheCapAndTrimReleasesThem()
    {
        long saved = MemoryPool.CapBytes;
        try
        {
            MemoryPool.Trim();
            MemoryPool.CapBytes = 4L << 20; // 4 MiB over every element type
            var arrays = Enumerable.Range(0, 40).Select(_ => BufferPool<float>.Rent(64 * 1024)).ToList(); // 256 KiB each
            foreach (var a in arrays) BufferPool<float>.Return(a);
            Assert.InRange(BufferPool<float>.PooledBytes, 1, 4L << 20);
            MemoryPool.Trim();
            Assert.Equal(0, BufferPool<float>.PooledBytes);
        }
        finally
        {
            MemoryPool.CapBytes = saved;
        }
    }

    [Fact]
    public void StatisticsCountHitsAndMisses()
    {
        MemoryPool.Trim();
        long hits = MemoryPool.Hits, misses = MemoryPool.Misses;
        var a = BufferPool<double>.Rent(300_000);
        BufferPool<double>.Return(a);
        _ = BufferPool<double>.Rent(300_000);
        // Other test collections rent concurrently: the counters can only have grown by more.
        Assert.True(MemoryPool.Misses >= misses + 1 && MemoryPool.Hits >= hits + 1);
    }

    [Fact]
    public void TheSuiteRunsWithPoisonedBuffers()
    {
        Assert.True(PoolDiagnostics.Poison, "TestSetup's module initializer turns buffer poisoning on for the whole run");
        Assert.All(Tensor.Empty([4], DType.Float32).ToArray<float>(), v => Assert.True(float.IsNaN(v)));     // small: not pooled
        Assert.All(Tensor.Empty([64, 64], DType.Float64).ToArray<double>(), v => Assert.True(double.IsNaN(v))); // pooled
        Assert.All(Tensor.Empty([3], DType.Int64).ToArray<long>(), v => Assert.Equal(0x5A5A_5A5A_5A5A_5A5AL, v));
        Assert.Equal(0.0, Tensor.Zeros(64, 64).Sum().ToDouble()); // zeroed allocations stay zero
    }

    [Fact]
    public void ReturnedBuffersArePoisoned()
    {
        var array = BufferPool<float>.Rent(8192);
        array.AsSpan().Fill(1);
        BufferPool<float>.Return(array);
        Assert.True(float.IsNaN(array[0]) && float.IsNaN(array[^1]));
    }

    [Fact]
    public void StressModeReturnsDeadStoragesBeforeEveryRent()
    {
        static WeakReference Dead() => new(Tensor.Ones(64, 64).Storage);
        using (PoolStress.CollectOnEveryRent())
        {
            var weak = Dead();
            _ = Tensor.Zeros(64, 64);
            Assert.False(weak.IsAlive);
        }
        Assert.False(PoolStress.Active);
    }

    // Regression (issue 11): `eval --model seq-gru` gave a different accuracy about 1 run in 8. The GRU reads its
    // batch-first input through a contiguous copy [T, B, I]; the copy was a temporary whose last reference died
    // when its span was taken, so a collection triggered by the layer's own buffer rents finalized it and returned
    // its array to the pool before the input projection had read it, and the data loader's prefetch thread, which
    // rents arrays of exactly that size for the next batch, could overwrite it first. Under stress mode the copy is
    // returned (and poisoned) deterministically, so the old code gave NaN on every run.
    [Fact]
    public void SeqGruForwardReadsNoRecycledBuffer()
    {
        var model = SequenceClassifier.Create(new ModelOptions(Generator: new Generator(11)));
        model.Eval();
        var images = Tensor.Rand([32, 1, 28, 28], new Generator(12)); // the [28, 32, 28] copy (100 KB) is pooled
        using var _ = DeepSharp.Autograd.NoGrad();
        float[]? first = null;
        for (int run = 0; run < 4; run++)
        {
            float[] logits;
            using (PoolStress.CollectOnEveryRent()) logits = model.Call(images).ToArray<float>();
            AssertFinite("seq-gru logits", logits);
            if (first is null) first = logits;
            else Assert.Equal(first, logits);
        }
    }

    [Fact]
    public void SeqGruTrainingStepReadsNoRecycledBuffer()
    {
        var images = Tensor.Rand([32, 1, 28, 28], new Generator(13));
        var labels = Tensor.From(Enumerable.Range(0, 32).Select(i => (long)(i % 10)).ToArray());
        float[]? first = null;
        for (int run = 0; run < 2; run++)
        {
            var model = SequenceClassifier.Create(new ModelOptions(Generator: new Generator(14)));
            float[] grad;
            using (PoolStress.CollectOnEveryRent())
            {
                Functional.CrossEntropy(model.Call(images), labels).Backward();
                grad = model.Rnn.LayerWeights(0).WeightIh.Grad!.ToArray<float>();
            }
            AssertFinite("seq-gru weight_ih gradient", grad);
            if (first is null) first = grad;
            else Assert.Equal(first, grad);
        }
    }

    // The CLI's eval path: batches come from the loader's prefetch thread while the model runs.
    [Fact]
    public void SeqGruEvaluationIsIdenticalAcrossRuns()
    {
        var g = new Generator(15);
        var data = new TensorDataset(Tensor.Rand([300, 1, 28, 28], g), Tensor.From(Enumerable.Range(0, 300).Select(i => (long)(i % 10)).ToArray()));
        var model = SequenceClassifier.Create(new ModelOptions(Generator: new Generator(16)));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), new DeepSharp.Optim.Sgd(model.Parameters(), new DeepSharp.Optim.SgdOptions(Lr: 0.01)));
        EvaluationResult? first = null;
        for (int run = 0; run < 3; run++)
        {
            EvaluationResult result;
            using (PoolStress.CollectOnEveryRent()) result = trainer.Evaluate(new DataLoader(data, 100), keepPredictions: true);
            Assert.True(double.IsFinite(result.Loss), $"run {run}: loss {result.Loss}");
            if (first is null) first = result;
            else
            {
                Assert.Equal(first.Loss, result.Loss);
                Assert.Equal(first.Predictions!.ToArray<long>(), result.Predictions!.ToArray<long>());
            }
        }
    }

    // The same class of bug anywhere else: ops that read temporaries (contiguous copies of views, broadcast
    // materialisations) through spans, forward and backward, on pooled-size inputs. Each case runs once
    // normally and once with every dead storage returned and poisoned before each rent; results must match.
    public static TheoryData<string> Cases => new(StressCases.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void OpsReadNoRecycledBufferUnderStress(string name)
    {
        var (value, grads) = Run(StressCases[name]);
        AssertFinite(name, value);
        (float[], float[][]) stressed;
        using (PoolStress.CollectOnEveryRent()) stressed = Run(StressCases[name]);
        Assert.Equal(value, stressed.Item1);
        for (int i = 0; i < grads.Length; i++) Assert.Equal(grads[i], stressed.Item2[i]);
    }

    private static (float[] Value, float[][] Grads) Run(Func<Tensor[], Tensor> f)
    {
        var g = new Generator(21);
        // Pooled sizes (>= 16 KB), all read through non-contiguous views.
        var a = Tensor.Randn([96, 64], g).SetRequiresGrad();
        var nhwc = Tensor.Randn([8, 12, 12, 6], g).SetRequiresGrad();
        var inputs = new[] { a, nhwc };
        var y = f([a.T(), nhwc.Permute(0, 3, 1, 2)]);
        y.Sum().Backward();
        return (y.Detach().Contiguous().ToArray<float>(), inputs.Select(t => t.Grad?.ToArray<float>() ?? []).ToArray());
    }

    private static readonly Dictionary<string, Func<Tensor[], Tensor>> StressCases = new()
    {
        ["binary broadcast"] = t => (t[0] * Tensor.Arange(96).Float().Reshape(1, 96).Div(96)).Exp().Sub(t[0].Sigmoid()),
        ["unary and scalar"] = t => t[0].Tanh().Mul(3).Relu() + t[0].Abs().Sqrt(),
        ["reductions"] = t => t[0].Sum(0) + t[0].Mean(0) + t[0].Max(0).Values + t[0].Std(0),
        ["softmax"] = t => t[0].Softmax(0) + t[0].LogSoftmax(1).T().Sum(0).Unsqueeze(1),
        ["matmul"] = t => t[0].MatMul(t[0].T()),
        ["where and compare"] = t => Tensor.Where(t[0].Gt(0.1), t[0], t[0] * t[0]) + t[0].Eq(t[0]).To(DType.Float32),
        ["conv2d"] = t => Tensor.Conv2d(t[1], Tensor.Randn([4, 6, 3, 3], new Generator(3)), Tensor.Randn([4], new Generator(4)), 1, 1),
        ["pooling"] = t => Tensor.MaxPool2d(t[1], 2) + Tensor.AvgPool2d(t[1], 2) + Tensor.AdaptiveAvgPool2d(t[1], (6, 6)),
        ["batch norm"] = t => Tensor.BatchNorm(t[1], null, null, null, null, training: true),
        ["layer norm"] = t => Tensor.LayerNorm(t[0], [96]),
        ["cross entropy"] = t => Functional.CrossEntropy(t[1], Tensor.From(Enumerable.Range(0, 8 * 144).Select(i => (long)(i % 6)).ToArray(), 8, 12, 12)),
        ["index select"] = t => t[0].IndexSelect(0, Tensor.From(Enumerable.Range(0, 40).Select(i => (long)(i % 50)).ToArray())),
        ["dtype round trip"] = t => t[0].To(DType.Float64).Exp().To(DType.Float32),
    };

    private static void AssertFinite(string what, float[] values)
    {
        int bad = values.Count(v => !float.IsFinite(v));
        Assert.True(bad == 0, $"{what}: {bad} of {values.Length} values are not finite (a kernel read a recycled or uninitialised buffer)");
    }
}
