namespace DeepSharp.NN;

// Cross-entropy (softmax + NLL) and NLL over classes. Class-index targets run through the fused
// LossOps.ClassIndexLoss (row by row without intermediate tensors; backward softmax - onehot); probability targets are
// composed from log_softmax so that gradients can also reach the targets.

public static partial class Functional
{
    /// <summary>
    /// Cross-entropy between logits <paramref name="input"/> [N, C] / [N, C, d1..] / [C] and either
    /// int64 class indices [N] / [N, d1..] / [] or float class probabilities of the input's shape.
    /// <paramref name="weight"/> [C] rescales classes; targets equal to <paramref name="ignoreIndex"/>
    /// contribute nothing and, with Mean, the sum is divided by the total weight of the other targets.
    /// <paramref name="labelSmoothing"/> mixes the target with the uniform distribution.
    /// </summary>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100,
        Reduction reduction = Reduction.Mean, double labelSmoothing = 0)
    {
        const string op = "cross_entropy";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!target.IsFloatingPoint)
            return LossOps.ClassIndexLoss(op, input, target, weight, ignoreIndex, labelSmoothing, ToOp(op, reduction), fromLogits: true);
        return CrossEntropyWithProbabilities(input, target, weight, ignoreIndex, reduction, labelSmoothing);
    }

    /// <summary>-sum_c w_c t_c log_softmax(x)_c with t smoothed to t (1 - ls) + ls / C; mean divides by the number of samples.</summary>
    private static Tensor CrossEntropyWithProbabilities(Tensor input, Tensor target, Tensor? weight, long ignoreIndex, Reduction reduction, double labelSmoothing)
    {
        const string op = "cross_entropy";
        input.RequireFloat(op);
        if (ignoreIndex >= 0)
            throw new ArgumentException($"{op}: ignore_index ({ignoreIndex}) is not supported for probability (floating-point) targets");
        if (target.Shape != input.Shape)
            throw new ArgumentException($"{op}: probability targets must have the input's shape {Shapes.Format(input.ShapeArray)}, got {Shapes.Format(target.ShapeArray)}");
        if (target.DType != input.DType)
            throw new ArgumentException($"{op}: target dtype {target.DType.Name()} does not match the input's {input.DType.Name()}");
        if (labelSmoothing < 0 || labelSmoothing > 1)
            throw new ArgumentException($"{op}: label_smoothing must be in [0, 1], got {labelSmoothing}");
        var lossReduction = ToOp(op, reduction);
        if (input.Rank == 0) throw new ArgumentException($"{op}: input must be [C] or [N, C, d1, ...], got a scalar");
        int classDim = input.Rank == 1 ? 0 : 1;
        int classes = input.ShapeArray[classDim];
        var t = labelSmoothing > 0 ? target * (1 - labelSmoothing) + labelSmoothing / classes : target;
        var prod = input.LogSoftmax(classDim) * t;
        if (weight is not null) prod *= ClassWeightView(op, weight, input, classDim);
        return lossReduction switch
        {
            LossReduction.None => -prod.Sum(classDim),
            LossReduction.Sum => -prod.Sum(),
            _ => -prod.Sum() / (classes == 0 ? 0 : input.Numel / classes),
        };
    }

    /// <summary>weight [C] shaped to broadcast along the class dim of input ([1, C, 1, ...]).</summary>
    private static Tensor ClassWeightView(string op, Tensor weight, Tensor input, int classDim)
    {
        int classes = input.ShapeArray[classDim];
        if (weight.Rank != 1 || weight.ShapeArray[0] != classes)
            throw new ArgumentException($"{op}: weight must have shape [{classes}] (one per class), got {Shapes.Format(weight.ShapeArray)}");
        if (weight.DType != input.DType)
            throw new ArgumentException($"{op}: weight dtype {weight.DType.Name()} does not match the input's {input.DType.Name()}");
        var shape = Enumerable.Repeat(1, input.Rank).ToArray();
        shape[classDim] = classes;
        return weight.Reshape(shape);
    }

    /// <summary>
    /// Negative log-likelihood of log-probabilities <paramref name="input"/> (e.g. LogSoftmax output)
    /// at int64 class indices: -w[t] input[t]; Mean divides by the sum of the non-ignored targets' weights.
    /// </summary>
    public static Tensor NllLoss(Tensor input, Tensor target, Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        const string op = "nll_loss";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        return LossOps.ClassIndexLoss(op, input, target, weight, ignoreIndex, 0, ToOp(op, reduction), fromLogits: false);
    }
}

