using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

public sealed class InitTests
{
    private static (double Min, double Max, double Mean, double Std) Stats(Tensor t)
    {
        var v = t.ToDoubleArray();
        double mean = v.Average();
        return (v.Min(), v.Max(), mean, Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length));
    }

    [Fact]
    public void LinearDefaultInitMatchesPyTorchBounds()
    {
        var lin = new Linear(784, 256, generator: new Generator(7));
        double bound = 1 / Math.Sqrt(784);                         // kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in))
        var w = Stats(lin.Weight);
        Assert.True(w.Min >= -bound && w.Max < bound);
        Assert.True(w.Max > 0.99 * bound && w.Min < -0.99 * bound);   // fills the whole range
        Assert.True(Math.Abs(w.Mean) < 0.01 * bound);
        Assert.InRange(w.Std, 0.98 * bound / Math.Sqrt(3), 1.02 * bound / Math.Sqrt(3));
        var b = Stats(lin.Bias!);
        Assert.True(b.Min >= -bound && b.Max < bound);
        Assert.True(lin.Weight.IsLeaf && lin.Weight.RequiresGrad);
    }

    [Fact]
    public void SeededGeneratorsGiveIdenticalWeights()
    {
        var a = new Linear(5, 4, generator: new Generator(11));
        var b = new Linear(5, 4, generator: new Generator(11));
        var c = new Linear(5, 4, generator: new Generator(12));
        Assert.Equal(a.Weight.ToArray<float>(), b.Weight.ToArray<float>());
        Assert.NotEqual(a.Weight.ToArray<float>(), c.Weight.ToArray<float>());
    }

    [Theory]
    [InlineData(Nonlinearity.Linear, null, 1.0)]
    [InlineData(Nonlinearity.Conv2d, null, 1.0)]
    [InlineData(Nonlinearity.Sigmoid, null, 1.0)]
    [InlineData(Nonlinearity.Tanh, null, 5.0 / 3)]
    [InlineData(Nonlinearity.Relu, null, 1.4142135623730951)]
    [InlineData(Nonlinearity.LeakyRelu, null, 1.4141428569978354)]   // sqrt(2 / (1 + 0.01^2))
    [InlineData(Nonlinearity.LeakyRelu, 0.2, 1.3867504905630728)]
    [InlineData(Nonlinearity.LeakyRelu, 0.0, 1.4142135623730951)]
    [InlineData(Nonlinearity.Selu, null, 0.75)]
    public void CalculateGainMatchesTorch(Nonlinearity nonlinearity, double? param, double expected) =>
        Assert.Equal(expected, Init.CalculateGain(nonlinearity, param), 12);

    [Fact]
    public void CalculateGainRejectsUnknownNames() =>
        Assert.Contains("unsupported nonlinearity", Assert.Throws<ArgumentOutOfRangeException>(() => Init.CalculateGain((Nonlinearity)99)).Message);

    [Fact]
    public void FansFollowTorchIncludingConvWeights()
    {
        Assert.Equal((784, 256), Init.CalculateFanInAndFanOut(Tensor.Zeros(256, 784)));
        Assert.Equal((3 * 5 * 5, 16 * 5 * 5), Init.CalculateFanInAndFanOut(Tensor.Zeros(16, 3, 5, 5)));
        Assert.Equal((2 * 3, 4 * 3), Init.CalculateFanInAndFanOut(Tensor.Zeros(4, 2, 3)));
        Assert.Throws<ArgumentException>(() => Init.CalculateFanInAndFanOut(Tensor.Zeros(5)));
    }

    [Fact]
    public void XavierAndKaimingHaveTheDocumentedSpread()
    {
        var g = new Generator(5);
        var t = Tensor.Zeros(200, 300);
        double xb = Math.Sqrt(6.0 / 500);
        var xu = Stats(Init.XavierUniform(t, generator: g));
        Assert.True(xu.Min >= -xb && xu.Max < xb && xu.Max > 0.99 * xb);
        Assert.InRange(Stats(Init.XavierNormal(t, gain: 2, generator: g)).Std, 0.98 * 2 * Math.Sqrt(2.0 / 500), 1.02 * 2 * Math.Sqrt(2.0 / 500));
        double kb = Math.Sqrt(3.0) * Math.Sqrt(2.0) / Math.Sqrt(300);       // relu gain, fan_in
        var ku = Stats(Init.KaimingUniform(t, nonlinearity: Nonlinearity.Relu, generator: g));
        Assert.True(ku.Min >= -kb && ku.Max < kb && ku.Max > 0.99 * kb);
        Assert.InRange(Stats(Init.KaimingNormal(t, mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu, generator: g)).Std,
            0.98 * Math.Sqrt(2.0 / 200), 1.02 * Math.Sqrt(2.0 / 200));
        var conv = Tensor.Zeros(8, 4, 3, 3);
        Assert.InRange(Stats(Init.KaimingNormal(conv, generator: g)).Std, 0.9 * Math.Sqrt(2.0 / 36), 1.1 * Math.Sqrt(2.0 / 36));
    }

    [Fact]
    public void FillsRunOnParametersWithoutRecordingAndKeepIdentity()
    {
        var lin = new Linear(3, 2);
        var w = lin.Weight;
        Init.Constant(w, 0.5);
        Assert.Same(w, lin.Weight);
        Assert.All(w.ToArray<float>(), v => Assert.Equal(0.5f, v));
        Assert.True(w.IsLeaf && w.RequiresGrad);
        Init.Zeros(lin.Bias!);
        Init.Ones(w);
        Assert.All(w.ToArray<float>(), v => Assert.Equal(1f, v));
        var n = Stats(Init.Normal(Tensor.Zeros(10000), 3, 2, new Generator(1)));
        Assert.InRange(n.Mean, 2.9, 3.1);
        Assert.InRange(n.Std, 1.9, 2.1);
        var u = Stats(Init.Uniform(Tensor.Zeros([1000], DType.Float64), -1, 3, new Generator(1)));
        Assert.True(u.Min >= -1 && u.Max < 3);
        Assert.Throws<ArgumentException>(() => Init.Uniform(Tensor.Zeros([2], DType.Int64)));
        // A non-contiguous view is filled in place too.
        var m = Tensor.Zeros(3, 4);
        Init.Constant(m.T(), 2);
        Assert.All(m.ToArray<float>(), v => Assert.Equal(2f, v));
    }
}
