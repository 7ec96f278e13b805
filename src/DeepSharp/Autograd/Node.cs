namespace DeepSharp;

/// <summary>
/// A step of the recorded computation: it knows how to turn the gradient of its output into
/// gradients of its inputs (the local chain rule). Edges point to the nodes of the inputs:
/// their own GradFn, or an <see cref="AccumulateGrad"/> for leaves, or null when no gradient is needed.
/// </summary>
public abstract class Node
{
    internal readonly Node?[] Next;

    // Engine bookkeeping, valid only during one Backward() call.
    internal int Dependencies;
    internal int VisitStamp;
    internal Tensor? PendingGrad;
    internal bool PendingOwned;

    internal List<Func<Tensor, Tensor?>>? PreHooks;

    /// <summary>A node with <paramref name="inputs"/> edges, all null until set.</summary>
    protected Node(int inputs) => Next = inputs == 0 ? [] : new Node?[inputs];

    /// <summary>A node with one input; the edge points to the input's GradFn or gradient accumulator (null when it needs no gradient).</summary>
    protected Node(Tensor input) => Next = [input.GradEdge()];

    /// <summary>A node with two inputs, one edge each.</summary>
    protected Node(Tensor a, Tensor b) => Next = [a.GradEdge(), b.GradEdge()];

    /// <summary>A node with three inputs, one edge each.</summary>
    protected Node(Tensor a, Tensor b, Tensor c) => Next = [a.GradEdge(), b.GradEdge(), c.GradEdge()];

    /// <summary>A node with one edge per input, in order.</summary>
    protected Node(ReadOnlySpan<Tensor> inputs)
    {
        Next = new Node?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) Next[i] = inputs[i].GradEdge();
    }

    /// <summary>PyTorch-style name, e.g. MulBackward.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>The nodes gradients flow to, one per input (null where no gradient is needed).</summary>
    public IReadOnlyList<Node?> NextFunctions => Next;

    /// <summary>True when input <paramref name="i"/> needs a gradient.</summary>
    protected bool NeedsGrad(int i) => Next[i] is not null;

    /// <summary>Gradients with respect to each input (null where not needed), given the output gradient.</summary>
    protected internal abstract Tensor?[] Backward(Tensor grad);

    /// <summary>Drops saved tensors once Backward has run without retain-graph.</summary>
    protected internal virtual void ReleaseSaved() { }

    /// <summary>The node's <see cref="Name"/> in angle brackets, e.g. "&lt;MulBackward&gt;".</summary>
    public override string ToString() => $"<{Name}>";
}

/// <summary>The sink for a leaf tensor: runs its hooks and adds the gradient into <see cref="Tensor.Grad"/>.</summary>
public sealed class AccumulateGrad : Node
{
    internal readonly Tensor Variable;

    internal List<Action<Tensor>>? PostAccumulateHooks;

    internal AccumulateGrad(Tensor variable) : base(0) => Variable = variable;

    /// <inheritdoc/>
    public override string Name => "AccumulateGrad";

    /// <summary>Not used: the engine adds the gradient into the leaf directly.</summary>
    /// <exception cref="InvalidOperationException">Always.</exception>
    protected internal override Tensor?[] Backward(Tensor grad) => throw new InvalidOperationException("AccumulateGrad is applied by the engine");

    internal void Accumulate(Tensor grad, bool owned)
    {
        var v = Variable;
        if (!grad.ShapeArray.AsSpan().SequenceEqual(v.ShapeArray))
            throw new InvalidOperationException($"backward: gradient of shape {Shapes.Format(grad.ShapeArray)} does not match the leaf's shape {Shapes.Format(v.ShapeArray)}");
        if (v.Grad is null)
            v.Grad = owned && grad.IsContiguous ? grad : grad.Clone();
        else
            v.Grad.AddInPlaceRaw(grad);
    }

    internal void RunPostAccumulateHooks()
    {
        if (PostAccumulateHooks is not { Count: > 0 } hooks) return;
        foreach (var hook in hooks.ToArray()) hook(Variable);
    }
}

/// <summary>
/// A tensor saved for backward together with its version at save time. If the storage is
/// written in place before backward reads it, the gradient would be silently wrong; refuse instead.
/// </summary>
internal struct SavedTensor
{
    private Tensor? _tensor;
    private int _version;
    private bool _released;

    public SavedTensor(Tensor tensor)
    {
        _tensor = tensor;
        _version = tensor.Storage.Version;
        _released = false;
    }

    public readonly bool IsSet => _tensor is not null || _released;

    public readonly Tensor Unpack(Node owner)
    {
        if (_released)
            throw new InvalidOperationException(
                $"{owner.Name}: trying to backward through the graph a second time (or to read saved tensors after they were freed). " +
                "Saved intermediate values are freed when Backward() runs; call Backward(retainGraph: true) to backward through the graph again.");
        var t = _tensor ?? throw new InvalidOperationException($"{owner.Name}: saved tensor was never set");
        if (t.Storage.Version != _version)
            throw new InvalidOperationException(
                $"{owner.Name}: one of the tensors needed for gradient computation has been modified by an in-place operation: " +
                $"[{t.Describe()}] is at version {t.Storage.Version}; expected version {_version}. " +
                "Use an out-of-place op (for example x = x + y instead of x.AddInPlace(y)) or clone the tensor before modifying it.");
        return t;
    }

    public void Release()
    {
        if (_tensor is null) return;
        _tensor = null;
        _released = true;
    }
}

/// <summary>Removes a registered hook when disposed.</summary>
public sealed class HookHandle : IDisposable
{
    private Action? _remove;

    internal HookHandle(Action remove) => _remove = remove;

    /// <summary>Removes the hook; calling it again does nothing.</summary>
    public void Dispose()
    {
        _remove?.Invoke();
        _remove = null;
    }
}
