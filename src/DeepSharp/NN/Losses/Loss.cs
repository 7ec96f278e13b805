namespace DeepSharp.NN;

/// <summary>How a loss combines its per-element losses (PyTorch's reduction="none"|"mean"|"sum"|"batchmean").</summary>
public enum Reduction
{
    /// <summary>No reduction: one loss per element (or per sample for class losses).</summary>
    None,

    /// <summary>The mean (for weighted class losses: divided by the sum of the targets' weights).</summary>
    Mean,

    /// <summary>The sum of the per-element losses.</summary>
    Sum,

    /// <summary>Sum divided by the batch size; only KLDivLoss accepts it (the true KL divergence per sample).</summary>
    BatchMean,
}

/// <summary>
/// Base of the loss modules: a module over (input, target) pairs. Call it as
/// <c>loss.Call(logits, labels)</c> (hooks fire) or <c>loss.Forward(logits, labels)</c>.
/// Class weights are registered as buffers named as in PyTorch (<c>weight</c>, <c>pos_weight</c>).
/// </summary>
public abstract class Loss : Module<(Tensor Input, Tensor Target), Tensor>
{
    /// <summary>A loss that combines its per-element losses with <paramref name="reduction"/>.</summary>
    protected Loss(Reduction reduction) => Reduction = reduction;

    /// <summary>How the per-element losses are combined (default Mean).</summary>
    public Reduction Reduction { get; }

    /// <summary>The loss of <paramref name="input"/> against <paramref name="target"/>, running the module's hooks (which see the pair as input).</summary>
    public Tensor Call(Tensor input, Tensor target) => Call((input, target));

    /// <summary>The loss of <paramref name="input"/> (predictions) against <paramref name="target"/>: a scalar, or with Reduction.None one loss per element (per sample for class losses).</summary>
    public abstract Tensor Forward(Tensor input, Tensor target);

    /// <summary>The loss of the (input, target) pair; see <see cref="Forward(Tensor, Tensor)"/>.</summary>
    public sealed override Tensor Forward((Tensor Input, Tensor Target) input) => Forward(input.Input, input.Target);

    /// <inheritdoc/>
    protected override string ExtraRepr => Reduction == Reduction.Mean ? "" : $"reduction='{Functional.ReductionName(Reduction)}'";
}

public static partial class Functional
{
    /// <summary>Applies a reduction to elementwise losses. BatchMean is rejected here: only kl_div defines it.</summary>
    internal static Tensor Reduce(string op, Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.None => loss,
        Reduction.Mean => loss.Mean(),
        Reduction.Sum => loss.Sum(),
        _ => throw new ArgumentException($"{op}: {ReductionName(reduction)} is not a valid value for reduction (expected none, mean or sum)"),
    };

    internal static LossReduction ToOp(string op, Reduction reduction) => reduction switch
    {
        Reduction.None => LossReduction.None,
        Reduction.Mean => LossReduction.Mean,
        Reduction.Sum => LossReduction.Sum,
        _ => throw new ArgumentException($"{op}: {ReductionName(reduction)} is not a valid value for reduction (expected none, mean or sum)"),
    };

    internal static string ReductionName(Reduction reduction) => reduction switch
    {
        Reduction.None => "none",
        Reduction.Mean => "mean",
        Reduction.Sum => "sum",
        Reduction.BatchMean => "batchmean",
        _ => reduction.ToString(),
    };

    /// <summary>Shape checks shared by the elementwise losses: target must broadcast to the input.</summary>
    internal static void CheckPair(string op, Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        input.RequireFloat(op);
        if (target.DType != input.DType)
            throw new ArgumentException($"{op}: target dtype {target.DType.Name()} does not match the input's {input.DType.Name()}; convert the target with .To(DType.{input.DType})");
        _ = Shapes.Broadcast(op, input.ShapeArray, target.ShapeArray); // throws, naming both shapes, when they do not broadcast
    }

    /// <summary>
    /// The regression losses compare each prediction with its own target, so the shapes must be equal. Broadcasting
    /// would silently compare every prediction with every target: an [N, 1] output against [N] targets gives an
    /// [N, N] loss that still trains, badly (PyTorch warns "Using a target size that is different to the input size").
    /// </summary>
    internal static void CheckSameShapePair(string op, Tensor input, Tensor target)
    {
        CheckPair(op, input, target);
        if (input.Shape == target.Shape) return;
        var broadcast = Shapes.Broadcast(op, input.ShapeArray, target.ShapeArray);
        string hint = input.Rank == target.Rank + 1 && input.ShapeArray[^1] == 1 ? $"; use input.Squeeze(-1) or target.Unsqueeze(-1)"
            : target.Rank == input.Rank + 1 && target.ShapeArray[^1] == 1 ? $"; use target.Squeeze(-1) or input.Unsqueeze(-1)"
            : "; reshape one of them";
        throw new ArgumentException(
            $"{op}: target shape {Shapes.Format(target.ShapeArray)} differs from the input shape {Shapes.Format(input.ShapeArray)}. " +
            $"Broadcasting them would compare every input with every target (a {Shapes.Format(broadcast)} loss), which is almost certainly not intended{hint}");
    }
}
