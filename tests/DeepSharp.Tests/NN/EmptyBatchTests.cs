using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Tests.NN;

// Regression (issue 11): conv2d with batch size 0 ran forward but its backward threw NullReferenceException in
// ConvKernels.BackwardWeightIm2Col. As PyTorch, every layer takes an empty batch: forward gives an empty output of
// the right shape, backward gives a zero-sized input gradient and all-zero parameter gradients.
public sealed class EmptyBatchTests
{
    private sealed record Case(Func<Module> Create, int[] InputShape, int[] OutputShape, Func<Module, Tensor, Tensor> Run);

    private static Case Layer(Func<Module<Tensor, Tensor>> create, int[] input, int[] output) =>
        new(create, input, output, (m, x) => ((Module<Tensor, Tensor>)m).Call(x));

    private static Generator G => new(5);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["Linear"] = Layer(() => new Linear(4, 3, generator: G), [0, 4], [0, 3]),
        ["Linear 3-D"] = Layer(() => new Linear(4, 3, generator: G), [0, 2, 4], [0, 2, 3]),
        ["Conv1d"] = Layer(() => new Conv1d(2, 3, 3, padding: 1, generator: G), [0, 2, 5], [0, 3, 5]),
        ["Conv2d"] = Layer(() => new Conv2d(2, 3, 3, padding: 1, generator: G), [0, 2, 5, 5], [0, 3, 5, 5]),
        ["Conv2d strided, no bias"] = Layer(() => new Conv2d(2, 4, 3, stride: 2, bias: false, generator: G), [0, 2, 7, 7], [0, 4, 3, 3]),
        ["Conv2d grouped"] = Layer(() => new Conv2d(4, 4, 1, groups: 2, generator: G), [0, 4, 3, 3], [0, 4, 3, 3]),
        ["ConvTranspose2d"] = Layer(() => new ConvTranspose2d(2, 3, 3, stride: 2, generator: G), [0, 2, 4, 4], [0, 3, 9, 9]),
        ["MaxPool2d"] = Layer(() => new MaxPool2d(2), [0, 2, 4, 4], [0, 2, 2, 2]),
        ["MaxPool1d"] = Layer(() => new MaxPool1d(2), [0, 2, 4], [0, 2, 2]),
        ["AvgPool2d"] = Layer(() => new AvgPool2d(2), [0, 2, 4, 4], [0, 2, 2, 2]),
        ["AdaptiveAvgPool2d"] = Layer(() => new AdaptiveAvgPool2d(2), [0, 2, 4, 4], [0, 2, 2, 2]),
        ["AdaptiveMaxPool2d"] = Layer(() => new AdaptiveMaxPool2d(2), [0, 2, 4, 4], [0, 2, 2, 2]),
        ["BatchNorm1d"] = Layer(() => new BatchNorm1d(3), [0, 3], [0, 3]),
        ["BatchNorm2d"] = Layer(() => new BatchNorm2d(3), [0, 3, 4, 4], [0, 3, 4, 4]),
        ["LayerNorm"] = Layer(() => new LayerNorm(4), [0, 4], [0, 4]),
        ["GroupNorm"] = Layer(() => new GroupNorm(2, 4), [0, 4, 3, 3], [0, 4, 3, 3]),
        ["LocalResponseNorm"] = Layer(() => new LocalResponseNorm(2), [0, 4, 3, 3], [0, 4, 3, 3]),
        ["Dropout"] = Layer(() => new Dropout(0.5), [0, 4], [0, 4]),
        ["Dropout2d"] = Layer(() => new Dropout2d(0.5), [0, 2, 3, 3], [0, 2, 3, 3]),
        ["ReLU"] = Layer(() => new Relu(), [0, 4], [0, 4]),
        ["GELU"] = Layer(() => new Gelu(), [0, 4], [0, 4]),
        ["Softmax"] = Layer(() => new Softmax(1), [0, 4], [0, 4]),
        ["LogSoftmax"] = Layer(() => new LogSoftmax(-1), [0, 4], [0, 4]),
        ["Flatten"] = Layer(() => new Flatten(), [0, 2, 3], [0, 6]),
        ["Sequential"] = Layer(() => new Sequential(new Conv2d(1, 2, 3, generator: G), new Relu(), new Flatten(), new Linear(8, 3, generator: G)), [0, 1, 4, 4], [0, 3]),
        ["RNN"] = new(() => new Rnn(4, 5, generator: G), [3, 0, 4], [3, 0, 5], (m, x) => ((Rnn)m).Call(x, null).Output),
        ["LSTM batch-first"] = new(() => new Lstm(4, 5, batchFirst: true, generator: G), [0, 3, 4], [0, 3, 5], (m, x) => ((Lstm)m).Call(x, null).Output),
        ["GRU 2 layers bidirectional"] = new(() => new Gru(4, 5, numLayers: 2, bidirectional: true, generator: G), [3, 0, 4], [3, 0, 10], (m, x) => ((Gru)m).Call(x, null).Output),
        ["GRU final state"] = new(() => new Gru(4, 5, generator: G), [3, 0, 4], [1, 0, 5], (m, x) => ((Gru)m).Call(x, null).HiddenState),
        ["RNNCell"] = new(() => new RnnCell(4, 5, generator: G), [0, 4], [0, 5], (m, x) => ((RnnCell)m).Call(x, null)),
        ["GRUCell"] = new(() => new GruCell(4, 5, generator: G), [0, 4], [0, 5], (m, x) => ((GruCell)m).Call(x, null)),
        ["LSTMCell"] = new(() => new LstmCell(4, 5, generator: G), [0, 4], [0, 5], (m, x) => ((LstmCell)m).Call(x, null, null).H),
        ["AdditiveAttention"] = new(() => new AdditiveAttention(4, 4, 6, generator: G), [0, 3, 4], [0, 3, 4], (m, x) => ((AdditiveAttention)m).Call(x, x).Output),
        ["LuongAttention"] = new(() => new LuongAttention(LuongScore.General, 4, 4, generator: G), [0, 3, 4], [0, 3, 4], (m, x) => ((LuongAttention)m).Call(x, x).Output),
        ["MultiheadAttention"] = new(() => new MultiheadAttention(4, 2, batchFirst: true, generator: G), [0, 3, 4], [0, 3, 4], (m, x) => ((MultiheadAttention)m).Call(x, x, x).Output),
        ["TransformerEncoderLayer"] = Layer(() => new TransformerEncoderLayer(4, 2, 8, dropout: 0, batchFirst: true, generator: G), [0, 3, 4], [0, 3, 4]),
        ["LeNet5"] = Layer(() => ModelZoo.Create("lenet5", new ModelOptions(Generator: G)), [0, 1, 28, 28], [0, 10]),
        ["seq-gru"] = Layer(() => ModelZoo.Create("seq-gru", new ModelOptions(Generator: G)), [0, 1, 28, 28], [0, 10]),
        ["resnet20"] = Layer(() => ModelZoo.Create("resnet20", new ModelOptions(InputChannels: 3, ImageSize: 32, Generator: G)), [0, 3, 32, 32], [0, 10]),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void AnEmptyBatchRunsForwardAndBackward(string name)
    {
        var c = Cases[name];
        var module = c.Create();
        module.Train();
        var x = Tensor.Randn(c.InputShape).SetRequiresGrad();
        var y = c.Run(module, x);
        Assert.Equal(c.OutputShape, y.Shape.ToArray());
        y.Sum().Backward();
        Assert.NotNull(x.Grad);
        Assert.Equal(c.InputShape, x.Grad!.Shape.ToArray());
        foreach (var (pname, p) in module.NamedParameters())
        {
            // PyTorch: every parameter that took part gets a gradient, all zeros (a sum over no examples).
            if (p.Grad is null) continue;
            Assert.Equal(p.Shape.ToArray(), p.Grad.Shape.ToArray());
            Assert.True(p.Grad.ToDoubleArray().All(v => v == 0), $"{name}: gradient of {pname} is not all zeros");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void AnEmptyBatchRunsInEvalModeWithoutGrad(string name)
    {
        var c = Cases[name];
        var module = c.Create();
        module.Eval();
        using var _ = DeepSharp.Autograd.NoGrad();
        Assert.Equal(c.OutputShape, c.Run(module, Tensor.Randn(c.InputShape)).Shape.ToArray());
    }

    [Fact]
    public void BatchNormOnAnEmptyBatchLeavesTheRunningStatisticsAlone()
    {
        // As PyTorch 1.13: the output is the (empty) input, running mean and var are unchanged.
        var bn = new BatchNorm2d(3);
        bn.Train();
        _ = bn.Call(Tensor.Randn(0, 3, 4, 4));
        Assert.Equal([0.0, 0, 0], bn.RunningMean!.ToDoubleArray());
        Assert.Equal([1.0, 1, 1], bn.RunningVar!.ToDoubleArray());
    }

    [Fact]
    public void ASumOverNonAdjacentDimsOneOfWhichIsEmptyIsZero()
    {
        // Found by this test (a conv bias gradient): the outputs of a reduction over an empty non-adjacent set of dims
        // were never written, so they held whatever the pool buffer held before.
        Assert.Equal([0.0, 0, 0], Tensor.Ones(0, 3, 5, 5).Sum([0, 2, 3]).ToDoubleArray());
        Assert.Empty(Tensor.Ones(2, 0, 4).Sum([0, 2]).ToDoubleArray());
        Assert.Equal(new double[4], Tensor.Ones(0, 4, 0).Sum([0, 2]).ToDoubleArray());
    }

    [Fact]
    public void ParametersThatTookPartGetZeroGradients()
    {
        var conv = new Conv2d(2, 3, 3, generator: G);
        conv.Call(Tensor.Randn(0, 2, 5, 5)).Sum().Backward();
        Assert.Equal(new double[3 * 2 * 3 * 3], conv.Weight.Grad!.ToDoubleArray());
        Assert.Equal(new double[3], conv.Bias!.Grad!.ToDoubleArray());
    }
}
