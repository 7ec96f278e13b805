using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>Behaviour of the attention functions and modules beyond the PyTorch fixtures: masks, conventions, dropout, names, errors.</summary>
public sealed class AttentionTests
{
    private static void Close(Tensor expected, Tensor actual, string what, double tol = 1e-6) =>
        OpParityTests.AssertClose(expected, actual, tol, tol, what);

    private static Tensor Rand(Generator g, params int[] shape) => Tensor.Randn(shape, g);

    [Fact]
    public void SdpaBoolMaskAllowsWhereTrueAndEqualsTheAdditiveForm()
    {
        var g = new Generator(1);
        var (q, k, v) = (Rand(g, 2, 3, 4), Rand(g, 2, 5, 4), Rand(g, 2, 5, 6));
        var allowed = Tensor.From(new[]
        {
            true, false, true, false, true,
            true, true, true, true, true,
            false, false, false, false, true,
        }, 3, 5);
        var (output, weights) = Functional.ScaledDotProductAttention(q, k, v, allowed);
        var w = weights!.ToArray<float>();
        for (int row = 0; row < 6; row++)
        {
            Assert.Equal(1.0, w.AsSpan(row * 5, 5).ToArray().Sum(), 5);
            for (int j = 0; j < 5; j++)
                if (!allowed.ToArray<bool>()[row % 3 * 5 + j]) Assert.Equal(0f, w[row * 5 + j]);
        }
        var additive = Tensor.Where(allowed, Tensor.Scalar(0), Tensor.Scalar(double.NegativeInfinity));
        Close(output, Functional.ScaledDotProductAttention(q, k, v, additive).Output, "bool vs additive mask");

        // Reference formula: softmax(q k^T / sqrt(E)) v.
        var reference = (q.MatMul(k.Transpose(1, 2)) / 2 + additive).Softmax(-1).MatMul(v);
        Close(reference, output, "formula");
    }

