using System.Diagnostics;
using DeepSharp.NN;

namespace DeepSharp.Bench.Workloads;

/// <summary>
/// Transformer building blocks, forward + backward, in milliseconds (lower is better):
/// causal self-attention with q, k, v [16, 4, 128, 32] (B*H = 64, T = 128, D = 32) through the fused
/// FlashAttention op and through the composition it replaced (matmul, causal mask, softmax, matmul), measured
/// alternately in one process; GELU (exact and tanh) on [16*128, 512] float32.
/// </summary>
internal static class TransformerWorkloads
{
    public static IEnumerable<IWorkload> Create()
    {
        yield return new Workload("sdpa_causal_b64_t128_d32_fused_ms", () => Attention(fused: true));
        yield return new Workload("sdpa_causal_b64_t128_d32_composed_ms", () => Attention(fused: false));
        yield return new Workload("gelu_2048x512_fwd_bwd_ms", () => Gelu("none"));
        yield return new Workload("gelu_tanh_2048x512_fwd_bwd_ms", () => Gelu("tanh"));
    }

    /// <summary>The composed form of causal SDPA, as Functional.ScaledDotProductAttention computed it before fusion.</summary>
    public static Tensor ComposedCausal(Tensor q, Tensor k, Tensor v)
    {
        int l = q.Size(-2), s = k.Size(-2);
        var allowed = new bool[l * s];
        for (int i = 0; i < l; i++)
            for (int j = 0; j <= i && j < s; j++) allowed[i * s + j] = true;
        var mask = Tensor.Where(Tensor.From(allowed, l, s), Tensor.Scalar(0), Tensor.Scalar(double.NegativeInfinity));
        var scores = q.Mul(1 / Math.Sqrt(q.Size(-1))).MatMul(k.Transpose(-2, -1)) + mask;
        return scores.Softmax(-1).MatMul(v);
    }

    private static double Attention(bool fused)
    {
        var g = new Generator(1);
        var q = Tensor.Randn([16, 4, 128, 32], g, requiresGrad: true);
        var k = Tensor.Randn([16, 4, 128, 32], g, requiresGrad: true);
        var v = Tensor.Randn([16, 4, 128, 32], g, requiresGrad: true);
        var grad = Tensor.Randn([16, 4, 128, 32], g);
        return BestMs(() =>
        {
            var y = fused ? Functional.ScaledDotProductAttention(q, k, v, isCausal: true).Output : ComposedCausal(q, k, v);
            y.Backward(grad);
            q.Grad = k.Grad = v.Grad = null;
        });
    }

    private static double Gelu(string approximate)
    {
        var g = new Generator(2);
        var x = Tensor.Randn([2048, 512], g, requiresGrad: true);
        var grad = Tensor.Randn([2048, 512], g);
        return BestMs(() =>
        {
            x.Gelu(approximate).Backward(grad);
            x.Grad = null;
        });
    }

    /// <summary>Best mean over five rounds of ten calls, after a second of warm-up (tiered JIT reaches its optimised code).</summary>
    public static double BestMs(Action step, int rounds = 5, int calls = 10)
    {
        long warm = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(warm).TotalSeconds < 1) step();
        double best = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) step();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds / calls);
        }
        return best;
    }
}
