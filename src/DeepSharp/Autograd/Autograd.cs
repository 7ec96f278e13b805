namespace DeepSharp;

/// <summary>
/// Reverse-mode automatic differentiation: grad mode, the backward engine and gradient checking.
/// Ops record a <see cref="Node"/> on their output when grad mode is on and an input requires grad;
/// Backward() walks those nodes from the output back to the leaves.
/// </summary>
public static partial class Autograd
{
    [ThreadStatic] private static bool t_gradDisabled;
    private static int s_stamp;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsGradEnabled => !t_gradDisabled;

    /// <summary>Disables recording until disposed: <c>using var _ = Autograd.NoGrad();</c></summary>
    public static GradModeScope NoGrad() => SetGradEnabled(false);

    /// <summary>Re-enables recording inside a no-grad region until disposed.</summary>
    public static GradModeScope EnableGrad() => SetGradEnabled(true);

    /// <summary>
    /// Turns recording on or off for this thread until the returned scope is disposed, which restores the
    /// previous mode (torch.set_grad_enabled used as a context manager).
    /// </summary>
    public static GradModeScope SetGradEnabled(bool enabled)
    {
        var scope = new GradModeScope(!t_gradDisabled);
        t_gradDisabled = !enabled;
        return scope;
    }

    /// <summary>Restores the grad mode that was in effect before <see cref="SetGradEnabled"/>, <see cref="NoGrad"/> or <see cref="EnableGrad"/> when disposed.</summary>
    public readonly struct GradModeScope : IDisposable
    {
        private readonly bool _previous;
        internal GradModeScope(bool previous) => _previous = previous;
        /// <summary>Restores the previous grad mode on this thread.</summary>
        public void Dispose() => t_gradDisabled = !_previous;
    }

    internal static bool ShouldRecord(Tensor a) => !t_gradDisabled && a.RequiresGrad;

    internal static bool ShouldRecord(Tensor a, Tensor b) => !t_gradDisabled && (a.RequiresGrad || b.RequiresGrad);

