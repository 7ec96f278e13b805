namespace DeepSharp.Inference;

/// <summary>
/// One operation of a plan: reads its inputs and writes its output in an <see cref="Arena"/>, for the arena's batch.
/// Steps hold their own snapshot of the weights they need, so a plan is immutable and shared by concurrent callers.
/// </summary>
internal abstract class PlanStep(PlanValue[] inputs, PlanValue output)
{
    /// <summary>The values read; fusion may add one (a residual a convolution adds in its epilogue).</summary>
    public PlanValue[] Inputs { get; protected set; } = inputs;

    /// <summary>The value written; fusion moves a removed step's output here.</summary>
    public PlanValue Output { get; set; } = output;

    /// <summary>Multiply-adds (or element operations) per sample: what the threading decision weighs.</summary>
    public abstract long WorkPerSample { get; }

    public abstract void Run(Arena arena);

    /// <summary>Reads <paramref name="replacement"/> wherever this step read <paramref name="value"/> (a layout conversion put between them).</summary>
    public virtual void ReplaceInput(PlanValue value, PlanValue replacement) =>
        Inputs = Inputs.Select(v => ReferenceEquals(v, value) ? replacement : v).ToArray();

    /// <summary>One line for <see cref="InferenceModel.Steps"/>, e.g. <c>conv2d 3x3 16->16 +bn +relu [N, 16, 32, 32]</c>.</summary>
    public abstract string Describe();
}

/// <summary>A step whose output can go through max(x, 0) before it is stored (the fused ReLU).</summary>
internal interface IReluEpilogue
{
    bool Relu { get; set; }
}
