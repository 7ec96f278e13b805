using System.Diagnostics;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Bench.Workloads;

/// <summary>
/// Recurrent-network throughput with the definitions of ../shared/bench/peer_torch.py:
/// charlstm = Embedding(65, 64) -> LSTM(64, 256, batch_first) -> Linear(256, 65), Adam lr 2e-3, one fixed batch
/// of tokens [32, 65]; a step is out = lm(tok[:, :-1]), cross-entropy of out [2048, 65] against tok[:, 1:],
/// zero_grad, backward, clip_grad_norm(1.0), Adam step. Figure: 32*64 tokens / mean step time over 20 steps
/// (best of three rounds of 20, as the other training workloads: the machine is shared) after the warm-up of
/// <see cref="TrainingWorkloads.TrainRate"/>: at least 3 steps and 1.5 s, so the JIT has promoted the hot paths.
/// </summary>
internal static class SequenceWorkloads
{
    public static IEnumerable<IWorkload> Create()
    {
        yield return new Workload("charlstm_b32_t64_h256_tokens_per_s", () => CharLstmTokensPerSecond(batch: 32, steps: 64, hidden: 256));
    }

    public static double CharLstmTokensPerSecond(int batch, int steps, int hidden, int measuredSteps = 20, int rounds = 3)
    {
        const int vocab = 65;
        var model = new CharRnn(new CharRnnConfig(vocab, RecurrentCellType.Lstm, EmbeddingDim: 64, HiddenSize: hidden, NumLayers: 1), generator: new Generator(0));
        var parameters = model.Parameters().ToArray();
        var optimizer = new Adam(parameters, new AdamOptions(Lr: 2e-3));
        var tokens = Tensor.Randint(0, vocab, [batch, steps + 1], new Generator(1));
        var input = tokens.Narrow(1, 0, steps).Contiguous();
        var target = tokens.Narrow(1, 1, steps).Contiguous().Reshape(-1);

        void Step()
        {
            var output = model.Call(input);
            var loss = Functional.CrossEntropy(output.Reshape(-1, vocab), target);
            optimizer.ZeroGrad();
            loss.Backward();
            GradClipping.ClipGradNorm(parameters, 1.0);
            optimizer.Step();
        }

        // PyTorch's 3 warm-up steps suffice for it because nothing is compiled; the JIT needs time without new methods.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 1.5; i++) Step();
        double best = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < measuredSteps; i++) Step();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / measuredSteps);
        }
        return batch * steps / best;
    }
}
