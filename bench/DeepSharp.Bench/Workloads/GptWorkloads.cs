using System.Diagnostics;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Bench.Workloads;

/// <summary>
/// GPT throughput (issue #18), mirrored by bench/TorchSharpPeer: a character GPT of 4 layers, 4 heads, width 128,
/// context 128, vocabulary 65, dropout 0, biases, tied lm_head (nanoGPT layout).
/// gpt_train_tokens_per_s: batch 16 x 128 tokens from one fixed random batch; a step is logits = model(x), mean
/// cross-entropy against the shifted tokens, zero_grad, backward, clip_grad_norm(1.0), AdamW step (lr 1e-3, betas
/// (0.9, 0.95), weight decay 0.1 on 2-D weights). Figure: 16*128 tokens / step time (best of three rounds of 10 after
/// a warm-up of at least 2 steps and 3 s, the steady state). gpt_generate_tokens_per_s: eval, no grad, batch 1, a
/// 16-token prompt then 100 greedy tokens with the KV cache; figure: 100 / the time to generate them, prompt pass included (best of three).
/// </summary>
internal static class GptWorkloads
{
    private const int Vocab = 65, Layers = 4, Heads = 4, Width = 128, Context = 128;

    public static IEnumerable<IWorkload> Create()
    {
        yield return new Workload("gpt_train_tokens_per_s", () => TrainTokensPerSecond(batch: 16));
        yield return new Workload("gpt_generate_tokens_per_s", () => GenerateTokensPerSecond(newTokens: 100));
    }

    private static Gpt Model() => new(new GptConfig(Vocab, Layers, Heads, Width, Context), generator: new Generator(0));

    public static double TrainTokensPerSecond(int batch, int measuredSteps = 10, int rounds = 3)
    {
        var model = Model();
        var optimizer = new AdamW(AdamW.WeightDecayGroups(model.Parameters(), new AdamWOptions(Lr: 1e-3, Beta2: 0.95, WeightDecay: 0.1)));
        var parameters = model.Parameters().ToArray();
        var tokens = Tensor.Randint(0, Vocab, [batch, Context + 1], new Generator(1));
        var input = tokens.Narrow(1, 0, Context).Contiguous();
        var target = tokens.Narrow(1, 1, Context).Contiguous().Reshape(-1);

        void Step()
        {
            var logits = model.Call(input);
            var loss = Functional.CrossEntropy(logits.Reshape(-1, Vocab), target);
            optimizer.ZeroGrad();
            loss.Backward();
            GradClipping.ClipGradNorm(parameters, 1.0);
            optimizer.Step();
        }

        WarmUp(Step);
        double best = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < measuredSteps; i++) Step();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / measuredSteps);
        }
        return batch * Context / best;
    }

    /// <summary>Runs <paramref name="step"/> at least twice and for at least 3 s: the first calls run quick-jitted
    /// and instrumented code, and the JIT recompiles hot methods on a background thread that would share the cores
    /// with a measured two-thread round.</summary>
    private static void WarmUp(Action step)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 2 || Stopwatch.GetElapsedTime(start).TotalSeconds < 3; i++) step();
    }

    public static double GenerateTokensPerSecond(int newTokens, int rounds = 3)
    {
        var model = Model();
        long[] prompt = [.. Enumerable.Range(0, 16).Select(i => (long)(i * 7 % Vocab))];
        var greedy = new SamplingOptions(Temperature: 0);
        _ = model.Generate(prompt, 8, greedy, new Generator(0)).Count(); // warm-up
        double best = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            long start = Stopwatch.GetTimestamp();
            int n = model.Generate(prompt, newTokens, greedy, new Generator(0)).Count();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / n);
        }
        return 1 / best;
    }
}
