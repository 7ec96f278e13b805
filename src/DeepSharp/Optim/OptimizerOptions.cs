namespace DeepSharp.Optim;

/// <summary>
/// The hyper-parameters of one parameter group. Each optimizer has a sealed record deriving from
/// this one (<c>new AdamOptions(Lr: 1e-3)</c>); schedulers change the learning rate with
/// <c>options with { Lr = ... }</c>, which keeps the derived type.
/// </summary>
public abstract record OptimizerOptions(double Lr)
{
    /// <summary>The hyper-parameters under PyTorch's names, booleans as 0/1: what a state dict stores per group.</summary>
    public abstract IEnumerable<(string Name, double Value)> HyperParameters();

    /// <summary>Options of the same type rebuilt from <see cref="HyperParameters"/> values (state-dict loading).</summary>
    public abstract OptimizerOptions FromHyperParameters(Func<string, double> value);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid hyper-parameter.</summary>
    public virtual void Validate()
    {
        if (!(Lr >= 0)) throw new ArgumentOutOfRangeException(nameof(Lr), Lr, $"{GetType().Name}: invalid learning rate {Lr} (expected >= 0)");
    }

    /// <summary>
    /// The momentum-like coefficient that OneCycleLR cycles (SGD and RMSprop momentum, Adam's
    /// beta1), or null when the optimizer has none.
    /// </summary>
    public virtual double? CycledMomentum => null;

    /// <summary>These options with <see cref="CycledMomentum"/> replaced.</summary>
    public virtual OptimizerOptions WithCycledMomentum(double momentum) =>
        throw new NotSupportedException($"{GetType().Name} has neither momentum nor betas to cycle");

    /// <summary>Throws unless 0 &lt;= value (NaN fails too).</summary>
    protected void NonNegative(double value, string name)
    {
        if (!(value >= 0)) throw new ArgumentOutOfRangeException(name, value, $"{GetType().Name}: invalid {name} {value} (expected >= 0)");
    }

    /// <summary>1 for true, 0 for false: how <see cref="HyperParameters"/> stores booleans.</summary>
    protected static double Flag(bool value) => value ? 1 : 0;
}
