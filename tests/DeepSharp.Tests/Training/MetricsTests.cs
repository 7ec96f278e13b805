using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

public sealed class MetricsTests
{
    [Fact]
    public void ClassificationMetrics()
    {
        var logits = Tensor.From([2f, 1, 0, 0, 3, 1, 1, 0, 2, 0, 1, 0], 4, 3);
        var y = Tensor.From(new long[] { 0, 1, 1, 0 });
        // Predictions (argmax) are 0, 1, 2, 1 against targets 0, 1, 1, 0.
        Assert.Equal(0.5, Metrics.Accuracy(logits, y));
        Assert.Equal(0.75, Metrics.TopKAccuracy(logits, y, 2));
        var m = Metrics.ConfusionMatrix(logits.Argmax(1), y, 3);
        Assert.Equal(1, m[0, 0]);
        Assert.Equal(1, m[0, 1]);
        Assert.Equal(1, m[1, 1]);
        Assert.Equal(1, m[1, 2]);
        var (p, r, f1) = Metrics.PrecisionRecallF1(m);
        Assert.Equal([1.0, 0.5, 0.0], p);
        Assert.Equal([0.5, 0.5, 0.0], r);
        Assert.Equal(0.5, f1[1], 12);
    }

    [Fact]
    public void RegressionMetrics()
    {
        var pred = Tensor.From([1f, 2, 3]);
        var target = Tensor.From([1f, 2, 5]);
        Assert.Equal(4.0 / 3, Metrics.MeanSquaredError(pred, target), 12);
        Assert.Equal(2.0 / 3, Metrics.MeanAbsoluteError(pred, target), 12);
        Assert.Equal(1 - 4.0 / (78.0 / 9), Metrics.R2(pred, target), 12); // SS_tot of [1, 2, 5] is 78/9
    }
}
