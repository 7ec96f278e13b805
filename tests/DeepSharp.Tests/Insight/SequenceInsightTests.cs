using DeepSharp.Insight;
using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Tests.Insight;

public sealed class SequenceInsightTests
{
    /// <summary>Self-attention without projections that returns (context, weights), like PyTorch's MultiheadAttention.</summary>
    private sealed class DotAttention : Module<Tensor, (Tensor Output, Tensor Weights)>
    {
        public override (Tensor Output, Tensor Weights) Forward(Tensor x)
        {
            var weights = x.MatMul(x.Transpose(1, 2)).Div(Math.Sqrt(x.Size(2))).Softmax(-1);
            return (weights.MatMul(x), weights);
        }
    }

    /// <summary>Returns a pair whose second element is not a weight matrix.</summary>
    private sealed class PairModule : Module<Tensor, (Tensor, Tensor)>
    {
        public override (Tensor, Tensor) Forward(Tensor x) => (x, x * 2);
    }

    /// <summary>An LSTM-shaped parameter holder with PyTorch's names, to check the name lookup.</summary>
    private sealed class LstmWeights : Module
    {
        public LstmWeights(int input, int hidden, Generator g)
        {
            double b = 1 / Math.Sqrt(hidden);
            RegisterParameter("weight_ih_l0", Tensor.Uniform([4 * hidden, input], -b, b, g, DType.Float64));
            RegisterParameter("weight_hh_l0", Tensor.Uniform([4 * hidden, hidden], -b, b, g, DType.Float64));
            RegisterParameter("bias_ih_l0", Tensor.Uniform([4 * hidden], -b, b, g, DType.Float64));
            RegisterParameter("bias_hh_l0", Tensor.Uniform([4 * hidden], -b, b, g, DType.Float64));
        }
    }

    [Fact]
    public void AttentionWeightsAreCapturedFromModulesReturningThem()
    {
        var model = new DotAttention();
        var x = Tensor.Randn([2, 5, 3], new Generator(1));
        var capture = new AttentionCapture(model);
        var expected = model.Call(x).Weights;
        Assert.Single(capture.Maps);
        Assert.Equal(expected.ToArray<float>(), capture.Maps[0].Weights.ToArray<float>());
        Assert.Equal([2, 5, 5], capture.Maps[0].Weights.ShapeArray);
        Assert.Equal("DotAttention", capture.Maps[0].Layer);
        capture.Dispose();
        model.Call(x);
        Assert.Single(capture.Maps);

        // A tuple of plain tensors is not attention.
        var pairModule = new PairModule();
        using var pair = new AttentionCapture(pairModule);
        pairModule.Call(x);
        Assert.Empty(pair.Maps);
        Assert.True(AttentionCapture.LooksLikeAttention(expected));
        Assert.False(AttentionCapture.LooksLikeAttention(x));
    }

    [Fact]
    public void LstmGatesReproduceTheFusedLstmLayer()
    {
        int steps = 6, input = 3, hidden = 4;
        var g = new Generator(2);
        var module = new LstmWeights(input, hidden, g);
        var x = Tensor.Randn([steps, input], g, DType.Float64);
        var trace = LstmGates.Compute(module, x);
        var p = module.NamedParameters().ToDictionary(kv => kv.Name, kv => kv.Parameter);
        var zeros = Tensor.Zeros([1, hidden], DType.Float64);
        var (y, hN, cN) = Tensor.RecurrentLayer(RecurrentCell.Lstm, x.Unsqueeze(1), zeros, zeros, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"]);

        var hidden1 = trace.Hidden.ToDoubleArray();
        var fused = y.Reshape(steps, hidden).ToDoubleArray();
        for (int i = 0; i < hidden1.Length; i++) Assert.Equal(fused[i], hidden1[i], 12);
        var lastCell = trace.CellState.Select(0, steps - 1).ToDoubleArray();
        var fusedCell = cN!.Reshape(hidden).ToDoubleArray();
        for (int i = 0; i < hidden; i++) Assert.Equal(fusedCell[i], lastCell[i], 12);
        foreach (var gate in new[] { trace.Input, trace.Forget, trace.Output })
        {
            Assert.Equal([steps, hidden], gate.ShapeArray);
            Assert.All(gate.ToDoubleArray(), v => Assert.InRange(v, 0, 1));
        }
        Assert.All(trace.Cell.ToDoubleArray(), v => Assert.InRange(v, -1, 1));
        // h = o * tanh(c) step by step.
        var h = trace.Hidden.ToDoubleArray();
        var o = trace.Output.ToDoubleArray();
        var c = trace.CellState.ToDoubleArray();
        for (int i = 0; i < h.Length; i++) Assert.Equal(o[i] * Math.Tanh(c[i]), h[i], 12);
    }

    [Fact]
    public void LstmGatesNameTheMissingParameter()
    {
        var e = Assert.Throws<ArgumentException>(() => LstmGates.Compute(new Linear(2, 2), Tensor.Zeros(3, 2)));
        Assert.Contains("weight_ih_l0", e.Message, StringComparison.Ordinal);
    }
}
