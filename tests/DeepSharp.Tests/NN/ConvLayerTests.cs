using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Behaviour of the convolution, pooling, normalisation and channel-dropout layers beyond the PyTorch parity
/// cases: running statistics over several batches, the cumulative average, train/eval switching, argument
/// checks and their messages, initialisation bounds, PyTorch's printing, and the seeded channel dropout.
/// </summary>
public sealed class ConvLayerTests
{
    // ---- batch norm ----

    [Fact]
    public void BatchNormRunningStatisticsFollowMomentum()
    {
        var bn = new BatchNorm2d(3);
        var batches = Enumerable.Range(0, 3).Select(i => Tensor.Randn([4, 3, 2, 5], new Generator((ulong)i + 1)).Mul(i + 1).Add(i)).ToArray();
        var mean = new double[3];
        var variance = Enumerable.Repeat(1.0, 3).ToArray();
        foreach (var x in batches)
        {
            bn.Call(x);
            var (m, v) = ChannelStats(x);
            for (int c = 0; c < 3; c++)
            {
                mean[c] = 0.9 * mean[c] + 0.1 * m[c];
                variance[c] = 0.9 * variance[c] + 0.1 * v[c];
            }
        }
        AssertClose(mean, bn.RunningMean!.ToDoubleArray());
        AssertClose(variance, bn.RunningVar!.ToDoubleArray());
        Assert.Equal(DType.Int64, bn.NumBatchesTracked!.DType);
        Assert.Equal(0, bn.NumBatchesTracked.Rank);
        Assert.Equal(3L, bn.NumBatchesTracked.Item<long>());
    }

    [Fact]
    public void BatchNormWithoutMomentumKeepsTheCumulativeAverage()
    {
        // momentum = null: the running statistics are the plain average over all batches seen (factor 1/n).
        var bn = new BatchNorm1d(4, momentum: null);
        var batches = Enumerable.Range(0, 5).Select(i => Tensor.Randn([6, 4], new Generator((ulong)i + 10)).Add(i * 0.5)).ToArray();
        foreach (var x in batches) bn.Call(x);
        var stats = batches.Select(ChannelStats).ToArray();
        for (int c = 0; c < 4; c++)
        {
            Assert.Equal(stats.Average(s => s.Mean[c]), bn.RunningMean!.ToDoubleArray()[c], 5);
            Assert.Equal(stats.Average(s => s.UnbiasedVar[c]), bn.RunningVar!.ToDoubleArray()[c], 5);
        }
        Assert.Equal(5L, bn.NumBatchesTracked!.Item<long>());
        Assert.Contains("momentum=None", bn.ToString());
    }

    [Fact]
    public void BatchNormEvalUsesRunningStatisticsAndLeavesThemAlone()
    {
        var bn = new BatchNorm2d(2);
        using (DeepSharp.Autograd.NoGrad())
        {
            bn.RunningMean!.CopyFrom(Tensor.From([1.0f, -2.0f]));
            bn.RunningVar!.CopyFrom(Tensor.From([4.0f, 0.25f]));
            bn.Weight!.CopyFrom(Tensor.From([2.0f, 1.0f]));
            bn.Bias!.CopyFrom(Tensor.From([0.5f, 0.0f]));
        }
        bn.Eval();
        var x = Tensor.Randn([3, 2, 2, 2], new Generator(4));
        var y = bn.Call(x).ToDoubleArray();
        var xs = x.ToDoubleArray();
        for (int i = 0; i < xs.Length; i++)
        {
            int c = i / 4 % 2;
            double expected = c == 0 ? (xs[i] - 1) / Math.Sqrt(4 + 1e-5) * 2 + 0.5 : (xs[i] + 2) / Math.Sqrt(0.25 + 1e-5);
            Assert.Equal(expected, y[i], 5);
        }
        Assert.Equal([1.0, -2.0], bn.RunningMean!.ToDoubleArray());
        Assert.Equal(0L, bn.NumBatchesTracked!.Item<long>());
        // Back in training mode the batch's own statistics normalise: mean 0, biased variance 1 before the affine.
        bn.Train();
        using var _ = DeepSharp.Autograd.NoGrad();
        Init.Ones(bn.Weight!);
        Init.Zeros(bn.Bias!);
        var (m, v) = ChannelStats(bn.Call(x), biased: true);
        AssertClose([0, 0], m, 1e-6);
        AssertClose([1, 1], v, 1e-4);
    }

