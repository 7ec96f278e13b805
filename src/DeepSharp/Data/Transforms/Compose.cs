namespace DeepSharp.Data;

/// <summary>
/// Applies transforms in order, all drawing from the batch's generator (torchvision's Compose).
/// Same behaviour as <see cref="Transforms.Compose"/>, plus the list of steps and a readable
/// description for logs.
/// </summary>
public sealed class Compose : ITransform
{
    private readonly ITransform[] _steps;

    public Compose(params ITransform[] steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        for (int i = 0; i < steps.Length; i++)
            if (steps[i] is null) throw new ArgumentNullException(nameof(steps), $"Compose: transform {i} is null");
        _steps = (ITransform[])steps.Clone();
    }

    public IReadOnlyList<ITransform> Steps => _steps;

    public Tensor Apply(Tensor batch, Generator generator)
    {
        foreach (var t in _steps) batch = t.Apply(batch, generator);
        return batch;
    }

    public override string ToString() => $"Compose({string.Join(", ", (IEnumerable<ITransform>)_steps)})";
}
