using DeepSharp.Kernels;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>Behaviour of RNN/LSTM/GRU and the cells beyond the PyTorch fixtures: BPTT truncation, lengths, dropout, hooks, errors.</summary>
public sealed class RecurrentTests
{
    private static void Close(Tensor expected, Tensor actual, string what, double tol = 1e-6) =>
        OpParityTests.AssertClose(expected, actual, tol, tol, what);

    [Fact]
    public void ShapesFollowPyTorchForBatchFirstAndSequenceFirst()
    {
        var lstm = new Lstm(3, 4, numLayers: 2, batchFirst: true, bidirectional: true, generator: new Generator(1));
        var (output, hN, cN) = lstm.Forward(Tensor.Randn([2, 5, 3], new Generator(2)));
        Assert.Equal([2, 5, 8], output.ShapeArray);
        Assert.Equal([4, 2, 4], hN.ShapeArray);
        Assert.Equal([4, 2, 4], cN!.ShapeArray);

        var gru = new Gru(3, 6, generator: new Generator(1));
        var r = gru.Forward(Tensor.Randn([5, 2, 3], new Generator(2)));
        Assert.Equal([5, 2, 6], r.Output.ShapeArray);
        Assert.Equal([1, 2, 6], r.HiddenState.ShapeArray);
        Assert.Null(r.CellState);
    }

    [Fact]
    public void ParametersHavePyTorchsNamesShapesAndInitBounds()
    {
        var lstm = new Lstm(3, 4, numLayers: 2, bidirectional: true, generator: new Generator(3));
        string[] expected =
        [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
            "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
            "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
        ];
        Assert.Equal(expected, lstm.StateDict().Keys);
        Assert.Equal([16, 3], lstm.LayerWeights(0).WeightIh.ShapeArray);
        Assert.Equal([16, 8], lstm.LayerWeights(1, reverse: true).WeightIh.ShapeArray);
        Assert.Equal([12, 5], new Gru(5, 4).LayerWeights(0).WeightIh.ShapeArray);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0"], new Rnn(2, 3, bias: false).StateDict().Keys);

        // U(-1/sqrt(H), 1/sqrt(H)) for every parameter, biases included; the draws are spread out, not constant.
        foreach (var p in lstm.Parameters())
        {
            var v = p.ToArray<float>();
            Assert.All(v, x => Assert.InRange(x, -0.5f, 0.5f));
            Assert.True(v.Max() - v.Min() > 0.3f);
        }
        Assert.Equal("LSTM(3, 4, num_layers=2, bidirectional=True)", lstm.ToString());
        Assert.Equal("RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5)",
            new Rnn(3, 4, numLayers: 2, nonlinearity: RnnNonlinearity.Relu, bias: false, batchFirst: true, dropout: 0.5).ToString());
    }

    [Fact]
    public void DetachingTheStateBetweenChunksStopsBackpropAtTheBoundary()
    {
        var lstm = new Lstm(3, 5, batchFirst: true, generator: new Generator(4));
        var x1 = Tensor.Randn([2, 4, 3], new Generator(5), requiresGrad: true);
        var x2 = Tensor.Randn([2, 4, 3], new Generator(6), requiresGrad: true);

        // Truncated BPTT: the second chunk starts from the first chunk's values, with the history cut off.
        var first = lstm.Forward(x1);
        var second = lstm.Forward(x2, first.HiddenState.Detach(), first.CellState!.Detach());
        second.Output.Sum().Backward();
        Assert.Null(x1.Grad);
        Assert.NotNull(x2.Grad);
        Assert.All(lstm.Parameters(), p => Assert.Contains(p.Grad!.ToArray<float>(), g => g != 0));

        // The values still carry over: chunk 2 equals the second half of one run over the whole sequence.
        var whole = lstm.Forward(Tensor.Cat([x1.Detach(), x2.Detach()], 1));
        Close(whole.Output.Narrow(1, 4, 4), second.Output, "chunked output");
        Close(whole.HiddenState, second.HiddenState, "chunked h_n");

        // Without detaching, the gradient reaches the first chunk.
        lstm.ZeroGrad();
        var attached = lstm.Forward(x2, first.HiddenState, first.CellState);
        attached.Output.Sum().Backward();
        Assert.NotNull(x1.Grad);
        Assert.Contains(x1.Grad!.ToArray<float>(), g => g != 0);
    }

