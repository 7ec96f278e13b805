namespace DeepSharp.NN;

// Regression losses on d = input - target (same shapes): MSE, L1 (MAE), smooth L1 and Huber.
// Built from differentiable ops, so gradients flow to the target too when it requires grad.

public static partial class Functional
{
    /// <summary>Mean squared error: d^2. With identity output, dL/dinput = 2 d / n (the "golden pair").</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        CheckSameShapePair("mse_loss", input, target);
        var d = input - target;
        return Reduce("mse_loss", d * d, reduction);
    }

    /// <summary>Mean absolute error |d| (its gradient at d = 0 is 0).</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        CheckSameShapePair("l1_loss", input, target);
        return Reduce("l1_loss", (input - target).Abs(), reduction);
    }

    /// <summary>0.5 d^2 / beta where |d| &lt; beta, else |d| - 0.5 beta. beta = 0 is exactly L1.</summary>
    public static Tensor SmoothL1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double beta = 1)
    {
        const string op = "smooth_l1_loss";
        if (!(beta >= 0)) throw new ArgumentException($"{op}: beta must be non-negative, got {beta}");
        CheckSameShapePair(op, input, target);
        if (beta == 0) return Reduce(op, (input - target).Abs(), reduction);
        var d = input - target;
        var z = d.Abs();
        return Reduce(op, Tensor.Where(z.Lt(beta), d * d * (0.5 / beta), z - 0.5 * beta), reduction);
    }

    /// <summary>Huber: 0.5 d^2 where |d| &lt; delta, else delta (|d| - 0.5 delta) (= delta * smooth L1 with beta = delta).</summary>
    public static Tensor HuberLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double delta = 1)
    {
        const string op = "huber_loss";
        if (!(delta > 0)) throw new ArgumentException($"{op}: delta must be positive, got {delta}");
        CheckSameShapePair(op, input, target);
        var d = input - target;
        var z = d.Abs();
        return Reduce(op, Tensor.Where(z.Lt(delta), d * d * 0.5, (z - 0.5 * delta) * delta), reduction);
    }
}

/// <summary>Mean squared error (nn.MSELoss).</summary>
public sealed class MseLoss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <summary>Prints as PyTorch's <c>MSELoss</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "MSELoss";

    /// <summary>(input - target)^2, reduced; input and target must have the same shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.MseLoss(input, target, Reduction);
}

/// <summary>Mean absolute error (nn.L1Loss).</summary>
public sealed class L1Loss(Reduction reduction = Reduction.Mean) : Loss(reduction)
{
    /// <summary>|input - target|, reduced; input and target must have the same shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.L1Loss(input, target, Reduction);
}

/// <summary>Quadratic below beta, linear above (nn.SmoothL1Loss).</summary>
public sealed class SmoothL1Loss(Reduction reduction = Reduction.Mean, double beta = 1) : Loss(reduction)
{
    /// <summary>Where the loss turns from quadratic to linear (default 1; 0 gives L1).</summary>
    public double Beta { get; } = beta;

    /// <summary>Smooth L1 of input - target, reduced; input and target must have the same shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.SmoothL1Loss(input, target, Reduction, Beta);
}

/// <summary>Quadratic below delta, linear (slope delta) above (nn.HuberLoss).</summary>
public sealed class HuberLoss(Reduction reduction = Reduction.Mean, double delta = 1) : Loss(reduction)
{
    /// <summary>Where the loss turns from quadratic to linear (default 1; must be positive).</summary>
    public double Delta { get; } = delta;

    /// <summary>Huber loss of input - target, reduced; input and target must have the same shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.HuberLoss(input, target, Reduction, Delta);
}
