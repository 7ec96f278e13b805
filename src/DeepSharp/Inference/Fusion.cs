namespace DeepSharp.Inference;

/// <summary>
/// Rewrites a plan's steps: a batch norm right after a convolution or linear step is folded into its weights, and a
/// ReLU right after a step with an <see cref="IReluEpilogue"/> becomes that step's epilogue. Only when the
/// intermediate value has no other reader (a residual branch may read a convolution's output before its norm).
/// </summary>
internal static class Fusion
{
    public static List<PlanStep> Apply(List<PlanStep> steps, PlanValue output)
    {
        var readers = new Dictionary<PlanValue, int>(ReferenceEqualityComparer.Instance);
        foreach (var step in steps)
            foreach (var input in step.Inputs) CountRead(readers, input);
        CountRead(readers, output);

        var producer = new Dictionary<PlanValue, PlanStep>(ReferenceEqualityComparer.Instance);
        var fused = new List<PlanStep>(steps.Count);
        foreach (var step in steps)
        {
            var into = step.Inputs.Length == 1 && readers.GetValueOrDefault(step.Inputs[0]) == 1 ? producer.GetValueOrDefault(step.Inputs[0]) : null;
            if (into is not null && TryFuse(step, into))
            {
                into.Output = step.Output;
                producer[step.Output] = into;
                continue;
            }
            fused.Add(step);
            producer[step.Output] = step;
        }
        return fused;
    }

    private static bool TryFuse(PlanStep step, PlanStep into)
    {
        switch (step)
        {
            case ChannelAffineStep norm when into is ConvStep conv && !conv.Relu && conv.OutChannels == norm.Norm.NumFeatures:
                conv.FoldBatchNorm(norm.Norm);
                return true;
            case ChannelAffineStep norm when into is LinearStep linear && !linear.Relu && norm.Output.Rank == 2 && linear.OutFeatures == norm.Norm.NumFeatures:
                linear.FoldBatchNorm(norm.Norm);
                return true;
            case ReluStep when into is IReluEpilogue epilogue && !epilogue.Relu:
                epilogue.Relu = true;
                return true;
            default:
                return false;
        }
    }

    // A view's read is a read of its source too.
    private static void CountRead(Dictionary<PlanValue, int> readers, PlanValue value)
    {
        for (PlanValue? v = value; v is not null; v = v.Source)
            readers[v] = readers.GetValueOrDefault(v) + 1;
    }
}