    [Fact]
    public void LengthsGiveEachExampleItsOwnUnpaddedRun()
    {
        // Packed-sequence semantics: an example of length 2 in a padded batch behaves as if run alone on its 2 steps,
        // in both directions and both layers; its padded outputs are zero.
        var gru = new Gru(3, 4, numLayers: 2, batchFirst: true, bidirectional: true, generator: new Generator(7));
        var x = Tensor.Randn([2, 5, 3], new Generator(8));
        var h0 = Tensor.Randn([4, 2, 4], new Generator(9));
        var batch = gru.Forward(x, h0, lengths: [5, 2]);

        var alone = gru.Forward(x.Narrow(0, 1, 1).Narrow(1, 0, 2), h0.Narrow(1, 1, 1).Contiguous());
        Close(alone.Output, batch.Output.Narrow(0, 1, 1).Narrow(1, 0, 2), "short example's outputs");
        Close(alone.HiddenState, batch.HiddenState.Narrow(1, 1, 1), "short example's h_n");
        Assert.All(batch.Output.Narrow(0, 1, 1).Narrow(1, 2, 3).ToArray<float>(), v => Assert.Equal(0f, v));

        var full = gru.Forward(x.Narrow(0, 0, 1), h0.Narrow(1, 0, 1).Contiguous());
        Close(full.Output, batch.Output.Narrow(0, 0, 1), "full-length example's outputs");
    }

    [Fact]
    public void DropoutActsBetweenLayersOnlyInTraining()
    {
        var x = Tensor.Randn([4, 2, 3], new Generator(10));
        // p = 1 zeroes the second layer's input; with no bias and zero initial state its output is then tanh(0) = 0
        // (to the float32 rounding of the vectorised tanh).
        var rnn = new Rnn(3, 4, numLayers: 2, bias: false, dropout: 1.0, generator: new Generator(11));
        Assert.All(rnn.Forward(x).Output.ToArray<float>(), v => Assert.InRange(v, -1e-7f, 1e-7f));
        rnn.Eval();
        Assert.Contains(rnn.Forward(x).Output.ToArray<float>(), v => Math.Abs(v) > 1e-3);

        // Never after the last layer: a one-layer network ignores its dropout.
        var single = new Lstm(3, 4, dropout: 0.9, generator: new Generator(12));
        var train = single.Forward(x).Output;
        single.Eval();
        Close(single.Forward(x).Output, train, "one layer, dropout ignored");

        // A seeded generator makes the masks reproducible.
        var two = new Gru(3, 4, numLayers: 2, dropout: 0.5, generator: new Generator(13));
        two.Generator = new Generator(14);
        var a = two.Forward(x).Output;
        two.Generator = new Generator(14);
        Close(a, two.Forward(x).Output, "seeded dropout");
        two.Eval();
        Assert.NotEqual(a.ToArray<float>(), two.Forward(x).Output.ToArray<float>());
    }

    [Fact]
    public void CellsSteppedOverASequenceMatchTheSequenceModules()
    {
        var x = Tensor.Randn([4, 2, 3], new Generator(15));
        var lstm = new Lstm(3, 5, generator: new Generator(16));
        var cell = new LstmCell(3, 5);
        cell.LoadStateDict(lstm.StateDict().ToDictionary(kv => kv.Key[..^3], kv => kv.Value)); // weight_ih_l0 -> weight_ih
        Tensor? h = null, c = null;
        var steps = new List<Tensor>();
        for (int t = 0; t < 4; t++)
        {
            (h, c) = cell.Forward(x[t], h, c);
            steps.Add(h);
        }
        var seq = lstm.Forward(x);
        Close(seq.Output, Tensor.Stack(steps), "LSTMCell loop");
        Close(seq.CellState![0], c!, "LSTMCell c");

        var gru = new Gru(3, 5, generator: new Generator(17));
        var gruCell = new GruCell(3, 5);
        gruCell.LoadStateDict(gru.StateDict().ToDictionary(kv => kv.Key[..^3], kv => kv.Value));
        var rnn = new Rnn(3, 5, nonlinearity: RnnNonlinearity.Relu, generator: new Generator(18));
        var rnnCell = new RnnCell(3, 5, nonlinearity: RnnNonlinearity.Relu);
        rnnCell.LoadStateDict(rnn.StateDict().ToDictionary(kv => kv.Key[..^3], kv => kv.Value));
        Tensor? hg = null, hr = null;
        for (int t = 0; t < 4; t++)
        {
            hg = gruCell.Forward(x[t], hg);
            hr = rnnCell.Forward(x[t], hr);
        }
        Close(gru.Forward(x).HiddenState[0], hg!, "GRUCell loop");
        Close(rnn.Forward(x).HiddenState[0], hr!, "RNNCell loop");
    }

