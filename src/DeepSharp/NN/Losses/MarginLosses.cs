namespace DeepSharp.NN;

// Hinge-type losses: multi-class margin (SVM-style) and hinge embedding.

public static partial class Functional
{
    /// <summary>
    /// Multi-class hinge loss per sample: sum over classes i != y of w[y] max(0, margin - x[y] + x[i])^p,
    /// divided by C. <paramref name="input"/> is [N, C] with int64 targets [N], or [C] with a scalar target.
    /// </summary>
    public static Tensor MultiMarginLoss(Tensor input, Tensor target, int p = 1, double margin = 1, Tensor? weight = null, Reduction reduction = Reduction.Mean)
    {
        const string op = "multi_margin_loss";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        input.RequireFloat(op);
        _ = ToOp(op, reduction);
        if (p is not (1 or 2)) throw new ArgumentException($"{op}: only p = 1 and p = 2 are supported, got {p}");
        if (target.DType != DType.Int64) throw new ArgumentException($"{op}: targets must be int64 class indices, got {target.DType.Name()}");
        bool single = input.Rank == 1;
        if (!(single && target.Rank == 0) && !(input.Rank == 2 && target.Rank == 1 && target.ShapeArray[0] == input.ShapeArray[0]))
            throw new ArgumentException($"{op}: expected input [N, C] with target [N], or input [C] with a scalar target; got input {Shapes.Format(input.ShapeArray)} and target {Shapes.Format(target.ShapeArray)}");
        int classes = input.ShapeArray[^1];
        var x = single ? input.Unsqueeze(0) : input;                          // [N, C]
        var t = target.Reshape(-1);                                           // [N]
        var labels = t.ToArray<long>();
        foreach (long label in labels)
            if (label < 0 || label >= classes) throw new ArgumentException($"{op}: target {label} is out of bounds for {classes} classes");
        if (weight is not null && (weight.Rank != 1 || weight.ShapeArray[0] != classes))
            throw new ArgumentException($"{op}: weight must have shape [{classes}], got {Shapes.Format(weight.ShapeArray)}");

        var h = (x - x.Gather(1, t.Unsqueeze(1)) + margin).Relu();           // relu: no gradient at z = 0, as PyTorch's z > 0
        if (p == 2) h *= h;
        if (weight is not null) h *= weight.IndexSelect(0, t).Unsqueeze(1);
        var others = Tensor.Ones(x.ShapeArray, x.DType);                      // excludes i == y
        for (int n = 0; n < labels.Length; n++) others.SetRaw(n * classes + (int)labels[n], 0);
        var perSample = (h * others).Sum(1) / classes;                        // [N]
        if (single) perSample = perSample.Reshape();
        return Reduce(op, perSample, reduction);
    }

    /// <summary>
    /// Per element: x where y = 1, max(0, margin - x) where y = -1 (for other labels both terms add,
    /// as PyTorch). Typically x is a distance between a pair and y says similar (1) or not (-1).
    /// </summary>
    public static Tensor HingeEmbeddingLoss(Tensor input, Tensor target, double margin = 1, Reduction reduction = Reduction.Mean)
    {
        const string op = "hinge_embedding_loss";
        CheckPair(op, input, target);
        var zero = Tensor.Scalar(0, input.DType);
        var marginTerm = Tensor.Where(target.Ne(1), (margin - input).Clamp(min: 0), zero);
        var selfTerm = Tensor.Where(target.Ne(-1), input, zero);
        return Reduce(op, marginTerm + selfTerm, reduction);
    }
}

/// <summary>Multi-class margin (SVM) loss (nn.MultiMarginLoss); class weights in buffer <c>weight</c>.</summary>
public sealed class MultiMarginLoss : Loss
{
    /// <summary>Multi-class margin loss with exponent <paramref name="p"/> (1 or 2), <paramref name="margin"/> and optional per-class weight [C].</summary>
    /// <exception cref="ArgumentException"><paramref name="p"/> is not 1 or 2, or <paramref name="reduction"/> is BatchMean.</exception>
    public MultiMarginLoss(int p = 1, double margin = 1, Tensor? weight = null, Reduction reduction = Reduction.Mean) : base(reduction)
    {
        if (p is not (1 or 2)) throw new ArgumentException($"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p}");
        _ = Functional.ToOp("multi_margin_loss", reduction);
        P = p;
        Margin = margin;
        Weight = weight;
        RegisterBuffer("weight", weight);
    }

    /// <summary>Exponent of the hinge: 1 (default) or 2 (squared hinge).</summary>
    public int P { get; }

    /// <summary>The margin the true class's score must exceed the others by (default 1).</summary>
    public double Margin { get; }

    /// <summary>Per-class weight [C], or null.</summary>
    public Tensor? Weight { get; }

    /// <summary>The loss of scores <paramref name="input"/> [N, C] against int64 class indices [N] (or [C] against a scalar).</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.MultiMarginLoss(input, target, P, Margin, Weight, Reduction);
}

/// <summary>Hinge embedding loss for similar (1) / dissimilar (-1) pairs (nn.HingeEmbeddingLoss).</summary>
public sealed class HingeEmbeddingLoss(double margin = 1, Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <summary>The margin for dissimilar pairs (default 1).</summary>
    public double Margin { get; } = margin;

    /// <summary>The loss of <paramref name="input"/> (e.g. pair distances) against labels 1 or -1 of a broadcastable shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.HingeEmbeddingLoss(input, target, Margin, Reduction);
}