    [Fact]
    public void BatchNormStateDictMatchesPyTorch()
    {
        var bn = new BatchNorm2d(5);
        Assert.Equal(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"], bn.StateDict().Keys.ToArray());
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name).ToArray());
        // Counters stay int64 when the floats are converted, and load from a state dict like the rest.
        bn.To(DType.Float64);
        Assert.Equal(DType.Float64, bn.RunningMean!.DType);
        Assert.Equal(DType.Int64, bn.NumBatchesTracked!.DType);
        var other = new BatchNorm2d(5);
        other.Call(Tensor.Randn([2, 5, 3, 3]));
        other.Call(Tensor.Randn([2, 5, 3, 3]));
        bn.LoadStateDict(other.StateDict());
        Assert.Equal(2L, bn.NumBatchesTracked.Item<long>());
        Assert.Equal(other.RunningVar!.ToDoubleArray().Select(v => (double)(float)v), bn.RunningVar!.ToDoubleArray().Select(v => (double)(float)v));

        var plain = new BatchNorm2d(3, affine: false, trackRunningStats: false);
        Assert.Empty(plain.StateDict());
        Assert.Empty(plain.Parameters());
        Assert.Equal("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", plain.ToString());
        // Without running statistics eval mode still normalises with the batch's statistics.
        plain.Eval();
        var (m, _) = ChannelStats(plain.Call(Tensor.Randn([4, 3, 2, 2]).Add(3)));
        AssertClose([0, 0, 0], m, 1e-5);
    }

    [Fact]
    public void BatchNormChecksItsInput()
    {
        var ex = Assert.Throws<ArgumentException>(() => new BatchNorm2d(3).Call(Tensor.Zeros(2, 3, 4)));
        Assert.Contains("BatchNorm2d: expected 4D input (got 3D input", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new BatchNorm1d(3).Call(Tensor.Zeros(2, 3, 4, 4)));
        Assert.Contains("BatchNorm1d: expected 2D or 3D input (got 4D input", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new BatchNorm2d(3).Call(Tensor.Zeros(2, 4, 2, 2)));
        Assert.Contains("expected 3 channels in dim 1 of the input, got [2, 4, 2, 2]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new BatchNorm1d(3).Call(Tensor.Zeros(1, 3)));
        Assert.Contains("expected more than 1 value per channel when training", ex.Message);
        var single = new BatchNorm1d(3);
        single.Eval();
        Assert.Equal([1, 3], single.Call(Tensor.Zeros(1, 3)).Shape.ToArray()); // one sample is fine with running statistics
    }

    // ---- channel dropout ----

    [Fact]
    public void Dropout2dZeroesWholeChannelsAndScalesTheRest()
    {
        var d = new Dropout2d(0.5, new Generator(21));
        var x = Tensor.Ones([16, 32, 3, 4], DType.Float32, requiresGrad: true);
        var y = d.Call(x);
        var values = y.ToArray<float>();
        int dropped = 0;
        for (int plane = 0; plane < 16 * 32; plane++)
        {
            var channel = values.AsSpan(plane * 12, 12);
            Assert.True(channel.IndexOfAnyExcept(channel[0]) < 0, $"channel {plane} is not uniform");
            Assert.True(channel[0] is 0f or 2f, $"channel {plane} has value {channel[0]}");
            if (channel[0] == 0) dropped++;
        }
        Assert.InRange(dropped, 16 * 32 * 0.4, 16 * 32 * 0.6);
        // The gradient goes through the same mask.
        y.Sum().Backward();
        Assert.Equal(values, x.Grad!.ToArray<float>());
    }

    [Fact]
    public void Dropout2dIsDeterministicWithASeedAndTheIdentityInEval()
    {
        var x = Tensor.Randn([4, 8, 5, 5], new Generator(3));
        var a = new Dropout2d(0.3, new Generator(99)).Call(x).ToArray<float>();
        var b = new Dropout2d(0.3, new Generator(99)).Call(x).ToArray<float>();
        var c = new Dropout2d(0.3, new Generator(100)).Call(x).ToArray<float>();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var d = new Dropout2d(0.3);
        d.Eval();
        Assert.Same(x, d.Call(x));
        // Unbatched [C, H, W]: one draw per channel.
        var u = new Dropout2d(0.5, new Generator(5)).Call(Tensor.Ones(64, 2, 2)).ToArray<float>();
        for (int ch = 0; ch < 64; ch++) Assert.True(u.AsSpan(ch * 4, 4).IndexOfAnyExcept(u[ch * 4]) < 0);
        Assert.All(new Dropout2d(1.0).Call(x).ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentException>(() => new Dropout2d(1.5));
        Assert.Throws<ArgumentException>(() => new Dropout2d().Call(Tensor.Ones(2, 3)));
    }

    [Fact]
    public void Dropout2dPassesGradCheckWithAFixedMask()
    {
        var g = new Generator(8);
        var d = new Dropout2d(0.4, g);
        var x = Tensor.Randn([2, 5, 3, 3], new Generator(9), DType.Float64, requiresGrad: true);
        // Reseeding before every call replays the same mask, so finite differences see one function.
        Assert.True(DeepSharp.Autograd.GradCheck(_ => { g.ManualSeed(1); return d.Call(x); }, [x]));
    }

    // ---- convolutions ----

    [Theory]
    [InlineData(3, 1)]
    [InlineData(4, 1)]
    [InlineData(5, 2)]
    [InlineData(2, 3)]
    public void SamePaddingKeepsTheSpatialSize(int kernel, int dilation)
    {
        var conv = new Conv2d(2, 3, kernel, padding: ConvPadding.Same, dilation: dilation);
        Assert.Equal([2, 3, 7, 6], conv.Call(Tensor.Randn([2, 2, 7, 6])).Shape.ToArray());
        var conv1 = new Conv1d(2, 3, kernel, padding: ConvPadding.Same, dilation: dilation);
        Assert.Equal([2, 3, 9], conv1.Call(Tensor.Randn([2, 2, 9])).Shape.ToArray());
        Assert.Equal([3, 9], conv1.Call(Tensor.Randn([2, 9])).Shape.ToArray());
    }

    [Fact]
    public void ConvolutionArgumentsAreCheckedWithClearMessages()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Conv2d(3, 4, 3, stride: 2, padding: ConvPadding.Same));
        Assert.Contains("padding='same' is not supported for strided convolutions", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Conv2d(3, 4, 3, groups: 2));
        Assert.Contains("in_channels (3) must be divisible by groups (2)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Conv2d(4, 6, 3, groups: 4));
        Assert.Contains("out_channels (6) must be divisible by groups (4)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new ConvTranspose2d(2, 2, 3, stride: 2, outputPadding: 2));
        Assert.Contains("output padding (2, 2) must be non-negative and smaller than either stride (2, 2) or dilation (1, 1)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Conv2d(3, 4, 3).Call(Tensor.Zeros(2, 5, 8, 8)));
        Assert.Contains("expects 3 input channels", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Conv2d(3, 4, 3).Call(Tensor.Zeros(8, 8)));
        Assert.Contains("conv2d: expected a 3-D (unbatched) or 4-D (batched) input", ex.Message);
        Assert.Throws<ArgumentException>(() => new Conv1d(2, 2, 3, padding: (1, 2)));
    }

    /// <summary>
    /// One check per argument for the whole family: the layer (at construction), the functional form and the op
    /// give the same message, each under the name the user called (Conv1d's sizes as the single values given).
    /// </summary>
    [Fact]
    public void LayersFunctionalFormsAndOpsShareOneCheckPerArgument()
    {
        var x = Tensor.Zeros(1, 2, 6, 6);
        var w = Tensor.Zeros(3, 2, 3, 3);
        string Message(Func<object> a) => Assert.Throws<ArgumentException>(a).Message;

        Assert.Equal("Conv2d: stride (0, 1) and dilation (1, 1) must be positive", Message(() => new Conv2d(2, 3, 3, stride: (0, 1))));
        Assert.Equal("conv2d: stride (0, 1) and dilation (1, 1) must be positive", Message(() => Functional.Conv2d(x, w, stride: (0, 1))));
        Assert.Equal("conv2d: stride (0, 1) and dilation (1, 1) must be positive", Message(() => Tensor.Conv2d(x, w, stride: (0, 1))));
        Assert.Equal("Conv1d: stride 0 and dilation 1 must be positive", Message(() => new Conv1d(2, 3, 3, stride: 0)));
        Assert.Equal("conv1d: stride 1 and dilation 0 must be positive", Message(() => Tensor.Conv1d(Tensor.Zeros(1, 2, 6), Tensor.Zeros(3, 2, 3), dilation: 0)));
        Assert.Equal("Conv1d: padding must be a single int, ConvPadding.Same or ConvPadding.Valid, got (1, 2)", Message(() => new Conv1d(2, 2, 3, padding: (1, 2))));
        Assert.Equal("conv1d: padding must be a single int, ConvPadding.Same or ConvPadding.Valid, got (1, 2)",
            Message(() => Functional.Conv1d(Tensor.Zeros(1, 2, 6), Tensor.Zeros(3, 2, 3), padding: (1, 2))));
        Assert.Equal("ConvTranspose2d: padding (-1, 0) must be non-negative", Message(() => new ConvTranspose2d(2, 3, 3, padding: (-1, 0))));
        Assert.Equal("conv2d: padding (0, -1) must be non-negative", Message(() => Tensor.Conv2d(x, w, padding: (0, -1))));
        Assert.Equal("conv_transpose2d: groups must be a positive integer, got 0", Message(() => Tensor.ConvTranspose2d(x, Tensor.Zeros(2, 3, 3, 3), groups: 0)));
        Assert.Equal("Conv2d: groups must be a positive integer, got 0", Message(() => new Conv2d(2, 3, 3, groups: 0)));
        Assert.Equal("conv_transpose2d: output padding (2, 2) must be non-negative and smaller than either stride (2, 2) or dilation (1, 1)",
            Message(() => Functional.ConvTranspose2d(x, Tensor.Zeros(2, 3, 3, 3), stride: 2, outputPadding: 2)));
        Assert.Equal("conv2d: expected a 4-D weight [O, C/groups, kh, kw], got [3, 2, 3]", Message(() => Functional.Conv2d(x, Tensor.Zeros(3, 2, 3))));
        Assert.Equal("conv2d: expected a 4-D weight [O, C/groups, kh, kw], got [3, 2, 3]", Message(() => Tensor.Conv2d(x, Tensor.Zeros(3, 2, 3))));
        Assert.Equal("conv1d: expected a 3-D weight [O, C/groups, k], got [3, 2]", Message(() => Functional.Conv1d(Tensor.Zeros(1, 2, 6), Tensor.Zeros(3, 2))));

        // One output-size formula: the layer's requested-size forward and the op agree at every output padding.
        var up = new ConvTranspose2d(2, 3, 3, stride: 3, padding: 1, dilation: 2);
        int min = up.Call(x).Size(2);
        for (int extra = 0; extra < 3; extra++)
            Assert.Equal([1, 3, min + extra, min + extra], up.Forward(x, (min + extra, min + extra)).ShapeArray);
    }

    [Fact]
    public void ConvolutionWeightsHavePyTorchShapesAndDefaultInit()
    {
        var conv = new Conv2d(6, 8, (3, 5), groups: 2, generator: new Generator(1));
        Assert.Equal([8, 3, 3, 5], conv.Weight.Shape.ToArray());
        double bound = 1 / Math.Sqrt(3 * 3 * 5); // fan_in = in/groups * kh * kw
        AssertWithin(conv.Weight, bound);
        AssertWithin(conv.Bias!, bound);
        Assert.Equal(["weight", "bias"], conv.StateDict().Keys.ToArray());

        var transposed = new ConvTranspose2d(4, 6, 3, groups: 2, generator: new Generator(2));
        Assert.Equal([4, 3, 3, 3], transposed.Weight.Shape.ToArray());
        AssertWithin(transposed.Weight, 1 / Math.Sqrt(3 * 9)); // PyTorch's fan_in of a transposed weight: size(1) * area
        Assert.Equal([1, 1, 3], new Conv1d(3, 1, 3).Call(Tensor.Zeros(1, 3, 5)).Shape.ToArray());
        var noBias = new Conv1d(4, 2, 3, groups: 2, bias: false);
        Assert.Equal([2, 2, 3], noBias.Weight.Shape.ToArray());
        Assert.Null(noBias.Bias);
        Assert.Equal(["weight"], noBias.StateDict().Keys.ToArray());

        static void AssertWithin(Tensor t, double b)
        {
            var v = t.ToDoubleArray();
            Assert.All(v, x => Assert.InRange(x, -b, b));
            Assert.True(v.Max() > b * 0.5 && v.Min() < -b * 0.5, "values do not spread over the bound");
        }
    }

    [Fact]
    public void ConvTransposeInvertsTheShapeOfAStridedConv()
    {
        var down = new Conv2d(3, 5, 3, stride: 2, padding: 1);
        var up = new ConvTranspose2d(5, 3, 3, stride: 2, padding: 1);
        var x = Tensor.Randn([2, 3, 8, 7]);
        var h = down.Call(x);
        Assert.Equal([2, 5, 4, 4], h.Shape.ToArray());
        Assert.Equal([2, 3, 7, 7], up.Call(h).Shape.ToArray());
        // output_size picks output_padding so that the input size comes back exactly.
        var back = up.Forward(h, (8, 7));
        Assert.Equal([2, 3, 8, 7], back.Shape.ToArray());
        var explicitPadding = Functional.ConvTranspose2d(h, up.Weight, up.Bias, 2, 1, (1, 0));
        Assert.Equal(explicitPadding.ToArray<float>(), back.ToArray<float>());
        var ex = Assert.Throws<ArgumentException>(() => up.Forward(h, (10, 7)));
        Assert.Contains("valid sizes range from (7, 7) to (8, 8)", ex.Message);
    }

    [Fact]
    public void LayersPrintLikePyTorch()
    {
        Assert.Equal("Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))", new Conv2d(1, 6, 5, padding: 2).ToString());
        Assert.Equal("Conv2d(4, 8, kernel_size=(1, 3), stride=(2, 2), padding=(0, 1), dilation=(2, 2), groups=2, bias=False)",
            new Conv2d(4, 8, (1, 3), stride: 2, padding: (0, 1), dilation: 2, groups: 2, bias: false).ToString());
        Assert.Equal("Conv2d(2, 2, kernel_size=(4, 4), stride=(1, 1), padding=same)", new Conv2d(2, 2, 4, padding: ConvPadding.Same).ToString());
        Assert.Equal("Conv1d(3, 2, kernel_size=(3,), stride=(2,), padding=(1,))", new Conv1d(3, 2, 3, stride: 2, padding: 1).ToString());
        Assert.Equal("ConvTranspose2d(3, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))",
            new ConvTranspose2d(3, 2, 3, stride: 2, padding: 1, outputPadding: 1).ToString());
        Assert.Equal("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)", new MaxPool2d(2).ToString());
        Assert.Equal("MaxPool2d(kernel_size=(2, 3), stride=1, padding=1, dilation=1, ceil_mode=True)",
            new MaxPool2dWithIndices((2, 3), stride: 1, padding: 1, ceilMode: true).ToString());
        Assert.Equal("MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)", new MaxPool1d(3, 2, 1).ToString());
        Assert.Equal("AvgPool2d(kernel_size=3, stride=2, padding=1)", new AvgPool2d(3, 2, 1).ToString());
        Assert.Equal("AdaptiveAvgPool2d(output_size=(1, 2))", new AdaptiveAvgPool2d((1, 2)).ToString());
        Assert.Equal("AdaptiveAvgPool2d(output_size=1)", new AdaptiveAvgPool2d(1).ToString());
        Assert.Equal("AdaptiveMaxPool2d(output_size=(2, 3))", new AdaptiveMaxPool2dWithIndices((2, 3)).ToString());
        Assert.Equal("BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", new BatchNorm2d(64).ToString());
        Assert.Equal("LayerNorm((5,), eps=1e-05, elementwise_affine=True)", new LayerNorm(5).ToString());
        Assert.Equal("LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)", new LayerNorm([3, 4]).ToString());
        Assert.Equal("GroupNorm(2, 4, eps=1e-05, affine=True)", new GroupNorm(2, 4).ToString());
        Assert.Equal("LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)", new LocalResponseNorm(2).ToString());
        Assert.Equal("Dropout2d(p=0.25, inplace=False)", new Dropout2d(0.25).ToString());
    }

    // ---- pooling ----

    [Fact]
    public void MaxPoolWithIndicesReturnsFlatPlaneIndices()
    {
        var x = Tensor.From(new float[] { 1, 5, 2, 0, 3, 4, 9, 8, 7, 6, -1, -2, 0, 0, 1, 0 }, 1, 1, 4, 4);
        var (values, indices) = new MaxPool2dWithIndices(2).Call(x);
        Assert.Equal([5f, 9f, 7f, 1f], values.ToArray<float>());
        Assert.Equal([1L, 6L, 8L, 14L], indices.ToArray<long>());
        Assert.Equal(values.ToArray<float>(), new MaxPool2d(2).Call(x).ToArray<float>());
        var (v1, i1) = new MaxPool1dWithIndices(3, stride: 1).Call(Tensor.From(new float[] { 0, 3, 1, 2, 5 }, 1, 1, 5));
        Assert.Equal([3f, 3f, 5f], v1.ToArray<float>());
        Assert.Equal([1L, 1L, 4L], i1.ToArray<long>());
        var ex = Assert.Throws<ArgumentException>(() => new MaxPool2d(2, padding: 2));
        Assert.Contains("at most half of the kernel size", ex.Message);
    }

    // ---- layer, group and local response norm ----

    [Fact]
    public void LayerAndGroupNormCheckTheirShapes()
    {
        var ln = new LayerNorm([3, 4]);
        Assert.Equal(["weight", "bias"], ln.StateDict().Keys.ToArray());
        Assert.Equal([3, 4], ln.Weight!.Shape.ToArray());
        Assert.Empty(new LayerNorm(4, elementwiseAffine: false).StateDict());
        var ex = Assert.Throws<ArgumentException>(() => ln.Call(Tensor.Zeros(2, 4, 3)));
        Assert.Contains("does not end in the normalized shape [3, 4]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new GroupNorm(4, 6));
        Assert.Contains("num_channels (6) must be divisible by num_groups (4)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new GroupNorm(2, 6).Call(Tensor.Zeros(2, 4, 3)));
        Assert.Contains("expected an input [N, 6, *], got [2, 4, 3]", ex.Message);
        // Group norm with one channel per group normalises every channel of every sample on its own.
        var y = new GroupNorm(3, 3).Call(Tensor.Randn([2, 3, 4, 4]).Mul(5).Add(2)).Reshape(6, 16);
        AssertClose(new double[6], y.Mean(1).ToDoubleArray(), 1e-5);
    }

    [Fact]
    public void LocalResponseNormMatchesItsFormula()
    {
        // b_c = a_c / (k + alpha/n * sum over the clipped window [c - n/2, c + (n-1)/2] of a^2)^beta
        const int n = 4, channels = 6;
        const double alpha = 0.3, beta = 0.8, k = 1.5;
        var x = Tensor.Randn([2, channels, 3, 2], new Generator(6), DType.Float64);
        var y = new LocalResponseNorm(n, alpha, beta, k).Call(x).ToDoubleArray();
        var a = x.ToDoubleArray();
        for (int s = 0; s < 2; s++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < 6; p++)
                {
                    double sum = 0;
                    for (int j = Math.Max(0, c - n / 2); j <= Math.Min(channels - 1, c + (n - 1) / 2); j++)
                        sum += a[(s * channels + j) * 6 + p] * a[(s * channels + j) * 6 + p];
                    int i = (s * channels + c) * 6 + p;
                    Assert.Equal(a[i] / Math.Pow(k + alpha / n * sum, beta), y[i], 12);
                }
        Assert.Throws<ArgumentException>(() => new LocalResponseNorm(3).Call(Tensor.Zeros(2, 3)));
    }

    // ---- initialisation ----

    [Fact]
    public void TruncNormalStaysInBoundsWithTheTruncatedMoments()
    {
        var t = Tensor.Zeros(200_000);
        InitExtra.TruncNormal(t, mean: 1, std: 2, a: -1, b: 5, generator: new Generator(4));
        var v = t.ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -1, 5));
        // N(1, 4) truncated to [-1, 5] = standard normal on [-1, 2]: mean 1 + 2 (phi(-1) - phi(2)) / Z, Z = Phi(2) - Phi(-1).
        double phiA = Math.Exp(-0.5) / Math.Sqrt(2 * Math.PI), phiB = Math.Exp(-2) / Math.Sqrt(2 * Math.PI), z = 0.97724987 - 0.15865525;
        Assert.Equal(1 + 2 * (phiA - phiB) / z, v.Average(), 2);
        // Narrow bounds (P(inside) < 1/2) take the inverse-CDF path: standard normal on [0.5, 3].
        InitExtra.TruncNormal(t, mean: 0, std: 1, a: 0.5, b: 3, generator: new Generator(5));
        v = t.ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, 0.5, 3));
        double phi05 = Math.Exp(-0.125) / Math.Sqrt(2 * Math.PI), phi3 = Math.Exp(-4.5) / Math.Sqrt(2 * Math.PI);
        Assert.Equal((phi05 - phi3) / (0.99865010 - 0.69146246), v.Average(), 2);
        foreach (double y in new[] { -0.999999, -0.9, -0.3, 0, 1e-9, 0.5, 0.99, 0.9999999 })
            Assert.Equal(y, DeepSharp.Kernels.SpecialFunctions.Erf(InitExtra.ErfInv(y)), 12);
    }

    private static (double[] Mean, double[] UnbiasedVar) ChannelStats(Tensor x) => ChannelStats(x, biased: false);

    private static (double[] Mean, double[] Var) ChannelStats(Tensor x, bool biased)
    {
        var v = x.ToDoubleArray();
        int n = x.Size(0), c = x.Size(1), s = x.Numel / (n * c);
        var mean = new double[c];
        var variance = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            var values = Enumerable.Range(0, n).SelectMany(i => v.Skip((i * c + ch) * s).Take(s)).ToArray();
            mean[ch] = values.Average();
            variance[ch] = values.Sum(a => (a - mean[ch]) * (a - mean[ch])) / (values.Length - (biased ? 0 : 1));
        }
        return (mean, variance);
    }

    private static void AssertClose(double[] expected, double[] actual, double tol = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} != {expected[i]}");
    }
}