    [Fact]
    public void UnbatchedInputMatchesABatchOfOne()
    {
        var lstm = new Lstm(3, 4, numLayers: 2, bidirectional: true, generator: new Generator(19));
        var x = Tensor.Randn([5, 3], new Generator(20));
        var h0 = Tensor.Randn([4, 4], new Generator(21));
        var one = lstm.Forward(x, h0, h0);
        var batched = lstm.Forward(x.Unsqueeze(1), h0.Unsqueeze(1), h0.Unsqueeze(1));
        Assert.Equal([5, 8], one.Output.ShapeArray);
        Assert.Equal([4, 4], one.HiddenState.ShapeArray);
        Close(batched.Output.Squeeze(1), one.Output, "unbatched output");
        Close(batched.CellState!.Squeeze(1), one.CellState!, "unbatched c_n");
    }

    [Fact]
    public void HooksFireAndSummaryShowsAllOutputs()
    {
        var lstm = new Lstm(3, 4, batchFirst: true, generator: new Generator(22));
        int calls = 0;
        RecurrentOutput? seen = null;
        using (lstm.RegisterForwardHook((_, _, output) => { calls++; seen = output; }))
        {
            var r1 = lstm.Call(Tensor.Zeros(2, 5, 3));
            var r2 = lstm.Call(Tensor.Zeros(2, 5, 3), Tensor.Zeros(1, 2, 4), Tensor.Zeros(1, 2, 4), [5, 3]);
            Assert.Equal(2, calls);
            Assert.Same(r2, seen);
            Assert.NotSame(r1, r2);
        }
        var summary = lstm.Summary([2, 5, 3]);
        Assert.Contains("[2, 5, 4], [1, 2, 4], [1, 2, 4]", summary, StringComparison.Ordinal);
        Assert.Contains("Total params: 144", summary, StringComparison.Ordinal); // 4*4*3 + 4*4*4 + 2*16

        var cell = new GruCell(3, 4);
        int cellCalls = 0;
        using (cell.RegisterForwardHook((_, _, _) => cellCalls++))
        {
            cell.Call(Tensor.Zeros(2, 3), null);
            cell.Call(Tensor.Zeros(2, 3));
        }
        Assert.Equal(2, cellCalls);
    }

    [Fact]
    public void Float64ModulesRunAndDefaultStatesAreZeros()
    {
        var gru = new Gru(2, 3, dtype: DType.Float64, generator: new Generator(23));
        var x = Tensor.Randn([4, 1, 2], new Generator(24), DType.Float64);
        var implicitZeros = gru.Forward(x);
        var explicitZeros = gru.Forward(x, Tensor.Zeros([1, 1, 3], DType.Float64));
        Assert.Equal(DType.Float64, implicitZeros.Output.DType);
        Close(explicitZeros.Output, implicitZeros.Output, "zero state");
    }

