using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;

namespace DeepSharp.Tests.Models;

public sealed class GptTests
{
    private static readonly GptConfig Tiny = new(VocabSize: 11, Layers: 2, Heads: 2, Width: 16, Context: 8, Dropout: 0, Bias: true);

    /// <summary>tests/fixtures/gpt_golden.safetensors, written by scripts/gen_gpt_fixtures.py.</summary>
    private static readonly Lazy<IReadOnlyDictionary<string, Tensor>> s_golden =
        new(() => SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt_golden.safetensors")).Tensors);

    private static IReadOnlyDictionary<string, Tensor> Golden => s_golden.Value;

    private static Dictionary<string, Tensor> Prefixed(string prefix) =>
        Golden.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);

    private static Gpt GoldenModel()
    {
        var model = new Gpt(Tiny, generator: new Generator(5));
        model.LoadStateDict(Prefixed("init."));
        return model;
    }

    /// <summary>|actual - expected| &lt;= atol + rtol |expected| elementwise, naming the tensor and the worst element.</summary>
    private static void AssertClose(Tensor expected, Tensor actual, string what, double rtol = 1e-5, double atol = 1e-6)
    {
        Assert.True(expected.Shape == actual.Shape, $"{what}: shape {Shapes.Format(actual.ShapeArray)}, expected {Shapes.Format(expected.ShapeArray)}");
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double excess = Math.Abs(a[i] - e[i]) - (atol + rtol * Math.Abs(e[i]));
            if (at < 0 || excess > worst) (worst, at) = (excess, i);
        }
        Assert.True(at < 0 || worst <= 0, $"{what}: element {at} is {(at < 0 ? 0 : a[at])}, expected {(at < 0 ? 0 : e[at])}");
    }

    [Fact]
    public void StateDictUsesNanoGptNamesWithTheTiedHead()
    {
        var model = new Gpt(Tiny);
        var keys = model.StateDict().Keys.ToList();
        Assert.Equal(Prefixed("init.").Keys.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        Assert.Equal("transformer.wte.weight", keys[0]);
        Assert.Equal("lm_head.weight", keys[^1]);
        Assert.Contains("transformer.h.1.attn.c_attn.weight", keys);
        Assert.Contains("transformer.h.0.mlp.c_proj.bias", keys);
        Assert.Same(model.Transformer.Wte.Weight, model.LmHead.Weight);
        // Parameters() lists the tied tensor once, so an optimizer updates it once.
        Assert.Single(model.Parameters(), p => ReferenceEquals(p, model.LmHead.Weight));
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name == "lm_head.weight");
        Assert.Equal(model.Parameters().Sum(p => (long)p.Numel), model.ParameterCount);
    }

    [Fact]
    public void InitialisationFollowsNanoGpt()
    {
        var config = new GptConfig(VocabSize: 300, Layers: 3, Heads: 4, Width: 64, Context: 32);
        var model = new Gpt(config, generator: new Generator(3));
        static double Std(Tensor t)
        {
            var v = t.ToDoubleArray();
            double mean = v.Average();
            return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
        }
        Assert.InRange(Std(model.Transformer.Wte.Weight), 0.019, 0.021);
        Assert.InRange(Std(model.Transformer.H[0].Mlp.CFc.Weight), 0.019, 0.021);
        double proj = 0.02 / Math.Sqrt(2 * config.Layers);
        Assert.InRange(Std(model.Transformer.H[2].Mlp.CProj.Weight), 0.95 * proj, 1.05 * proj);
        Assert.InRange(Std(model.Transformer.H[1].Attn.CProj.Weight), 0.93 * proj, 1.07 * proj);
        Assert.All(model.Transformer.H[0].Attn.CAttn.Bias!.ToDoubleArray(), b => Assert.Equal(0, b));
        Assert.All(model.Transformer.LnF.Weight.ToDoubleArray(), w => Assert.Equal(1, w));
    }

    [Fact]
    public void LogitsLossAndEveryGradientMatchPyTorch()
    {
        var model = GoldenModel();
        var logits = model.Call(Golden["tokens"]);
        AssertClose(Golden["logits"], logits, "logits");
        var loss = Functional.CrossEntropy(logits.Reshape(-1, Tiny.VocabSize), Golden["targets"].Reshape(-1));
        AssertClose(Golden["loss"], loss, "loss");
        loss.Backward();
        var grads = Prefixed("grad.");
        Assert.Equal(grads.Keys.Order(StringComparer.Ordinal), model.NamedParameters().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var (name, p) in model.NamedParameters())
            AssertClose(grads[name], p.Grad!, "grad of " + name, rtol: 1e-4, atol: 1e-6);
    }

    [Fact]
    public void ThreeAdamWStepsWithDecayGroupsMatchPyTorch()
    {
        var model = GoldenModel();
        var optimizer = new AdamW(AdamW.WeightDecayGroups(model.Parameters(), new AdamWOptions(Lr: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1)));
        Assert.Equal(2, optimizer.ParamGroups.Count);
        Assert.All(optimizer.ParamGroups[0].Params, p => Assert.True(p.Rank >= 2));
        Assert.All(optimizer.ParamGroups[1].Params, p => Assert.Equal(1, p.Rank));
        var expectedLosses = Golden["losses"].ToDoubleArray();
        for (int step = 0; step < 3; step++)
        {
            optimizer.ZeroGrad();
            var loss = Functional.CrossEntropy(model.Call(Golden["tokens"]).Reshape(-1, Tiny.VocabSize), Golden["targets"].Reshape(-1));
            Assert.Equal(expectedLosses[step], loss.ToDouble(), 1e-5 * Math.Abs(expectedLosses[step]));
            loss.Backward();
            GradClipping.ClipGradNorm(model.Parameters(), 1.0);
            optimizer.Step();
        }
        foreach (var (name, value) in model.StateDict())
        {
            var expected = Golden["after." + name];
            if (!name.EndsWith("attn.c_attn.bias", StringComparison.Ordinal))
            {
                AssertClose(expected, value, "after 3 steps: " + name, rtol: 1e-4, atol: 1e-6);
                continue;
            }
            // The key bias adds the same q.b_k to every score of a query, which softmax ignores: its gradient is zero
            // analytically and rounding noise (~1e-9) in both frameworks, whose sign Adam turns into a full lr-sized step.
            // Query and value biases must match; the key bias may only move by the at most 3 lr of such noise steps.
            int c = Tiny.Width;
            AssertClose(expected.Narrow(0, 0, c), value.Narrow(0, 0, c), "after 3 steps: query bias", rtol: 1e-4, atol: 1e-6);
            AssertClose(expected.Narrow(0, 2 * c, c), value.Narrow(0, 2 * c, c), "after 3 steps: value bias", rtol: 1e-4, atol: 1e-6);
            AssertClose(expected.Narrow(0, c, c), value.Narrow(0, c, c), "after 3 steps: key bias", rtol: 0, atol: 6 * 1e-2);
        }
        Assert.Same(model.Transformer.Wte.Weight, model.LmHead.Weight);
    }

    [Fact]
    public void KvCacheGenerationGivesTheTokensOfFullRecomputation()
    {
        var config = new GptConfig(VocabSize: 23, Layers: 2, Heads: 3, Width: 24, Context: 40, Dropout: 0.1);
        var model = new Gpt(config, generator: new Generator(11));
        using (DeepSharp.Autograd.NoGrad())
            foreach (var p in model.Parameters()) p.MulInPlace(8); // far from uniform logits: greedy choices are not near-ties
        long[] prompt = [3, 1, 4, 1, 5, 9, 2];
        var greedy = new SamplingOptions(Temperature: 0);
        var cached = model.Generate(prompt, 30, greedy, new Generator(1)).ToArray();
        var recomputed = model.Generate(prompt, 30, greedy, new Generator(1), useCache: false).ToArray();
        Assert.Equal(30, cached.Length);
        Assert.Equal(recomputed, cached);
        Assert.True(cached.Distinct().Count() > 1, "the greedy continuation should not be one repeated token");
        Assert.True(model.Training); // generation restores the mode

        // The logits themselves: a cache fed one token at a time equals one causal pass.
        using (DeepSharp.Autograd.NoGrad())
        {
            model.Eval();
            var tokens = Tensor.From(prompt, 1, prompt.Length);
            var whole = model.Forward(tokens);
            var cache = model.CreateCache();
            model.Forward(Tensor.From(prompt[..3], 1, 3), cache);
            for (int i = 3; i < prompt.Length; i++)
            {
                var step = model.Forward(Tensor.From(prompt[i..(i + 1)], 1, 1), cache);
                AssertClose(whole.Narrow(1, i, 1), step, $"position {i}", rtol: 1e-4, atol: 1e-5);
            }
            Assert.Equal(prompt.Length, cache.Length);
        }
    }

    [Fact]
    public void GenerationSlidesPastTheContextAndIsReproducible()
    {
        var config = new GptConfig(VocabSize: 13, Layers: 1, Heads: 2, Width: 8, Context: 6);
        var model = new Gpt(config, generator: new Generator(2));
        var options = new SamplingOptions(Temperature: 1.0, TopK: 5, TopP: 0.9);
        var a = model.Generate([1, 2, 3, 4, 5, 6, 7, 8], 25, options, new Generator(9)).ToArray();
        var b = model.Generate([1, 2, 3, 4, 5, 6, 7, 8], 25, options, new Generator(9)).ToArray();
        Assert.Equal(25, a.Length);
        Assert.Equal(a, b);
        Assert.All(a, t => Assert.InRange(t, 0, 12));
        Assert.Throws<ArgumentException>(() => model.Generate([], 3, options, new Generator()).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Generate([13], 3, options, new Generator()).ToArray());
    }

    [Fact]
    public void AttentionMapsAreTheCausalSoftmaxOfEveryHead()
    {
        var model = GoldenModel();
        var tokens = Tensor.From(new long[] { 3, 1, 4, 1, 5, 9, 2 }, 7);
        var maps = model.AttentionMaps(tokens);
        Assert.Equal(Tiny.Layers, maps.Count);
        Assert.True(model.Training); // restored
        // Block 0 by hand: softmax(q k^T / sqrt(D)) with keys after the query masked, from c_attn of ln_1 of the embeddings.
        var block = model.Transformer.H[0];
        using (DeepSharp.Autograd.NoGrad())
        {
            model.Eval();
            var h = block.Ln1.Call(model.Transformer.Embed(tokens.Unsqueeze(0), 0))[0];        // [T, C]
            var qkv = block.Attn.CAttn.Call(h).Split(Tiny.Width, 1);
            int d = Tiny.Width / Tiny.Heads;
            for (int head = 0; head < Tiny.Heads; head++)
            {
                var q = qkv[0].Narrow(1, head * d, d);
                var k = qkv[1].Narrow(1, head * d, d);
                var scores = q.MatMul(k.T()).Mul(1 / Math.Sqrt(d)).ToDoubleArray();
                var map = maps[0][head].ToDoubleArray();
                for (int i = 0; i < 7; i++)
                {
                    double max = Enumerable.Range(0, i + 1).Max(j => scores[i * 7 + j]);
                    double sum = Enumerable.Range(0, i + 1).Sum(j => Math.Exp(scores[i * 7 + j] - max));
                    for (int j = 0; j < 7; j++)
                        Assert.Equal(j <= i ? Math.Exp(scores[i * 7 + j] - max) / sum : 0, map[i * 7 + j], 5);
                }
            }
            model.Train();
        }
        Assert.Throws<ArgumentException>(() => model.AttentionMaps(Tensor.From(new long[] { 1, 2 }, 1, 2)));
        Assert.Throws<ArgumentException>(() => model.AttentionMaps(Tensor.From(new long[Tiny.Context + 1], Tiny.Context + 1)));
    }

    [Fact]
    public void TiedWeightsStayTiedAfterSaveLoadAndAStep()
    {
        var vocabulary = Vocabulary.FromCharacters("hello world\n");
        var model = new Gpt(new GptConfig(vocabulary.Count, Layers: 1, Heads: 2, Width: 8, Context: 8), generator: new Generator(4))
            { Tokenizer = new CharTokenizer(vocabulary) };
        var path = Path.Combine(Path.GetTempPath(), $"gpt-tied-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var loaded = Gpt.Load(path);
            Assert.Same(loaded.Transformer.Wte.Weight, loaded.LmHead.Weight);
            Assert.Equal(model.Transformer.Wte.Weight.ToArray<float>(), loaded.LmHead.Weight.ToArray<float>());
            Assert.Equal("char", loaded.Tokenizer!.Name);
            Assert.Equal(vocabulary.Tokens, ((CharTokenizer)loaded.Tokenizer).Vocabulary.Tokens);
            var optimizer = new AdamW(AdamW.WeightDecayGroups(loaded.Parameters(), new AdamWOptions(Lr: 0.1)));
            var tokens = Tensor.From(vocabulary.Encode("hello wo"), 1, 8);
            var loss = Functional.CrossEntropy(loaded.Call(tokens).Reshape(-1, vocabulary.Count), Tensor.From(vocabulary.Encode("ello wor"), 8));
            loss.Backward();
            optimizer.Step();
            Assert.Same(loaded.Transformer.Wte.Weight, loaded.LmHead.Weight);
            var state = loaded.StateDict();
            Assert.Equal(state["transformer.wte.weight"].ToArray<float>(), state["lm_head.weight"].ToArray<float>());
            Assert.NotEqual(model.Transformer.Wte.Weight.ToArray<float>(), loaded.Transformer.Wte.Weight.ToArray<float>());
            Assert.StartsWith("hello", loaded.Sample("hello", 5, new SamplingOptions(0.8), seed: 3));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(10, 2, 12, 4, "width 12 is not divisible by heads")]
    [InlineData(10, 2, 16, 0, "context must be positive")]
    [InlineData(10, 0, 16, 4, "layers must be positive")]
    [InlineData(0, 2, 16, 4, "vocab size must be positive")]
    public void BadConfigurationIsAClearArgumentException(int vocab, int layers, int width, int context, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new Gpt(new GptConfig(vocab, layers, Heads: width == 12 ? 5 : 4, width, context)));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLongInputAndBadDropoutAreRefused()
    {
        var model = new Gpt(new GptConfig(5, 1, 1, 4, Context: 4));
        var e = Assert.Throws<ArgumentException>(() => model.Call(Tensor.Zeros([1, 5], DType.Int64)));
        Assert.Contains("context is only 4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new Gpt(new GptConfig(5, Dropout: 1.0)));
        Assert.Throws<ArgumentException>(() => model.Call(Tensor.Zeros([1, 3], DType.Float32)));
    }
}
