using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Models;

public sealed class SequenceClassifierTests
{
    [Fact]
    public void ReadsImageRowsAsTimeSteps()
    {
        var model = SequenceClassifier.Create(new ModelOptions(Generator: new Generator(1)), hiddenSize: 16);
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "fc.weight", "fc.bias"], model.StateDict().Keys);
        Assert.Equal([48, 28], model.StateDict()["rnn.weight_ih_l0"].Shape.ToArray());
        var images = Tensor.Rand([3, 1, 28, 28], new Generator(2));
        var logits = model.Call(images);
        Assert.Equal([3, 10], logits.Shape.ToArray());
        // Same as running the GRU over the [N, 28, 28] row sequence and classifying its last state.
        var (_, hN, _) = model.Rnn.Forward(images.Reshape(3, 28, 28));
        Assert.Equal(model.Fc.Forward(hN[0]).ToArray<float>(), logits.ToArray<float>());
        Assert.Equal(logits.ToArray<float>(), model.Call(images.Reshape(3, 28, 28)).ToArray<float>());
    }

    [Fact]
    public void MultiChannelImagesConcatenateChannelRowsPerStep()
    {
        var model = SequenceClassifier.Create(new ModelOptions(NumClasses: 4, InputChannels: 3, ImageSize: 8, Generator: new Generator(3)), hiddenSize: 5);
        var images = Tensor.Rand([2, 3, 8, 8], new Generator(4));
        Assert.Equal([2, 4], model.Call(images).Shape.ToArray());
        var ex = Assert.Throws<ArgumentException>(() => model.Call(Tensor.Rand([2, 1, 8, 8], new Generator(4))));
        Assert.Contains("24 features", ex.Message);
    }

    [Fact]
    public void LearnsWhichRowIsBright()
    {
        // Class = the image half (top or bottom) holding a bright row: the GRU must remember across steps.
        var model = new SequenceClassifier(6, 2, hiddenSize: 12, generator: new Generator(5));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 2e-2));
        var g = new Generator(6);
        (Tensor X, Tensor Y) Batch(int n)
        {
            var x = new float[n * 8 * 6];
            var y = new long[n];
            for (int i = 0; i < n; i++)
            {
                int row = (int)(g.NextDouble() * 8);
                y[i] = row < 4 ? 0 : 1;
                for (int j = 0; j < 6; j++) x[(i * 8 + row) * 6 + j] = 1;
            }
            return (Tensor.From(x, n, 8, 6), Tensor.From(y));
        }
        for (int step = 0; step < 120; step++)
        {
            var (x, y) = Batch(32);
            optimizer.ZeroGrad();
            Functional.CrossEntropy(model.Call(x), y).Backward();
            optimizer.Step();
        }
        var (tx, ty) = Batch(200);
        var predicted = model.Call(tx).Argmax(1).ToArray<long>();
        var labels = ty.ToArray<long>();
        Assert.True(predicted.Zip(labels).Count(p => p.First == p.Second) >= 190);
    }
}
