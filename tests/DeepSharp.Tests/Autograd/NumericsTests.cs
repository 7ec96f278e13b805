namespace DeepSharp.Tests.Autograd;

// Regressions (issue 11): numerics that differed from PyTorch 1.13. Expected values are torch 1.13's, noted next to
// each case as the Python expression that produced them.
public sealed class NumericsTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StdOfAConstantHasZeroGradient(bool unbiased)
    {
        // x = torch.full((4,), 3.0, requires_grad=True); x.std(unbiased=...).backward() -> std 0, x.grad [0, 0, 0, 0]
        var x = Tensor.Full([4], 3.0).SetRequiresGrad();
        var std = x.Std(unbiased: unbiased);
        std.Backward();
        Assert.Equal(0.0, std.ToDouble());
        Assert.Equal([0.0, 0, 0, 0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void StdAlongADimHasZeroGradientOnConstantRowsOnly()
    {
        // x = torch.tensor([[3., 3, 3], [1, 2, 4]], requires_grad=True); x.std(dim=1, unbiased=False).sum().backward()
        // -> x.grad [[0, 0, 0], [-0.3563, -0.0891, 0.4454]]
        var x = Tensor.From(new float[] { 3, 3, 3, 1, 2, 4 }, 2, 3).SetRequiresGrad();
        x.Std([1], unbiased: false).Sum().Backward();
        var g = x.Grad!.ToDoubleArray();
        Assert.Equal([0.0, 0, 0], g[..3]);
        Assert.Equal(-0.3563, g[3], 4);
        Assert.Equal(-0.0891, g[4], 4);
        Assert.Equal(0.4454, g[5], 4);
    }

    [Fact]
    public void StdKeepsItsGradientOnOrdinaryInputs()
    {
        var x = Tensor.Randn([3, 4], new Generator(3), DType.Float64).SetRequiresGrad();
        Assert.True(DeepSharp.Autograd.GradCheck(t => t[0].Std([1], unbiased: true, keepDim: true), [x]));
        Assert.True(DeepSharp.Autograd.GradCheck(t => t[0].Std(), [x]));
    }

    [Fact]
    public void MaxOfATensorWithNaNSendsTheGradientToTheNaN()
    {
        // x = torch.tensor([1., nan, 3, 2], requires_grad=True); x.max().backward() -> nan, x.grad [0, 1, 0, 0]
        var x = Tensor.From(new float[] { 1, float.NaN, 3, 2 }).SetRequiresGrad();
        var max = x.Max();
        max.Backward();
        Assert.True(double.IsNaN(max.ToDouble()));
        Assert.Equal([0.0, 1, 0, 0], x.Grad!.ToDoubleArray());

        // Two NaNs share it, as ties do: [0, 0.5, 0, 0.5]; min the same.
        var y = Tensor.From(new float[] { 1, float.NaN, 3, float.NaN }).SetRequiresGrad();
        y.Max().Backward();
        Assert.Equal([0.0, 0.5, 0, 0.5], y.Grad!.ToDoubleArray());
        var z = Tensor.From(new float[] { 1, float.NaN, 3, 2 }).SetRequiresGrad();
        z.Min().Backward();
        Assert.Equal([0.0, 1, 0, 0], z.Grad!.ToDoubleArray());
    }

    [Fact]
    public void MaxAlongADimWithNaNPicksTheNaN()
    {
        // x = torch.tensor([[1., nan], [3, 2]], requires_grad=True); x.max(dim=1)[0].sum().backward() -> [[0, 1], [1, 0]]
        var x = Tensor.From(new float[] { 1, float.NaN, 3, 2 }, 2, 2).SetRequiresGrad();
        x.Max(1).Values.Sum().Backward();
        Assert.Equal([0.0, 1, 1, 0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void ReluPassesTheGradientAtNaN()
    {
        // x = torch.tensor([-1., nan, 2, 0], requires_grad=True); torch.relu(x).backward(torch.tensor([1., 2, 3, 4]))
        // -> relu [0, nan, 2, 0], x.grad [0, 2, 3, 0]
        var x = Tensor.From(new float[] { -1, float.NaN, 2, 0 }).SetRequiresGrad();
        var y = x.Relu();
        y.Backward(Tensor.From(new float[] { 1, 2, 3, 4 }));
        Assert.True(float.IsNaN(y.ToArray<float>()[1]));
        Assert.Equal([0.0, 2, 3, 0], x.Grad!.ToDoubleArray());

        // Long enough for the vector path, NaN in every lane position.
        var big = Tensor.From(Enumerable.Range(0, 67).Select(i => i % 3 == 0 ? float.NaN : i % 3 == 1 ? -1f : 1f).ToArray()).SetRequiresGrad();
        big.Relu().Sum().Backward();
        Assert.Equal(Enumerable.Range(0, 67).Select(i => i % 3 == 1 ? 0.0 : 1.0), big.Grad!.ToDoubleArray());
    }

    [Theory]
    [InlineData(10.0)]
    [InlineData(0.1)]
    [InlineData(-3.7)]
    public void BatchNormOfAConstantInputGivesTheBiasAndZeroWeightGradients(double value)
    {
        // F.batch_norm(torch.full((4, 3, 2, 2), c), None, None, w, b, training=True) is b up to rounding (torch itself
        // gives 0.10003662 for c = 10) and w.grad is exactly 0. Exact arithmetic: y = b, dL/dw = 0, dL/db = sum g.
        var x = Tensor.Full([4, 3, 2, 2], value).SetRequiresGrad();
        var w = Tensor.From(new float[] { 1, 2, 0.5f }).SetRequiresGrad();
        var b = Tensor.From(new float[] { 0.1f, -0.2f, 0.3f }).SetRequiresGrad();
        var y = Tensor.BatchNorm(x, null, null, w, b, training: true);
        var bias = b.ToArray<float>();
        var values = y.ToArray<float>();
        for (int i = 0; i < values.Length; i++) Assert.Equal(bias[i / 4 % 3], values[i]);
        var g = Tensor.Arange(48).Float().Reshape(4, 3, 2, 2) / 10 - 2;
        y.Backward(g);
        Assert.Equal([0.0, 0, 0], w.Grad!.ToDoubleArray());
        Assert.Equal(new[] { -0.8, 5.6, 12.0 }, b.Grad!.ToDoubleArray().Select(v => Math.Round(v, 5)));
        // dx = w invstd (g - mean g) with invstd = 1/sqrt(eps): finite, zero-mean per channel.
        Assert.All(x.Grad!.ToDoubleArray(), v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void BatchNormRunningStatisticsOfAConstantInputAreExact()
    {
        // rm, rv = zeros(3), ones(3); F.batch_norm(torch.full((4, 3, 2, 2), 0.1), rm, rv, training=True)
        // -> rm [0.010000000707805157] * 3 (0.1f * 0.1 in float32), rv [0.8999999761581421] * 3
        var rm = Tensor.Zeros(3);
        var rv = Tensor.Ones(3);
        Tensor.BatchNorm(Tensor.Full([4, 3, 2, 2], 0.1), rm, rv, null, null, training: true);
        Assert.All(rm.ToArray<float>(), v => Assert.Equal((float)0.010000000707805157, v));
        Assert.All(rv.ToArray<float>(), v => Assert.Equal(0.9f, v));
    }

    [Fact]
    public void BatchNormOnALargeOffsetMatchesADoubleReference()
    {
        // Values 1000 + small noise: the folded x * scale + shift form lost digits to cancellation here.
        var g = new Generator(9);
        var x = Tensor.Randn([8, 2, 3, 3], g) * 0.01 + 1000;
        var y = Tensor.BatchNorm(x, null, null, null, null, training: true).ToDoubleArray();
        var xd = x.To(DType.Float64);
        var mean = xd.Mean([0, 2, 3], keepDim: true);
        var reference = ((xd - mean) / (xd.Var([0, 2, 3], unbiased: false, keepDim: true) + 1e-5).Sqrt()).ToDoubleArray();
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - reference[i]) < 2e-3, $"element {i}: {y[i]} vs {reference[i]}");
    }
}
