namespace DeepSharp.Inference;

/// <summary>
/// Rewrites a plan's steps: a batch norm right after a convolution or linear step is folded into its weights, and a
/// ReLU right after a step with an <see cref="IReluEpilogue"/> becomes that step's epilogue. Only when the
/// intermediate value has no other reader (a residual branch may read a convolution's output before its norm); so does a
/// max pool after a convolution the direct kernel runs, which pools each image as it finishes it. An add
/// of a convolution's output and a value computed before it becomes that convolution's epilogue (see TryFuseResidual).
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
            if (step is AddStep add && !add.Relu && TryFuseResidual(add, producer, fused, readers))
                continue;
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
                epilogue.Relu = true; // before a max pool taken over already: the same, as ReLU is monotonic
                return true;
            case PoolStep pool when into is ConvStep conv && conv.CanFuseMaxPool(pool):
                conv.FuseMaxPool(pool);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// a + b where a is a convolution's output read only here and b was computed before that convolution (the input of a
    /// residual block): the convolution adds b while it stores its output, and the add step goes.
    /// </summary>
    private static bool TryFuseResidual(AddStep add, Dictionary<PlanValue, PlanStep> producer, List<PlanStep> fused, Dictionary<PlanValue, int> readers)
    {
        for (int i = 0; i < 2; i++)
        {
            PlanValue a = add.Inputs[i], b = add.Inputs[1 - i];
            if (readers.GetValueOrDefault(a) != 1 || producer.GetValueOrDefault(a) is not ConvStep conv || !conv.CanAddResidual ||
                ReferenceEquals(a.Root, b.Root))
                continue;
            bool ready = b.Root.IsInput || (producer.TryGetValue(b.Root, out var made) && fused.IndexOf(made) < fused.IndexOf(conv));
            if (!ready) continue;
            conv.AddResidual(b);
            conv.Output = add.Output;
            producer[add.Output] = conv;
            return true;
        }
        return false;
    }

    // A view's read is a read of its source too.
    private static void CountRead(Dictionary<PlanValue, int> readers, PlanValue value)
    {
        for (PlanValue? v = value; v is not null; v = v.Source)
            readers[v] = readers.GetValueOrDefault(v) + 1;
    }
}
