namespace DeepSharp.NN;

public static partial class Functional
{
    /// <summary>
    /// Kullback-Leibler divergence with <paramref name="input"/> as log-probabilities: elementwise
    /// t (log t - x) (0 where t = 0), or with <paramref name="logTarget"/> e^t (t - x). Use
    /// <see cref="Reduction.BatchMean"/> for the true KL per sample; Mean (PyTorch's default) also
    /// divides by the number of classes.
    /// </summary>
    public static Tensor KlDiv(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, bool logTarget = false)
    {
        const string op = "kl_div";
        CheckPair(op, input, target);
        Tensor loss;
        if (logTarget)
        {
            loss = target.Exp() * (target - input);
        }
        else
        {
            // xlogy(t, t): 0 at t = 0 (and a zero gradient there), NaN for negative t as PyTorch.
            var isZero = target.Eq(0);
            var safe = Tensor.Where(isZero, Tensor.Scalar(1, target.DType), target);
            loss = Tensor.Where(isZero, Tensor.Scalar(0, target.DType), target * safe.Log()) - target * input;
        }
        if (reduction != Reduction.BatchMean) return Reduce(op, loss, reduction);
        var total = loss.Sum();
        return input.Rank == 0 ? total : total / input.ShapeArray[0];
    }
}

/// <summary>KL divergence on log-probability inputs (nn.KLDivLoss); prefer Reduction.BatchMean.</summary>
public sealed class KLDivLoss(Reduction reduction = Reduction.Mean, bool logTarget = false) : Loss(reduction)
{
    /// <summary>Whether the target is given as log-probabilities too.</summary>
    public bool LogTarget { get; } = logTarget;

    /// <summary>KL(target || exp(input)) for log-probabilities <paramref name="input"/> and a target (probabilities, or log-probabilities with <see cref="LogTarget"/>) of a broadcastable shape.</summary>
    public override Tensor Forward(Tensor input, Tensor target) => Functional.KlDiv(input, target, Reduction, LogTarget);
}
