namespace DeepSharp.Data;

/// <summary>
/// A per-batch transform of the inputs (augmentation, normalisation), run by the
/// <see cref="DataLoader"/> on its background worker. Random transforms must draw only from the
/// generator they are given: the loader derives it from the epoch and batch number, so results are
/// reproducible and independent of prefetch timing. Implementations must not keep per-call state
/// that depends on the order batches are processed in.
/// </summary>
public interface ITransform
{
    /// <summary>Transforms a batch of inputs [N, ...]; may return the same tensor or a new one.</summary>
    Tensor Apply(Tensor batch, Generator generator);
}

/// <summary>Transform helpers.</summary>
public static class Transforms
{
    /// <summary>Wraps a function as a transform.</summary>
    public static ITransform From(Func<Tensor, Generator, Tensor> transform) => new FuncTransform(transform);

    /// <summary>Applies transforms in order, all drawing from the batch's generator.</summary>
    public static ITransform Compose(params ITransform[] transforms) => new ComposedTransform(transforms);

    private sealed class FuncTransform(Func<Tensor, Generator, Tensor> transform) : ITransform
    {
        private readonly Func<Tensor, Generator, Tensor> _transform = transform ?? throw new ArgumentNullException(nameof(transform));

        public Tensor Apply(Tensor batch, Generator generator) => _transform(batch, generator);
    }

    private sealed class ComposedTransform(ITransform[] transforms) : ITransform
    {
        private readonly ITransform[] _transforms = (ITransform[])transforms.Clone();

        public Tensor Apply(Tensor batch, Generator generator)
        {
            foreach (var t in _transforms) batch = t.Apply(batch, generator);
            return batch;
        }
    }
}
