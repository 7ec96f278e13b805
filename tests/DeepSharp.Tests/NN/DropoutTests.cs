using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

public sealed class DropoutTests
{
    [Fact]
    public void TrainingZeroesAboutPAndScalesTheRest()
    {
        var x = Tensor.Ones([100, 100]);
        var y = Functional.Dropout(x, 0.3, training: true, new Generator(2)).ToArray<float>();
        double zeros = y.Count(v => v == 0) / (double)y.Length;
        Assert.InRange(zeros, 0.27, 0.33);
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1 / 0.7f, v, 6));
        Assert.InRange(y.Average(), 0.97, 1.03);   // inverted dropout keeps the expectation
    }

    [Fact]
    public void GradientUsesTheSameMask()
    {
        var x = Tensor.Randn([4, 5], new Generator(1), requiresGrad: true);
        var y = Functional.Dropout(x, 0.5, true, new Generator(9));
        y.Sum().Backward();
        var yv = y.ToArray<float>();
        var g = x.Grad!.ToArray<float>();
        for (int i = 0; i < g.Length; i++) Assert.Equal(yv[i] == 0 ? 0f : 2f, g[i]);
    }

    [Fact]
    public void SeededGeneratorIsReproducibleAndEvalIsIdentity()
    {
        var x = Tensor.Ones([3, 7]);
        var a = new Dropout(0.5, new Generator(4)).Call(x).ToArray<float>();
        var b = new Dropout(0.5, new Generator(4)).Call(x).ToArray<float>();
        Assert.Equal(a, b);
        var d = new Dropout(0.5);
        d.Eval();
        Assert.Same(x, d.Call(x));
        Assert.Same(x, Functional.Dropout(x, 0));
        Assert.All(Functional.Dropout(x, 1).ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.Contains("between 0 and 1", Assert.Throws<ArgumentException>(() => new Dropout(1.5)).Message);
    }
}
