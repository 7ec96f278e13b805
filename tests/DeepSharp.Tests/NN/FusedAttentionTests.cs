using DeepSharp.NN;
using DeepSharp.Tests.Autograd;
using DeepSharp.Tests.Kernels;

namespace DeepSharp.Tests.NN;

/// <summary>
/// The fused (FlashAttention) scaled dot-product attention against the composition it replaces,
/// softmax(scale q k^T + mask) v written with matmul and softmax, in float64: values and all three gradients.
/// </summary>
public sealed class FusedAttentionTests
{
    private static void Close(Tensor expected, Tensor actual, string what, double tol) =>
        OpParityTests.AssertClose(expected, actual, tol, tol, what);

    /// <summary>The composed reference (PyTorch's documented formula), with a top-left causal mask.</summary>
    private static Tensor Composed(Tensor q, Tensor k, Tensor v, bool causal, double scale)
    {
        var scores = q.MatMul(k.Transpose(-2, -1)) * scale;
        if (causal)
        {
            int l = q.Size(-2), s = k.Size(-2);
            var allowed = new bool[l * s];
            for (int i = 0; i < l; i++)
                for (int j = 0; j <= i && j < s; j++) allowed[i * s + j] = true;
            var mask = Tensor.Where(Tensor.From(allowed, l, s), Tensor.Scalar(0, q.DType), Tensor.Scalar(double.NegativeInfinity, q.DType));
            scores = scores + mask;
        }
        return scores.Softmax(-1).MatMul(v);
    }

    private static Tensor Leaf(Generator g, DType dtype, params int[] shape) => Tensor.Randn(shape, g, dtype, requiresGrad: true);

    /// <summary>Output and input gradients of <paramref name="f"/> for a fixed random output gradient.</summary>
    private static Tensor[] ValueAndGrads(Func<Tensor, Tensor, Tensor, Tensor> f, Tensor q, Tensor k, Tensor v, Tensor gradOut)
    {
        var (q2, k2, v2) = (q.Detach().Clone(), k.Detach().Clone(), v.Detach().Clone());
        q2.RequiresGrad = k2.RequiresGrad = v2.RequiresGrad = true;
        var y = f(q2, k2, v2);
        y.Backward(gradOut);
        return [y.Detach(), q2.Grad!, k2.Grad!, v2.Grad!];
    }

    private static void CheckAgainstComposed(int[] lead, int l, int s, int d, int dv, bool causal, DType dtype, double tol, double? scale = null, ulong seed = 1)
    {
        var g = new Generator(seed);
        var q = Leaf(g, dtype, [.. lead, l, d]);
        var k = Leaf(g, dtype, [.. lead, s, d]);
        var v = Leaf(g, dtype, [.. lead, s, dv]);
        var gradOut = Tensor.Randn([.. lead, l, dv], g, dtype);
        double factor = scale ?? 1 / Math.Sqrt(d);
        var fused = ValueAndGrads((a, b, c) => Functional.ScaledDotProductAttention(a, b, c, isCausal: causal, scale: scale).Output, q, k, v, gradOut);
        var composed = ValueAndGrads((a, b, c) => Composed(a, b, c, causal, factor), q, k, v, gradOut);
        string[] names = ["output", "dq", "dk", "dv"];
        string shape = $"lead [{string.Join(",", lead)}] L={l} S={s} D={d} Dv={dv} causal={causal} {dtype}";
        for (int i = 0; i < 4; i++) Close(composed[i], fused[i], $"{names[i]} {shape}", tol);
    }

