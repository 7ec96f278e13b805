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

    // ---- saved tensors: declared once by the op, checked on read, released here ----

    private SavedSlots _saved;
    private SavedTensor[]? _savedOverflow;
    private byte _savedCount;
    private bool _savedReleased;
    private IDisposable? _savedResource;

    /// <summary>
    /// Saves tensors the backward pass will read, in slots 0, 1, ... (a null leaves its slot empty, e.g. a
    /// tensor only needed for an input that needs no gradient). Each is saved with its storage version, so
    /// <see cref="Saved"/> refuses it if an in-place op changed it since. The node releases them itself once
    /// Backward has run without retain-graph; ops never free saved tensors by hand.
    /// </summary>
    /// <param name="tensors">The tensors to save, in slot order; replaces anything saved before.</param>
    protected void SaveForBackward(params ReadOnlySpan<Tensor?> tensors)
    {
        if (tensors.Length > byte.MaxValue)
            throw new ArgumentException($"{Name}: at most {byte.MaxValue} tensors can be saved for backward, got {tensors.Length}");
        for (int i = 0; i < _savedCount; i++) SlotRef(i) = default;
        _savedOverflow = tensors.Length > SavedSlots.Length ? new SavedTensor[tensors.Length - SavedSlots.Length] : null;
        _savedCount = (byte)tensors.Length;
        for (int i = 0; i < tensors.Length; i++)
            SlotRef(i) = tensors[i] is { } t ? new SavedTensor(t) : default;
    }

    /// <summary>The tensor saved in slot <paramref name="index"/> by <see cref="SaveForBackward"/>.</summary>
    /// <exception cref="InvalidOperationException">The saved tensors were already released (a second backward
    /// without retain-graph), the slot was left empty, or the tensor was modified in place since it was saved.</exception>
    protected Tensor Saved(int index)
    {
        if (_savedReleased)
            throw new InvalidOperationException(
                $"{Name}: trying to backward through the graph a second time (or to read saved tensors after they were freed). " +
                "Saved intermediate values are freed when Backward() runs; call Backward(retainGraph: true) to backward through the graph again.");
        if ((uint)index >= _savedCount || SlotRef(index).Tensor is null)
            throw new InvalidOperationException($"{Name}: no tensor was saved for backward in slot {index} ({_savedCount} slot(s) saved)");
        return SlotRef(index).Unpack(this);
    }

    /// <summary>The tensor saved in slot <paramref name="index"/>, or null when that slot was left empty (an optional operand).</summary>
    internal Tensor? SavedOrNull(int index) =>
        !_savedReleased && ((uint)index >= _savedCount || SlotRef(index).Tensor is null) ? null : Saved(index);

    /// <summary>How many slots <see cref="SaveForBackward"/> filled (empty slots included).</summary>
    protected int SavedCount => _savedCount;

    /// <summary>Keeps a non-tensor resource (kernel workspace) alive until the saved tensors are released, then disposes it.</summary>
    internal void SaveResource(IDisposable resource) => _savedResource = resource;

    /// <summary>The resource kept by <see cref="SaveResource"/>, or null once released.</summary>
    internal IDisposable? SavedResource => _savedReleased ? null : _savedResource;

    /// <summary>True once the saved tensors were released (Backward ran without retain-graph).</summary>
    internal bool SavedReleased => _savedReleased;

    /// <summary>Drops saved tensors and resources once Backward has run without retain-graph (the engine calls this).</summary>
    internal void ReleaseSaved()
    {
        for (int i = 0; i < _savedCount; i++) SlotRef(i) = default;
        _savedOverflow = null;
        _savedReleased = true;
        _savedResource?.Dispose();
        _savedResource = null;
    }

    private ref SavedTensor SlotRef(int i) => ref i < SavedSlots.Length ? ref _saved[i] : ref _savedOverflow![i - SavedSlots.Length];

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
internal readonly struct SavedTensor(Tensor tensor)
{
    public readonly Tensor? Tensor = tensor;
    private readonly int _version = tensor.Storage.Version;

    public Tensor Unpack(Node owner)
    {
        var t = Tensor!;
        if (t.Storage.Version != _version)
            throw new InvalidOperationException(
                $"{owner.Name}: one of the tensors needed for gradient computation has been modified by an in-place operation: " +
                $"[{t.Describe()}] is at version {t.Storage.Version}; expected version {_version}. " +
                "Use an out-of-place op (for example x = x + y instead of x.AddInPlace(y)) or clone the tensor before modifying it.");
        return t;
    }
}

/// <summary>Inline room for the tensors a node saves (no array per recorded op); more spill to an array.</summary>
[System.Runtime.CompilerServices.InlineArray(Length)]
internal struct SavedSlots
{
    public const int Length = 5;
    private SavedTensor _first;
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