    [Fact]
    public void BadArgumentsNameTheProblem()
    {
        var lstm = new Lstm(3, 4, numLayers: 2, batchFirst: true);
        var x = Tensor.Zeros(2, 5, 3);
        Assert.Contains("input_size", Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(2, 5, 4))).Message, StringComparison.Ordinal);
        Assert.Contains("[2, 2, 4]", Assert.Throws<ArgumentException>(() => lstm.Forward(x, Tensor.Zeros(1, 2, 4))).Message, StringComparison.Ordinal);
        Assert.Contains("3 lengths given for a batch of 2", Assert.Throws<ArgumentException>(() => lstm.Forward(x, lengths: [1, 2, 3])).Message, StringComparison.Ordinal);
        Assert.Contains("outside [0, 5]", Assert.Throws<ArgumentException>(() => lstm.Forward(x, lengths: [6, 2])).Message, StringComparison.Ordinal);
        Assert.Contains("got [1, 2, 5, 3]", Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(1, 2, 5, 3))).Message, StringComparison.Ordinal);
        Assert.Contains("c0 is only used by LSTM", Assert.Throws<ArgumentException>(() => new Gru(3, 4).Forward(Tensor.Zeros(5, 2, 3), null, Tensor.Zeros(1, 2, 4))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn(3, 4, nonlinearity: (RnnNonlinearity)7));
        Assert.Throws<ArgumentException>(() => new Lstm(3, 0));
        Assert.Throws<ArgumentException>(() => new Gru(3, 4, numLayers: 0));
        Assert.Throws<ArgumentException>(() => new Gru(3, 4, dropout: 1.5));
        Assert.Throws<ArgumentException>(() => new Lstm(3, 4).LayerWeights(0, reverse: true));
        Assert.Contains("hx", Assert.Throws<ArgumentException>(() => new RnnCell(3, 4).Forward(Tensor.Zeros(2, 3), Tensor.Zeros(4))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("rnn")]
    public void ABatchSplitIntoPartsGivesEachExampleWhatItGetsAloneWhateverTheThreadCount(string cell)
    {
        // 37 examples with hidden size 160: each step runs as three parts of up to 16 rows on the worker pool (the
        // kernel's row split); lengths 1-4 make inactive rows in every part. Each example's outputs and input
        // gradient must be what it gets alone, and one thread must give the same bits as two.
        RecurrentBase Make() => cell switch
        {
            "lstm" => new Lstm(5, 160, batchFirst: true, generator: new Generator(31)),
            "gru" => new Gru(5, 160, batchFirst: true, generator: new Generator(31)),
            _ => new Rnn(5, 160, batchFirst: true, generator: new Generator(31)),
        };
        var x = Tensor.Randn([37, 4, 5], new Generator(32));
        int[] lengths = [.. Enumerable.Range(0, 37).Select(i => i % 4 + 1)];
        (float[] Output, float[] XGrad, float[] WGrad) Run(RecurrentBase m, Tensor input, int[]? lens)
        {
            var xi = input.Detach().Contiguous();
            xi.RequiresGrad = true;
            var output = m.Forward(xi, lengths: lens).Output;
            (output * output).Sum().Backward();
            var wGrad = m.Parameters().SelectMany(p => p.Grad!.ToArray<float>()).ToArray();
            return (output.ToArray<float>(), xi.Grad!.ToArray<float>(), wGrad);
        }

        int saved = WorkerPool.Threads;
        try
        {
            WorkerPool.Threads = 2;
            var two = Run(Make(), x, lengths);
            WorkerPool.Threads = 1;
            var one = Run(Make(), x, lengths);
            Assert.Equal(one.Output, two.Output);
            Assert.Equal(one.XGrad, two.XGrad);
            Assert.Equal(one.WGrad, two.WGrad);

            var batch = Tensor.From(two.Output, 37, 4, 160);
            var batchGrad = Tensor.From(two.XGrad, 37, 4, 5);
            for (int i = 0; i < 37; i++)
            {
                int len = lengths[i];
                var alone = Run(Make(), x.Narrow(0, i, 1).Narrow(1, 0, len).Contiguous(), null);
                Close(Tensor.From(alone.Output, 1, len, 160), batch.Narrow(0, i, 1).Narrow(1, 0, len), $"example {i}'s outputs", 1e-5);
                Close(Tensor.From(alone.XGrad, 1, len, 5), batchGrad.Narrow(0, i, 1).Narrow(1, 0, len), $"example {i}'s input gradient", 1e-5);
                Assert.All(batch.Narrow(0, i, 1).Narrow(1, len, 4 - len).ToArray<float>(), v => Assert.Equal(0f, v));
            }
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }
}
