namespace DeepSharp;

public sealed partial class Tensor
{
    private bool _requiresGrad;
    private AccumulateGrad? _accumulator;

    /// <summary>The node that produced this tensor (null for leaves).</summary>
    public Node? GradFn { get; internal set; }

    /// <summary>The accumulated gradient of a leaf after Backward() (null until then or after ZeroGrad).</summary>
    public Tensor? Grad { get; set; }

    /// <summary>Leaves are tensors not produced by a recorded op: user-created tensors and parameters.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Whether gradients flow to this tensor. Only leaves may change it; only floating-point tensors may require grad.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad || GradFn is not null;
        set
        {
            if (GradFn is not null)
            {
                if (!value) throw new InvalidOperationException("RequiresGrad: only leaf tensors can change RequiresGrad; use Detach() to get a tensor without history");
                return;
            }
            if (value && !IsFloatingPoint)
                throw new InvalidOperationException($"RequiresGrad: only floating-point tensors can require gradients, this one is {DType.Name()}");
            _requiresGrad = value;
        }
    }

    /// <summary>Sets RequiresGrad and returns this tensor (PyTorch's requires_grad_).</summary>
    public Tensor SetRequiresGrad(bool value = true)
    {
        RequiresGrad = value;
        return this;
    }

    /// <summary>The node gradients for this tensor flow into, or null when it needs none.</summary>
    internal Node? GradEdge() => GradFn ?? (_requiresGrad ? _accumulator ??= new AccumulateGrad(this) : null);

    /// <summary>
    /// Computes the gradient of this tensor with respect to every leaf that requires grad and adds
    /// it to their .Grad. A non-scalar output needs <paramref name="gradient"/> (dL/dthis).
    /// Saved values are freed afterwards unless <paramref name="retainGraph"/>.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) =>
        Autograd.Run(this, gradient, retainGraph, null, null);

    /// <summary>A tensor sharing this one's storage but with no history and RequiresGrad = false.</summary>
    public Tensor Detach() => WithLayout(_layout);

    /// <summary>
    /// Registers a function called with this tensor's gradient during Backward; it may return a
    /// replacement gradient (or null to keep it). Dispose the handle to remove it.
    /// </summary>
    public HookHandle RegisterHook(Func<Tensor, Tensor?> hook)
    {
        var node = GradEdge() ?? throw new InvalidOperationException("RegisterHook: cannot register a hook on a tensor that does not require grad");
        var hooks = node.PreHooks ??= [];
        hooks.Add(hook);
        return new HookHandle(() => hooks.Remove(hook));
    }

    /// <summary>
    /// Registers a function called with this leaf once Backward has added its gradient into .Grad (PyTorch's
    /// register_post_accumulate_grad_hook): the moment a parameter's gradient is final for this backward pass,
    /// which data-parallel training uses to start communicating while the rest of backward runs.
    /// </summary>
    public HookHandle RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!IsLeaf || !_requiresGrad) throw new InvalidOperationException("RegisterPostAccumulateGradHook: only leaf tensors that require grad accumulate gradients");
        var node = (AccumulateGrad)GradEdge()!;
        var hooks = node.PostAccumulateHooks ??= [];
        hooks.Add(hook);
        return new HookHandle(() => hooks.Remove(hook));
    }

    /// <summary>Keeps the gradient of a non-leaf tensor in .Grad after Backward.</summary>
    public void RetainGrad()
    {
        if (IsLeaf) return;
        RegisterHook(g =>
        {
            Grad = Grad is null ? g.Clone() : Grad + g;
            return null;
        });
    }
}
