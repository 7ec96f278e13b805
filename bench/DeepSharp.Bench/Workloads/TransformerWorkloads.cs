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
        yield return new Workload("gelu_2048x512_fwd_bwd_ms", () => Gelu(GeluApproximation.None));
        yield return new Workload("gelu_tanh_2048x512_fwd_bwd_ms", () => Gelu(GeluApproximation.Tanh));
        yield return new Workload("gpt_block_b16_t128_c128_h4_fwd_bwd_ms", GptBlock);
    }

    /// <summary>
    /// One pre-norm GPT block, forward + backward: x + proj(causal SDPA(split(qkv(ln1(x))))), then
    /// + fc2(gelu_tanh(fc1(ln2(.)))); x [16, 128, 128], 4 heads, MLP 4C.
    /// </summary>
    private static double GptBlock()
    {
        const int b = 16, t = 128, c = 128, h = 4, d = c / h;
        var g = new Generator(3);
        var ln1 = new LayerNorm(c);
        var ln2 = new LayerNorm(c);
        var qkv = new Linear(c, 3 * c, generator: g);
        var proj = new Linear(c, c, generator: g);
        var fc1 = new Linear(c, 4 * c, generator: g);
        var fc2 = new Linear(4 * c, c, generator: g);
        var x = Tensor.Randn([b, t, c], g, requiresGrad: true);
        var grad = Tensor.Randn([b, t, c], g);
        return BestMs(() =>
        {
            var parts = qkv.Call(ln1.Call(x)).Chunk(3, -1);
            Tensor Heads(Tensor z) => z.View(b, t, h, d).Transpose(1, 2);
            var a = Functional.ScaledDotProductAttention(Heads(parts[0]), Heads(parts[1]), Heads(parts[2]), isCausal: true).Output;
            var x2 = x + proj.Call(a.Transpose(1, 2).Reshape(b, t, c));
            var y = x2 + fc2.Call(fc1.Call(ln2.Call(x2)).Gelu(GeluApproximation.Tanh));
            y.Backward(grad);
            x.Grad = null;
            foreach (var m in new Module[] { ln1, ln2, qkv, proj, fc1, fc2 }) m.ZeroGrad();
        });
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

    private static double Gelu(GeluApproximation approximate)
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
