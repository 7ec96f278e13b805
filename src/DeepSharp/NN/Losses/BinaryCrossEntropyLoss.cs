namespace DeepSharp.NN;

// Binary cross-entropy (log loss) on probabilities and on logits. The common case runs through the
// fused elementwise ops in Autograd/Ops/Losses.cs; when a target or weight needs a gradient the
// same formulas are composed from differentiable ops instead.

public static partial class Functional
{
    /// <summary>
    /// -w (y log x + (1 - y) log(1 - x)) for probabilities x in [0, 1] (e.g. Sigmoid output), each log
    /// clamped at -100 as PyTorch so that x = 0 or 1 gives a finite loss. Target must have the input's shape.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "binary_cross_entropy";
        CheckPair(op, input, target);
        _ = ToOp(op, reduction);
        Tensor loss;
        if (target.RequiresGrad || weight?.RequiresGrad == true)
        {
            CheckSameShape(op, input, target);
            loss = -(target * input.Log().Clamp(min: -100) + (1 - target) * (1 - input).Log().Clamp(min: -100));
            if (weight is not null) loss *= weight;
        }
        else
        {
            loss = LossOps.BinaryCrossEntropy(input, target, weight);
        }
        return Reduce(op, loss, reduction);
    }

    /// <summary>
    /// Sigmoid + binary cross-entropy in one stable formula, for logits of any magnitude:
    /// (1 - y) x + (1 + (pw - 1) y) log(1 + e^-x), times w. <paramref name="posWeight"/> (broadcast
    /// along the last dim, e.g. [C]) weighs positive examples to trade recall against precision.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean, Tensor? posWeight = null)
    {
        const string op = "binary_cross_entropy_with_logits";
        CheckPair(op, input, target);
        _ = ToOp(op, reduction);
        Tensor loss;
        if (target.RequiresGrad || weight?.RequiresGrad == true || posWeight?.RequiresGrad == true)
        {
            CheckSameShape(op, input, target);
            // log(1 + e^-x) = softplus(-x), stable for any x.
            var logTerm = (-input).Softplus();
            var logWeight = posWeight is null ? null : (posWeight - 1) * target + 1;
            loss = (1 - target) * input + (logWeight is null ? logTerm : logWeight * logTerm);
            if (weight is not null) loss *= weight;
        }
        else
        {
            loss = LossOps.BinaryCrossEntropyWithLogits(input, target, weight, posWeight);
        }
        return Reduce(op, loss, reduction);
    }

    private static void CheckSameShape(string op, Tensor input, Tensor target)
    {
        if (target.Shape != input.Shape)
            throw new ArgumentException($"{op}: target shape {Shapes.Format(target.ShapeArray)} must equal the input shape {Shapes.Format(input.ShapeArray)}");
    }
}

/// <summary>Binary cross-entropy on probabilities (nn.BCELoss); optional per-element weight (buffer <c>weight</c>).</summary>
public sealed class BceLoss : Loss
{
    /// <summary>Prints as PyTorch's <c>BCELoss</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "BCELoss";

    /// <summary>Binary cross-entropy with an optional weight broadcast over the per-element losses.</summary>
    /// <exception cref="ArgumentException"><paramref name="reduction"/> is BatchMean.</exception>
    public BceLoss(Tensor? weight = null, Reduction reduction = Reduction.Mean) : base(reduction)
    {
        _ = Functional.ToOp("binary_cross_entropy", reduction);
        Weight = weight;
        RegisterBuffer("weight", weight);
    }

    /// <summary>Weight multiplied into the per-element losses, or null.</summary>
    public Tensor? Weight { get; }

    /// <summary>The loss of probabilities <paramref name="input"/> in [0, 1] against targets in [0, 1] of the same shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.BinaryCrossEntropy(input, target, Weight, Reduction);
}

/// <summary>
/// Sigmoid + binary cross-entropy on logits, numerically stable (nn.BCEWithLogitsLoss); buffers
/// <c>weight</c> and <c>pos_weight</c>. The loss for logistic regression and multi-label outputs.
/// </summary>
public sealed class BceWithLogitsLoss : Loss
{
    /// <summary>Prints as PyTorch's <c>BCEWithLogitsLoss</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "BCEWithLogitsLoss";

    /// <summary>Binary cross-entropy on logits with an optional per-element weight and positive-class weight.</summary>
    /// <param name="weight">Weight multiplied into the per-element losses.</param>
    /// <param name="reduction">How the per-element losses are combined.</param>
    /// <param name="posWeight">Weight of positive examples, broadcast along the last dim (e.g. [C]); above 1 favours recall.</param>
    /// <exception cref="ArgumentException"><paramref name="reduction"/> is BatchMean.</exception>
    public BceWithLogitsLoss(Tensor? weight = null, Reduction reduction = Reduction.Mean, Tensor? posWeight = null) : base(reduction)
    {
        _ = Functional.ToOp("binary_cross_entropy_with_logits", reduction);
        Weight = weight;
        PosWeight = posWeight;
        RegisterBuffer("weight", weight);
        RegisterBuffer("pos_weight", posWeight);
    }

    /// <summary>Weight multiplied into the per-element losses, or null.</summary>
    public Tensor? Weight { get; }

    /// <summary>Weight of positive examples (<c>pos_weight</c>), or null.</summary>
    public Tensor? PosWeight { get; }

    /// <summary>The loss of logits <paramref name="input"/> (any real values) against targets in [0, 1] of the same shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) =>
        Functional.BinaryCrossEntropyWithLogits(input, target, Weight, Reduction, PosWeight);
}
