using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>
/// A module the planner has no step for, run as the eager model would (no gradients recorded): its input is copied
/// out of the arena into a tensor and its output copied back. Correct for any module that keeps the batch in dim 0.
/// </summary>
internal sealed class EagerStep(Module<Tensor, Tensor> module, string name, PlanValue input, PlanValue output) : PlanStep([input], output)
{
    public Module<Tensor, Tensor> Module { get; } = module;

    /// <summary>The module's path in the model ("layer1.0"), or its type for the root.</summary>
    public string Name { get; } = name;

    public override long WorkPerSample => 0;

    public override void Run(Arena arena)
    {
        var x = Tensor.Empty([arena.Batch, .. Inputs[0].SampleShape], DType.Float32);
        arena.Span(Inputs[0]).CopyTo(x.Span<float>());
        Tensor y;
        using (Autograd.NoGrad()) y = Module.Call(x).ContiguousData();
        if (!y.ShapeArray.AsSpan().SequenceEqual([arena.Batch, .. Output.SampleShape]) || y.DType != DType.Float32)
            throw new InvalidOperationException(
                $"InferenceModel: eager module {Name} ({Module.TypeName}) returned {y.Describe()} at batch {arena.Batch}, but at preparation it returned float32 [N{string.Concat(Output.SampleShape.Select(d => ", " + d))}]");
        y.ReadSpan<float>().CopyTo(arena.Span(Output));
        Tensor.KeepAlive(x, y);
    }

    public override string Describe() => $"eager {Name} ({Module.TypeName}) {Output.Describe()}";
}
