namespace DeepSharp.Optim;

/// <summary>
/// One parameter's optimizer state: a step count and buffers shaped like the parameter (exp_avg,
/// momentum_buffer, ...), allocated on the parameter's first update and reused from then on.
/// </summary>
public sealed class ParamState
{
    private readonly Tensor?[] _buffers;

    internal ParamState(int bufferCount) => _buffers = new Tensor?[bufferCount];

    /// <summary>Number of updates applied (PyTorch keeps it as a float tensor; it is exact in a double).</summary>
    public double Step { get; internal set; }

    /// <summary>The buffers in the optimizer's <see cref="Optimizer.BufferNames"/> order; null where not (yet) used.</summary>
    public IReadOnlyList<Tensor?> Buffers => _buffers;

    internal Tensor?[] BufferArray => _buffers;
}
