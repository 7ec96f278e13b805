using System.Numerics.Tensors;
using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>max(x, 0) on its own, where no producing step could take it as an epilogue.</summary>
internal sealed class ReluStep(PlanValue input, PlanValue output) : PlanStep([input], output)
{
    public override long WorkPerSample => Output.SampleSize;

    public override void Run(Arena arena) => TensorPrimitives.Max(arena.Span(Inputs[0]), 0f, arena.Span(Output));

    public override string Describe() => "relu " + Output.Describe();
}

/// <summary>a + b of two values of the same shape (a residual connection), ReLU fused.</summary>
internal sealed class AddStep(PlanValue a, PlanValue b, PlanValue output) : PlanStep([a, b], output), IReluEpilogue
{
    public bool Relu { get; set; }

    public override long WorkPerSample => Output.SampleSize;

    public override void Run(Arena arena)
    {
        var y = arena.Span(Output);
        // With ReLU: one pass, split over the pool for large batches (on the calling thread alone, the second core idled).
        if (Relu) Vectorized.Map(arena.Span(Inputs[0]), arena.Span(Inputs[1]), y, new FloatBinary<AddReluOp, float>(0, 0));
        else TensorPrimitives.Add(arena.Span(Inputs[0]), arena.Span(Inputs[1]), y);
    }

    public override string Describe() => "add" + (Relu ? " +relu" : "") + " " + Output.Describe();
}

/// <summary>Batch norm that follows no convolution or linear layer: the per-channel affine map of eval mode, ReLU fused.</summary>
internal sealed class ChannelAffineStep : PlanStep, IReluEpilogue
{
    private readonly double[] _center, _scale, _shift;

    public ChannelAffineStep(BatchNormBase bn, PlanValue input, PlanValue output) : base([input], output)
    {
        Norm = bn;
        _center = bn.RunningMean!.ToDoubleArray();
        var (scale, _) = BatchNormFolding.Affine(bn);
        _scale = scale;
        // Centred as the eager kernel: (x - mean) * scale + bias.
        _shift = bn.Bias?.ToDoubleArray() ?? new double[bn.NumFeatures];
    }

    /// <summary>The layer, for folding into a preceding convolution or linear step instead.</summary>
    public BatchNormBase Norm { get; }

    public bool Relu { get; set; }

    public override long WorkPerSample => Output.SampleSize;

    public override void Run(Arena arena)
    {
        int channels = Output.SampleShape[0], positions = Output.SampleSize / channels;
        var y = arena.Span(Output);
        Normalization.ChannelAffine<float>(arena.Span(Inputs[0]), y, arena.Batch, channels, positions, _center, _scale, _shift);
        if (Relu) TensorPrimitives.Max(y, 0f, y);
    }

    public override string Describe() => "batch_norm" + (Relu ? " +relu" : "") + " " + Output.Describe();
}