    [Fact]
    public void SdpaCausalIsTheLowerTriangle()
    {
        var g = new Generator(2);
        var (q, k, v) = (Rand(g, 1, 4, 3), Rand(g, 1, 4, 3), Rand(g, 1, 4, 2));
        var causal = Functional.ScaledDotProductAttention(q, k, v, isCausal: true);
        var tril = Tensor.From(new[] { true, false, false, false, true, true, false, false, true, true, true, false, true, true, true, true }, 4, 4);
        Close(Functional.ScaledDotProductAttention(q, k, v, tril).Output, causal.Output, "causal");
        Assert.Equal(1f, causal.Weights!.ToArray<float>()[0]); // the first query sees only the first key
        Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(q, k, v, tril, isCausal: true));
        Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(q, Rand(g, 1, 4, 5), v));
        Assert.Throws<ArgumentException>(() => Functional.ScaledDotProductAttention(q, k, Rand(g, 1, 3, 2)));
        Close(Functional.ScaledDotProductAttention(q * 2, k, v, scale: 0.25).Output,
            Functional.ScaledDotProductAttention(q, k, v, scale: 0.5).Output, "explicit scale");
    }

    [Fact]
    public void MhaHasPyTorchsParametersAndInit()
    {
        var mha = new MultiheadAttention(8, 2, generator: new Generator(3));
        Assert.Equal(["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"], mha.StateDict().Keys);
        Assert.Equal(["in_proj_weight", "out_proj.weight"], new MultiheadAttention(8, 4, bias: false).StateDict().Keys);
        Assert.All(mha.InProjBias!.ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.All(mha.OutProj.Bias!.ToArray<float>(), v => Assert.Equal(0f, v));
        double xavier = Math.Sqrt(6.0 / (8 + 24));
        Assert.All(mha.InProjWeight.ToArray<float>(), v => Assert.InRange(v, -xavier, xavier));
        Assert.Throws<ArgumentException>(() => new MultiheadAttention(10, 3));
    }

    [Fact]
    public void MhaPaddedKeysGetZeroWeightAndBoolEqualsFloatMasks()
    {
        var g = new Generator(4);
        var mha = new MultiheadAttention(8, 2, generator: g);
        var x = Rand(g, 5, 2, 8);
        var padding = Tensor.From(new[] { false, false, false, true, true, false, true, false, false, false }, 2, 5);
        var (output, weights) = mha.Forward(x, x, x, padding);
        Assert.Equal([2, 5, 5], weights!.ShapeArray);
        var w = weights.ToArray<float>();
        var pad = padding.ToArray<bool>();
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(1.0, w.AsSpan((b * 5 + i) * 5, 5).ToArray().Sum(), 5);
                for (int j = 0; j < 5; j++)
                    if (pad[b * 5 + j]) Assert.Equal(0f, w[(b * 5 + i) * 5 + j]);
            }
        var floatPadding = Tensor.Where(padding, Tensor.Scalar(double.NegativeInfinity), Tensor.Scalar(0));
        Close(output, mha.Forward(x, x, x, floatPadding).Output, "float key padding mask");

        // Per-head weights average to the returned weights.
        var perHead = mha.Forward(x, x, x, padding, averageAttnWeights: false).Weights!;
        Assert.Equal([2, 2, 5, 5], perHead.ShapeArray);
        Close(weights, perHead.Mean(1), "head average");
        Assert.Null(mha.Forward(x, x, x, needWeights: false).Weights);
    }

    [Fact]
    public void MhaBatchFirstIsTheTransposeOfSequenceFirst()
    {
        var g = new Generator(5);
        var seqFirst = new MultiheadAttention(6, 3, generator: g);
        var batchFirst = new MultiheadAttention(6, 3, batchFirst: true);
        batchFirst.LoadStateDict(seqFirst.StateDict());
        var (q, kv) = (Rand(g, 4, 2, 6), Rand(g, 7, 2, 6));
        var a = seqFirst.Forward(q, kv, kv);
        var b = batchFirst.Forward(q.Transpose(0, 1), kv.Transpose(0, 1), kv.Transpose(0, 1));
        Close(a.Output.Transpose(0, 1), b.Output, "batch_first output");
        Close(a.Weights!, b.Weights!, "batch_first weights");
        Assert.Contains("attn_mask must be", Assert.Throws<ArgumentException>(() => seqFirst.Forward(q, kv, kv, attnMask: Tensor.Zeros(4, 4))).Message, StringComparison.Ordinal);
        Assert.Contains("key_padding_mask must be", Assert.Throws<ArgumentException>(() => seqFirst.Forward(q, kv, kv, Tensor.Zeros(2, 4))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => seqFirst.Forward(Rand(g, 4, 2, 5)));
    }

    [Fact]
    public void MhaDropoutHitsTheWeightsOnlyInTraining()
    {
        var g = new Generator(6);
        var mha = new MultiheadAttention(4, 1, dropout: 0.5, generator: g) { Generator = new Generator(7) };
        var x = Rand(g, 6, 3, 4);
        var trained = mha.Forward(x).Weights!.ToArray<float>();
        Assert.Contains(trained, v => v == 0);
        Assert.Contains(Enumerable.Range(0, 18), r => Math.Abs(trained.AsSpan(r * 6, 6).ToArray().Sum() - 1) > 1e-3);
        mha.Eval();
        var eval = mha.Forward(x).Weights!.ToArray<float>();
        Assert.All(Enumerable.Range(0, 18), r => Assert.Equal(1.0, eval.AsSpan(r * 6, 6).ToArray().Sum(), 5));
    }

    [Fact]
    public void AdditiveAndLuongAttentionMaskPaddingAndHandleOneStep()
    {
        var g = new Generator(8);
        var additive = new AdditiveAttention(4, 3, 5, generator: g);
        Assert.Equal(["w_q.weight", "w_k.weight", "v.weight"], additive.StateDict().Keys);
        var (q, keys, values) = (Rand(g, 2, 4), Rand(g, 2, 6, 3), Rand(g, 2, 6, 2));
        var mask = Tensor.From(new[] { false, false, true, false, true, true, false, true, false, false, false, false }, 2, 6);
        var step = additive.Forward(q, keys, values, mask);
        Assert.Equal([2, 2], step.Output.ShapeArray);
        Assert.Equal([2, 6], step.Weights!.ShapeArray);
        var w = step.Weights.ToArray<float>();
        var m = mask.ToArray<bool>();
        for (int i = 0; i < w.Length; i++)
            if (m[i]) Assert.Equal(0f, w[i]);
        var asSequence = additive.Forward(q.Unsqueeze(1), keys, values, mask);
        Close(asSequence.Output.Squeeze(1), step.Output, "one step vs L = 1");

        var general = new LuongAttention(LuongScore.General, 4, 3, generator: g);
        Assert.Equal([4, 3], general.W!.Weight.ShapeArray);
        var (ctx, weights) = general.Forward(Rand(g, 2, 5, 4), keys);
        Assert.Equal([2, 5, 3], ctx.ShapeArray); // values default to the keys
        Assert.Equal([2, 5, 6], weights!.ShapeArray);
        Assert.Empty(new LuongAttention(LuongScore.Dot, 3, 3).Parameters());
        Assert.Throws<ArgumentException>(() => new LuongAttention(LuongScore.Dot, 4, 3));
        Assert.Contains("mask must be", Assert.Throws<ArgumentException>(() => additive.Forward(q, keys, values, Tensor.Zeros(2, 6))).Message, StringComparison.Ordinal);
        Assert.Contains("keys must have 3", Assert.Throws<ArgumentException>(() => additive.Forward(q, Rand(g, 2, 6, 4))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EncoderLayerHasPyTorchsSubmodulesAndIgnoresPaddedPositions()
    {
        var g = new Generator(9);
        var layer = new TransformerEncoderLayer(8, 2, 16, dropout: 0.1, batchFirst: true, generator: g);
        Assert.Equal(["self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"], layer.NamedChildren().Select(c => c.Name));
        Assert.Equal(
        [
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
        ], layer.StateDict().Keys);
        layer.Eval();

        // Changing a padded position changes nothing at the other positions.
        var x = Rand(g, 2, 5, 8);
        var padding = Tensor.From(new[] { false, false, false, false, true, false, false, true, false, false }, 2, 5);
        var y = layer.Call(x, null, padding);
        var x2 = x.Clone();
        using (DeepSharp.Autograd.NoGrad()) x2.Select(0, 0).Select(0, 4).Fill(3);
        var y2 = layer.Call(x2, null, padding);
        Close(y.Select(0, 0).Narrow(0, 0, 4), y2.Select(0, 0).Narrow(0, 0, 4), "unpadded positions");
        Close(y.Select(0, 1), y2.Select(0, 1), "other example");

        // Training-mode dropout changes the output; eval is deterministic.
        Close(y, layer.Call(x, null, padding), "eval is deterministic");
        layer.Train();
        Assert.NotEqual(y.ToArray<float>(), layer.Call(x, null, padding).ToArray<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TransformerEncoderLayer(8, 2, activation: (TransformerActivation)5));
    }

    [Fact]
    public void HooksOnInnerModulesFire()
    {
        var layer = new TransformerEncoderLayer(4, 2, 8, dropout: 0);
        int attnCalls = 0, layerCalls = 0;
        using var h1 = layer.SelfAttn.RegisterForwardHook((_, _, _) => attnCalls++);
        using var h2 = layer.RegisterForwardHook((_, _, _) => layerCalls++);
        layer.Call(Tensor.Zeros(3, 1, 4), Functional.CausalMask(3, 3).LogicalNot());
        layer.Call(Tensor.Zeros(3, 1, 4));
        Assert.Equal(2, attnCalls);
        Assert.Equal(2, layerCalls);
        Assert.Contains("Total params: 172", layer.Summary([3, 1, 4]), StringComparison.Ordinal); // 12*4+12 + 4*4+4 + 4*8+8 + 8*4+4 + 2*(4+4)
    }
}
