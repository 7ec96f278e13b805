using DeepSharp.NN;

namespace DeepSharp.Tests.Insight;

/// <summary>A conv layer over Tensor.Conv2d (weight [O, I, k, k], bias [O]) so the tests do not depend on the NN conv layers.</summary>
internal sealed class TestConv : Module<Tensor, Tensor>
{
    private readonly int _padding;

    public TestConv(int inChannels, int outChannels, int kernel, int padding = 0, DType dtype = DType.Float32, Generator? generator = null)
    {
        _padding = padding;
        double bound = 1 / Math.Sqrt(inChannels * kernel * kernel);
        Weight = RegisterParameter("weight", Tensor.Uniform([outChannels, inChannels, kernel, kernel], -bound, bound, generator, dtype));
        Bias = RegisterParameter("bias", Tensor.Uniform([outChannels], -bound, bound, generator, dtype));
    }

    public Tensor Weight { get; }

    public Tensor Bias { get; }

    public override string TypeName => "Conv2d";

    public override Tensor Forward(Tensor input) => Tensor.Conv2d(input, Weight, Bias, 1, _padding);
}

internal sealed class TestMaxPool : Module<Tensor, Tensor>
{
    public override string TypeName => "MaxPool2d";

    public override Tensor Forward(Tensor input) => Tensor.MaxPool2d(input, 2);
}

internal sealed class TestAvgPool : Module<Tensor, Tensor>
{
    public override string TypeName => "AvgPool2d";

    public override Tensor Forward(Tensor input) => Tensor.AvgPool2d(input, 2);
}

internal static class InsightModels
{
    /// <summary>The same shape as <see cref="SmallCnn"/> with smooth activations and average pooling (no kinks on an IG path).</summary>
    public static Sequential SmoothCnn(DType dtype = DType.Float64, ulong seed = 1)
    {
        var g = new Generator(seed);
        return new Sequential(
            new TestConv(1, 4, 3, 1, dtype, g), new Tanh(), new TestAvgPool(),
            new TestConv(4, 6, 3, 1, dtype, g), new Sigmoid(), new TestAvgPool(),
            new Flatten(), new Linear(6 * 3 * 3, 3, dtype: dtype, generator: g));
    }

    /// <summary>conv3x3(1->4, pad 1)-ReLU-pool-conv3x3(4->6, pad 1)-Tanh-pool-flatten-linear(6*3*3 -> 3) for [N, 1, 12, 12] inputs.</summary>
    public static Sequential SmallCnn(DType dtype = DType.Float32, ulong seed = 1)
    {
        var g = new Generator(seed);
        return new Sequential(
            new TestConv(1, 4, 3, 1, dtype, g), new Relu(), new TestMaxPool(),
            new TestConv(4, 6, 3, 1, dtype, g), new Tanh(), new TestMaxPool(),
            new Flatten(), new Linear(6 * 3 * 3, 3, dtype: dtype, generator: g));
    }

    /// <summary>A smooth MLP (tanh, sigmoid) on flat inputs.</summary>
    public static Sequential SmoothMlp(int inputs, DType dtype = DType.Float64, ulong seed = 2)
    {
        var g = new Generator(seed);
        return new Sequential(new Linear(inputs, 16, dtype: dtype, generator: g), new Tanh(), new Linear(16, 8, dtype: dtype, generator: g), new Sigmoid(),
            new Linear(8, 3, dtype: dtype, generator: g));
    }
}