    public static TheoryData<int, int, bool> Lengths()
    {
        var data = new TheoryData<int, int, bool>();
        foreach (int t in new[] { 1, 7, 33, 130 })
            foreach (bool causal in new[] { false, true })
                data.Add(t, t, causal);
        // L != S: more keys than queries (a KV cache), and fewer
        foreach (var (l, s) in new[] { (1, 9), (5, 70), (70, 5), (33, 130) })
            foreach (bool causal in new[] { false, true })
                data.Add(l, s, causal);
        return data;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void FusedMatchesComposedInFloat64(int l, int s, bool causal)
    {
        foreach (int d in new[] { 1, 5, 17, 64 })
            CheckAgainstComposed([2, 3], l, s, d, d, causal, DType.Float64, 1e-10);
    }

    /// <summary>GPT's path: packed qkv [B, T, 3C] to merged heads [B, T, C] in one op, against split, heads forward, composed attention, heads back.</summary>
    [Theory]
    [InlineData(2, 7, 3, 5, 0.0)]
    [InlineData(1, 33, 2, 16, 0.0)]
    [InlineData(3, 130, 4, 8, 0.0)]
    [InlineData(2, 9, 3, 4, 0.3)]
    public void PackedAttentionMatchesTheSplitComposition(int b, int t, int heads, int d, double dropoutP)
    {
        int c = heads * d;
        var g = new Generator(7);
        var qkv = Tensor.Randn([b, t, 3 * c], g, DType.Float64, requiresGrad: true);
        var gradOut = Tensor.Randn([b, t, c], g, DType.Float64);
        double scale = 1 / Math.Sqrt(d);

        var packed = Tensor.FusedPackedAttention(qkv, heads, causal: true, scale,
            DeepSharp.Kernels.FlashAttention.Dropout.Draw(dropoutP, new Generator(11), (long)b * heads * t * t));
        packed.Backward(gradOut);
        var packedGrad = qkv.Grad!;
        qkv.Grad = null;

        var parts = qkv.Split(c, 2).Select(p => p.Reshape(b, t, heads, d).Transpose(1, 2)).ToArray();
        var reference = Functional.ScaledDotProductAttention(parts[0], parts[1], parts[2], dropoutP: dropoutP, isCausal: true, generator: new Generator(11))
            .Output.Transpose(1, 2).Reshape(b, t, c);
        reference.Backward(gradOut);
        Close(reference.Detach(), packed.Detach(), $"packed output B={b} T={t} H={heads} D={d} p={dropoutP}", 1e-12);
        Close(qkv.Grad!, packedGrad, $"packed d(qkv) B={b} T={t} H={heads} D={d} p={dropoutP}", 1e-12);
    }

    [Fact]
    public void PackedAttentionSaysWhatIsWrongWithItsInput()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.FusedPackedAttention(Tensor.Zeros([2, 3, 10]), heads: 2, causal: true, scale: 1));
        Assert.Contains("[B, T, 3C]", ex.Message);
        Assert.Contains("[2, 3, 10]", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.FusedPackedAttention(Tensor.Zeros([2, 0, 12]), heads: 2, causal: true, scale: 1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FusedMatchesComposedOverSeveralKeyTiles(bool causal)
    {
        // Longer than one forward and one backward key tile (at most 256 keys each), with ragged last tiles.
        CheckAgainstComposed([2], 300, 300, 8, 8, causal, DType.Float64, 1e-10);
        CheckAgainstComposed([1], 70, 520, 3, 4, causal, DType.Float64, 1e-10);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FusedMatchesComposedWithOtherValueSizesScalesAndRanks(bool causal)
    {
        CheckAgainstComposed([2, 3], 9, 11, 5, 3, causal, DType.Float64, 1e-10);
        CheckAgainstComposed([], 20, 20, 8, 12, causal, DType.Float64, 1e-10);
        CheckAgainstComposed([3], 17, 17, 4, 4, causal, DType.Float64, 1e-10, scale: 0.3);
        CheckAgainstComposed([2, 1, 2], 6, 6, 3, 3, causal, DType.Float64, 1e-10);
    }

    [Fact]
    public void Float32MatchesComposedAtEveryVectorWidth() => KernelCases.AtEveryWidth(width =>
    {
        foreach (bool causal in new[] { false, true })
        {
            CheckAgainstComposed([2, 2], 130, 130, 32, 32, causal, DType.Float32, 2e-5);
            CheckAgainstComposed([1, 3], 33, 70, 17, 17, causal, DType.Float32, 2e-5);
        }
    });

    [Fact]
    public void AcceptsNonContiguousViewsOfAFusedProjection()
    {
        // q, k, v as GPT slices them: [B, T, 3C] -> split -> [B, T, H, D] -> transpose to [B, H, T, D].
        const int b = 2, t = 19, h = 3, d = 4, c = h * d;
        var g = new Generator(5);
        var qkv = Tensor.Randn([b, t, 3 * c], g, DType.Float64, requiresGrad: true);
        var gradOut = Tensor.Randn([b, h, t, d], g, DType.Float64);
        Tensor[] Run(bool fused)
        {
            qkv.Grad = null;
            var parts = qkv.Chunk(3, -1);
            var (q, k, v) = (parts[0].View(b, t, h, d).Transpose(1, 2), parts[1].View(b, t, h, d).Transpose(1, 2), parts[2].View(b, t, h, d).Transpose(1, 2));
            Assert.False(q.IsContiguous);
            var y = fused ? Functional.ScaledDotProductAttention(q, k, v, isCausal: true).Output : Composed(q, k, v, true, 1 / Math.Sqrt(d));
            y.Backward(gradOut);
            return [y.Detach(), qkv.Grad!];
        }
        var expected = Run(false);
        var actual = Run(true);
        Close(expected[0], actual[0], "output", 1e-10);
        Close(expected[1], actual[1], "d qkv", 1e-10);
    }

    [Fact]
    public void DecodesOneQueryAgainstACache()
    {
        // KV-cache decoding: q [B, H, 1, D] against k, v [B, H, S, D], not causal; equals the last row of full causal attention.
        var g = new Generator(6);
        var q = Tensor.Randn([2, 4, 10, 8], g, DType.Float64);
        var k = Tensor.Randn([2, 4, 10, 8], g, DType.Float64);
        var v = Tensor.Randn([2, 4, 10, 8], g, DType.Float64);
        var full = Functional.ScaledDotProductAttention(q, k, v, isCausal: true).Output;
        var step = Functional.ScaledDotProductAttention(q.Narrow(2, 9, 1), k, v).Output;
        Close(full.Narrow(2, 9, 1), step, "last row", 1e-12);
    }

    [Fact]
    public void PassesGradCheckInFloat64()
    {
        var g = new Generator(7);
        foreach (bool causal in new[] { false, true })
        {
            Tensor[] inputs = [Leaf(g, DType.Float64, 2, 5, 3), Leaf(g, DType.Float64, 2, 7, 3), Leaf(g, DType.Float64, 2, 7, 4)];
            Assert.True(DeepSharp.Autograd.GradCheck(x => Functional.ScaledDotProductAttention(x[0], x[1], x[2], isCausal: causal).Output, inputs),
                $"gradcheck causal={causal}");
        }
    }

    [Fact]
    public void WeightsAreComputedOnlyWhenReadAndMatchTheSoftmax()
    {
        var g = new Generator(8);
        var q = Tensor.Randn([2, 6, 4], g, DType.Float64, requiresGrad: true);
        var k = Tensor.Randn([2, 9, 4], g, DType.Float64);
        var v = Tensor.Randn([2, 9, 3], g, DType.Float64);
        var result = Functional.ScaledDotProductAttention(q, k, v, isCausal: true);
        Assert.Equal("ScaledDotProductFlashAttentionBackward", result.Output.GradFn!.Name);
        var weights = result.Weights!;
        Assert.True(weights.RequiresGrad); // recorded like the call: a loss on the weights reaches q
        Assert.Same(weights, result.Weights); // computed once
        var scores = q.Detach().MatMul(k.Transpose(1, 2)) / 2;
        var mask = new bool[6 * 9];
        for (int i = 0; i < 6; i++) for (int j = 0; j <= i; j++) mask[i * 9 + j] = true;
        var expected = Tensor.Where(Tensor.From(mask, 6, 9), scores, Tensor.Scalar(double.NegativeInfinity, DType.Float64)).Softmax(-1);
        Close(expected, weights, "weights", 1e-12);
        Close(weights.MatMul(v), result.Output.Detach(), "weights times v", 1e-12);
        var (output, w2) = result;
        Assert.Same(result.Output, output);
        Assert.Same(weights, w2);

        using (DeepSharp.Autograd.NoGrad())
            Assert.False(Functional.ScaledDotProductAttention(q, k, v, isCausal: true).Weights!.RequiresGrad);
    }

    [Fact]
    public void MasksFullDropoutAndBroadcastStillTakeTheComposedPath()
    {
        var g = new Generator(9);
        var q = Tensor.Randn([2, 3, 4], g, requiresGrad: true);
        var k = Tensor.Randn([2, 5, 4], g);
        var v = Tensor.Randn([2, 5, 4], g);
        var mask = Tensor.Ones([3, 5]).Gt(0);
        Assert.NotEqual("ScaledDotProductFlashAttentionBackward", Functional.ScaledDotProductAttention(q, k, v, mask).Output.GradFn!.Name);
        Assert.NotEqual("ScaledDotProductFlashAttentionBackward", Functional.ScaledDotProductAttention(q, k, v, dropoutP: 1, generator: g).Output.GradFn!.Name);
        var kb = Tensor.Randn([1, 5, 4], g);
        Close(Composed(q, kb, v, false, 0.5), Functional.ScaledDotProductAttention(q, kb, v).Output, "broadcast key", 1e-5);
    }

    [Theory]
    [InlineData(false, DType.Float64)]
    [InlineData(true, DType.Float64)]
    [InlineData(true, DType.Float32)]
    public void DropoutDropsTheSameWeightsAsTheComposedPath(bool causal, DType dtype)
    {
        // Same generator state: the fused op regenerates Functional.Dropout's mask from the generator's counters.
        var g = new Generator(12);
        var q = Leaf(g, dtype, 2, 3, 70, 8);
        var k = Leaf(g, dtype, 2, 3, 70, 8);
        var v = Leaf(g, dtype, 2, 3, 70, 6);
        var gradOut = Tensor.Randn([2, 3, 70, 6], g, dtype);
        const double p = 0.3;
        var (g1, g2) = (new Generator(77), new Generator(77));
        Tensor? fusedWeights = null;
        var fused = ValueAndGrads((a, b, c) =>
        {
            var r = Functional.ScaledDotProductAttention(a, b, c, dropoutP: p, isCausal: causal, generator: g1);
            Assert.Equal("ScaledDotProductFlashAttentionBackward", r.Output.GradFn!.Name);
            fusedWeights = r.Weights;
            return r.Output;
        }, q, k, v, gradOut);
        Tensor? composedWeights = null;
        var composed = ValueAndGrads((a, b, c) =>
        {
            var scores = a.MatMul(b.Transpose(-2, -1)) / Math.Sqrt(8);
            if (causal) scores = scores + Functional.AdditiveMask("test", Functional.CausalMask(70, 70), dtype, allowedWhereTrue: true);
            composedWeights = Functional.Dropout(scores.Softmax(-1), p, true, g2);
            return composedWeights.MatMul(c);
        }, q, k, v, gradOut);
        double tol = dtype == DType.Float64 ? 1e-10 : 2e-5;
        string[] names = ["output", "dq", "dk", "dv"];
        for (int i = 0; i < 4; i++) Close(composed[i], fused[i], $"{names[i]} with dropout causal={causal} {dtype}", tol);
        Close(composedWeights!.Detach(), fusedWeights!.Detach(), "weights after dropout", tol);
        Assert.Equal(g2.Offset, g1.Offset);
        double dropped = fusedWeights!.Detach().Eq(0).To(DType.Float64).Mean().ToDouble();
        Assert.InRange(dropped, causal ? 0.6 : 0.25, causal ? 0.7 : 0.35); // causal: 49 % masked + 30 % of the other 51 %
    }

    [Fact]
    public void DropoutPassesGradCheckWithAFixedGenerator()
    {
        var g = new Generator(13);
        Tensor[] inputs = [Leaf(g, DType.Float64, 2, 6, 3), Leaf(g, DType.Float64, 2, 6, 3), Leaf(g, DType.Float64, 2, 6, 4)];
        Assert.True(DeepSharp.Autograd.GradCheck(x => Functional.ScaledDotProductAttention(x[0], x[1], x[2], dropoutP: 0.4, isCausal: true,
            generator: new Generator(5)).Output, inputs));
    }

    [Fact]
    public void BadInputsSayWhatIsWrong()
    {
        var q = Tensor.Zeros([2, 3, 4]);
        var k = Tensor.Zeros([2, 5, 4]);
        var v = Tensor.Zeros([2, 5, 4]);
        var e = Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(q, Tensor.Zeros([2, 5, 6]), v));
        Assert.Contains("same embedding size", e.Message);
        e = Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(q, k, Tensor.Zeros([2, 6, 4])));
        Assert.Contains("same sequence length", e.Message);
        e = Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(Tensor.Zeros([4]), k, v));
        Assert.Contains("at least 2 dims", e.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.FusedAttention(q, k, v.To(DType.Float64), false, 1));
        Assert.Contains("all be float32 or all float64", e.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.FusedAttention(q, Tensor.Zeros([1, 5, 4]), v, false, 1));
        Assert.Contains("same leading (batch, head) dims", e.Message);
        e = Assert.Throws<ArgumentException>(() => Tensor.FusedAttention(q, Tensor.Zeros([2, 0, 4]), Tensor.Zeros([2, 0, 4]), false, 1));
        Assert.Contains("at least one key", e.Message);
    }
}
