namespace DeepSharp.NN;

public abstract partial class Module
{
    private List<Action<Module, object?>>? _forwardPreHooks;
    private List<Action<Module, object?, object?>>? _forwardHooks;
    private List<Action<Module, Tensor>>? _backwardHooks;

    internal bool HasHooks => _forwardPreHooks is { Count: > 0 } || _forwardHooks is { Count: > 0 } || _backwardHooks is { Count: > 0 };

    /// <summary>Called with (module, input) before every Forward run through Call.</summary>
    public HookHandle RegisterForwardPreHook(Action<Module, object?> hook) => AddHook(ref _forwardPreHooks, hook);

    /// <summary>
    /// Called with (module, input, output) after every Forward run through Call (containers call
    /// their children through Call, so hooks on inner layers fire too). Dispose the handle to remove it.
    /// </summary>
    public HookHandle RegisterForwardHook(Action<Module, object?, object?> hook) => AddHook(ref _forwardHooks, hook);

    /// <summary>
    /// Called with (module, gradient of the loss w.r.t. the module's output) during Backward.
    /// Applies to modules whose output is a Tensor; implemented with Tensor.RegisterHook on each output.
    /// </summary>
    public HookHandle RegisterBackwardHook(Action<Module, Tensor> hook) => AddHook(ref _backwardHooks, hook);

    private static HookHandle AddHook<T>(ref List<T>? list, T hook) where T : Delegate
    {
        ArgumentNullException.ThrowIfNull(hook);
        var hooks = list ??= [];
        hooks.Add(hook);
        return new HookHandle(() => hooks.Remove(hook));
    }

    /// <summary>
    /// The one place a module call runs (every Call goes through here): marks the call (<see cref="EnterCall"/>),
    /// then, when any hook is registered, runs the forward pre-hooks with <paramref name="input"/>,
    /// <paramref name="forward"/>, the forward hooks with (input, output), and hooks the output's gradient for the
    /// backward hooks when the output is a Tensor (a tuple or record of tensors gets no backward hook, as before).
    /// Without hooks it is EnterCall and <paramref name="forward"/> only: <paramref name="input"/> is not boxed, and
    /// callers pass a static lambda with the other arguments in <paramref name="args"/>, so nothing is allocated.
    /// </summary>
    /// <param name="input">What the hooks see as the module's input (the first argument of a multi-argument Call).</param>
    /// <param name="args">The module and any further arguments <paramref name="forward"/> needs.</param>
    /// <param name="forward">The module's Forward over (input, args); a static lambda.</param>
    private protected TOut CallWithHooks<TIn, TArgs, TOut>(TIn input, TArgs args, Func<TIn, TArgs, TOut> forward)
    {
        using var call = EnterCall();
        if (!HasHooks) return forward(input, args);
        RunForwardPreHooks(input);
        var output = forward(input, args);
        RunForwardHooks(input, output);
        if (output is Tensor t)
        {
            var hooked = AttachBackwardHooks(t);
            if (!ReferenceEquals(hooked, t)) output = (TOut)(object)hooked;
        }
        return output;
    }

    private void RunForwardPreHooks(object? input)
    {
        if (_forwardPreHooks is not { Count: > 0 } hooks) return;
        foreach (var hook in hooks.ToArray()) hook(this, input);
    }

    private void RunForwardHooks(object? input, object? output)
    {
        if (_forwardHooks is not { Count: > 0 } hooks) return;
        foreach (var hook in hooks.ToArray()) hook(this, input, output);
    }

    /// <summary>
    /// Hooks the gradient of <paramref name="output"/> for the backward hooks. A leaf output (an
    /// Identity passing a parameter through) is first aliased by a recorded view, so the hook sits
    /// on this call's graph node instead of piling up on the leaf.
    /// </summary>
    private Tensor AttachBackwardHooks(Tensor output)
    {
        if (_backwardHooks is not { Count: > 0 } || !output.RequiresGrad || !Autograd.IsGradEnabled) return output;
        if (output.IsLeaf) output = output.Reshape(output.ShapeArray);
        var hooks = _backwardHooks;
        output.RegisterHook(g =>
        {
            foreach (var hook in hooks.ToArray()) hook(this, g);
            return null;
        });
        return output;
    }

    /// <summary>Runs the module on a boxed input (used by Summary); only modules with a forward support it.</summary>
    private protected virtual object? CallBoxed(object? input) =>
        throw new InvalidOperationException($"{TypeName} has no forward (it is a container such as ModuleList or ModuleDict); call its children instead");
}