    internal static bool ShouldRecord(ReadOnlySpan<Tensor> inputs)
    {
        if (t_gradDisabled) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>
    /// Gradients of <paramref name="output"/> with respect to <paramref name="inputs"/>, without
    /// touching any .Grad (like torch.autograd.grad). Inputs that do not influence the output get zeros.
    /// </summary>
    public static Tensor[] Grad(Tensor output, Tensor[] inputs, Tensor? gradOutput = null, bool retainGraph = false)
    {
        var capture = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < inputs.Length; i++)
        {
            var edge = inputs[i].GradEdge()
                ?? throw new ArgumentException($"Grad: input {i} ({inputs[i].Describe()}) does not require grad");
            capture[edge] = i;
        }
        var captured = new Tensor?[inputs.Length];
        Run(output, gradOutput, retainGraph, capture, captured);
        var result = new Tensor[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
            result[i] = captured[i] ?? Tensor.ZerosLike(inputs[i]);
        return result;
    }

    internal static void Run(Tensor root, Tensor? gradient, bool retainGraph, Dictionary<Node, int>? capture, Tensor?[]? captured)
    {
        var rootNode = root.GradEdge()
            ?? throw new InvalidOperationException($"backward: the tensor ({root.Describe()}) does not require grad and has no GradFn; set RequiresGrad = true on the inputs you want gradients for");
        bool owned;
        if (gradient is null)
        {
            if (root.Numel != 1)
                throw new InvalidOperationException($"backward: a gradient can only be created implicitly for one-element outputs, but the output has shape {Shapes.Format(root.ShapeArray)}; pass the output gradient explicitly");
            gradient = Tensor.OnesLike(root);
            owned = true;
        }
        else
        {
            if (!gradient.ShapeArray.AsSpan().SequenceEqual(root.ShapeArray) || gradient.DType != root.DType)
                throw new ArgumentException($"backward: gradient [{gradient.Describe()}] does not match the output [{root.Describe()}]");
            owned = false;
        }

        using var _ = NoGrad(); // backward formulas are not themselves recorded
        int stamp = Interlocked.Increment(ref s_stamp);
        CountDependencies(rootNode, stamp);

        rootNode.PendingGrad = gradient;
        rootNode.PendingOwned = owned;
        var ready = new Stack<Node>();
        ready.Push(rootNode);
        while (ready.Count > 0)
        {
            var node = ready.Pop();
            var grad = node.PendingGrad;
            bool gradOwned = node.PendingOwned;
            node.PendingGrad = null;
            Tensor?[]? grads = null;
            if (grad is not null)
            {
                if (node.PreHooks is not null)
                {
                    foreach (var hook in node.PreHooks.ToArray())
                    {
                        var replaced = hook(grad);
                        if (replaced is not null && !ReferenceEquals(replaced, grad))
                        {
                            CheckHookResult(node, grad, replaced);
                            grad = replaced;
                            gradOwned = false;
                        }
                    }
                }
                if (capture is not null && capture.TryGetValue(node, out int slot))
                    captured![slot] = captured[slot] is null ? grad : captured[slot]! + grad;
                if (node is AccumulateGrad acc)
                {
                    if (capture is null)
                    {
                        acc.Accumulate(grad, gradOwned);
                        acc.RunPostAccumulateHooks();
                    }
                    continue;
                }
                grads = node.Backward(grad);
                if (!retainGraph) node.ReleaseSaved();
            }

            var next = node.Next;
            for (int i = 0; i < next.Length; i++)
            {
                var child = next[i];
                if (child is null) continue;
                var g = grads?[i];
                if (g is not null) Deliver(child, g, IsOwned(g, i, grads!, grad!, gradOwned));
                if (--child.Dependencies == 0) ready.Push(child);
            }
        }
    }

    /// <summary>Counts, for every reachable node, how many edges point at it (iterative DFS: deep RNN graphs must not overflow the stack).</summary>
    private static void CountDependencies(Node root, int stamp)
    {
        var stack = new Stack<Node>();
        root.VisitStamp = stamp;
        root.Dependencies = 0;
        root.PendingGrad = null;
        stack.Push(root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            foreach (var child in node.Next)
            {
                if (child is null) continue;
                if (child.VisitStamp != stamp)
                {
                    child.VisitStamp = stamp;
                    child.Dependencies = 0;
                    child.PendingGrad = null;
                    stack.Push(child);
                }
                child.Dependencies++;
            }
        }
    }

    /// <summary>
    /// A gradient may be stored in a leaf's .Grad (and later updated in place) only if nobody
    /// else holds it: not the incoming gradient passed through unchanged, not another output.
    /// </summary>
    private static bool IsOwned(Tensor g, int index, Tensor?[] grads, Tensor incoming, bool incomingOwned)
    {
        if (ReferenceEquals(g.Storage, incoming.Storage) && !incomingOwned) return false;
        for (int j = 0; j < grads.Length; j++)
            if (j != index && grads[j] is { } other && ReferenceEquals(other.Storage, g.Storage)) return false;
        return true;
    }

    private static void Deliver(Node child, Tensor g, bool owned)
    {
        if (child.PendingGrad is null)
        {
            child.PendingGrad = g;
            child.PendingOwned = owned;
        }
        else if (child.PendingOwned && child.PendingGrad.IsContiguous)
        {
            child.PendingGrad.AddInPlaceRaw(g);
        }
        else
        {
            child.PendingGrad = child.PendingGrad + g;
            child.PendingOwned = true;
        }
    }

    private static void CheckHookResult(Node node, Tensor grad, Tensor replaced)
    {
        if (!replaced.ShapeArray.AsSpan().SequenceEqual(grad.ShapeArray) || replaced.DType != grad.DType)
            throw new InvalidOperationException($"hook on {node.Name}: returned gradient [{replaced.Describe()}] but [{grad.Describe()}] was expected");
    }
}