/// <summary>
/// Softmax + negative log-likelihood on logits (nn.CrossEntropyLoss): class-index or probability
/// targets, class weights (buffer <c>weight</c>), ignore_index and label smoothing.
/// </summary>
public sealed class CrossEntropyLoss : Loss
{
    /// <summary>Cross-entropy on logits.</summary>
    /// <param name="weight">Per-class weight [C], or null.</param>
    /// <param name="ignoreIndex">Class-index target that contributes nothing (default -100, as PyTorch).</param>
    /// <param name="reduction">How the per-sample losses are combined.</param>
    /// <param name="labelSmoothing">In [0, 1]: mixes the target with the uniform distribution over classes.</param>
    /// <exception cref="ArgumentException"><paramref name="labelSmoothing"/> is outside [0, 1], or <paramref name="reduction"/> is BatchMean.</exception>
    public CrossEntropyLoss(Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean, double labelSmoothing = 0)
        : base(reduction)
    {
        _ = Functional.ToOp("cross_entropy", reduction);
        if (labelSmoothing < 0 || labelSmoothing > 1)
            throw new ArgumentException($"CrossEntropyLoss: label_smoothing must be in [0, 1], got {labelSmoothing}");
        Weight = weight;
        RegisterBuffer("weight", weight);
        IgnoreIndex = ignoreIndex;
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>Per-class weight [C], or null.</summary>
    public Tensor? Weight { get; }

    /// <summary>Class-index target that contributes nothing (default -100).</summary>
    public long IgnoreIndex { get; }

    /// <summary>Label smoothing in [0, 1] (default 0).</summary>
    public double LabelSmoothing { get; }

    /// <summary>
    /// The loss of logits <paramref name="input"/> [N, C] (or [N, C, d1, ...] or [C]) against int64 class indices
    /// [N] (or [N, d1, ...] or []) or class probabilities of the input's shape.
    /// </summary>
    public override Tensor Forward(Tensor input, Tensor target) =>
        Functional.CrossEntropy(input, target, Weight, IgnoreIndex, Reduction, LabelSmoothing);
}

/// <summary>Negative log-likelihood on log-probabilities (nn.NLLLoss), with class weights (buffer <c>weight</c>) and ignore_index.</summary>
public sealed class NllLoss : Loss
{
    /// <summary>Prints as PyTorch's <c>NLLLoss</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "NLLLoss";

    /// <summary>Negative log-likelihood with optional per-class weight [C] and an ignored class index (default -100).</summary>
    /// <exception cref="ArgumentException"><paramref name="reduction"/> is BatchMean.</exception>
    public NllLoss(Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) : base(reduction)
    {
        _ = Functional.ToOp("nll_loss", reduction);
        Weight = weight;
        RegisterBuffer("weight", weight);
        IgnoreIndex = ignoreIndex;
    }

    /// <summary>Per-class weight [C], or null.</summary>
    public Tensor? Weight { get; }

    /// <summary>Class-index target that contributes nothing (default -100).</summary>
    public long IgnoreIndex { get; }

    /// <summary>The loss of log-probabilities <paramref name="input"/> [N, C] (or [N, C, d1, ...] or [C]) against int64 class indices [N] (or [N, d1, ...] or []).</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.NllLoss(input, target, Weight, IgnoreIndex, Reduction);
}
