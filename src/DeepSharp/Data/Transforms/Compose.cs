namespace DeepSharp.Data;

/// <summary>
/// Applies transforms in order, all drawing from the batch's generator (torchvision's Compose).
/// Same behaviour as <see cref="Transforms.Compose"/>, plus the list of steps and a readable
/// description for logs.
/// </summary>
public sealed class Compose : ITransform
{
    private readonly ITransform[] _steps;

    /// <summary>Chains <paramref name="steps"/>, applied in order.</summary>
    /// <exception cref="ArgumentNullException">A step is null.</exception>
    public Compose(params ITransform[] steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        for (int i = 0; i < steps.Length; i++)
            if (steps[i] is null) throw new ArgumentNullException(nameof(steps), $"Compose: transform {i} is null");
        _steps = (ITransform[])steps.Clone();
    }

    /// <summary>The transforms, in the order they are applied.</summary>
    public IReadOnlyList<ITransform> Steps => _steps;

    /// <summary>Applies each step in turn to the batch, all with the same generator.</summary>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        foreach (var t in _steps) batch = t.Apply(batch, generator);
        return batch;
    }

    /// <summary>Lists the steps, e.g. <c>Compose(RandomHorizontalFlip(p=0.5), Normalize(mean=0.5, std=0.5))</c>.</summary>
    public override string ToString() => $"Compose({string.Join(", ", (IEnumerable<ITransform>)_steps)})";
}
