namespace DeepSharp.NN;

/// <summary>
/// A module with a typed forward. The split is the same in every layer:
/// <list type="bullet">
/// <item>A layer implements <see cref="Forward"/>: the computation and nothing else (no hooks, no bookkeeping).</item>
/// <item>Callers, containers included, use <see cref="Call"/> (PyTorch's __call__), which runs the hooks around
/// Forward: the registration check of the call stack, the forward pre-hooks, Forward, the forward hooks, and the
/// backward hooks on a Tensor output. That sequence is written once, in Module.CallWithHooks (Module.Hooks.cs).</item>
/// <item>A layer whose forward takes more arguments (a recurrent cell's state, attention's key and value, a
/// transformer layer's masks) adds a Forward overload and a matching one-line Call overload that passes them to
/// CallWithHooks; the hooks see the first argument as the input. (A loss instead makes its input the
/// (input, target) pair, so its hooks see the pair.)</item>
/// </list>
/// </summary>
public abstract class Module<TIn, TOut> : Module
{
    /// <summary>The computation of this module, implemented by each layer. Call <see cref="Call"/> instead so hooks fire.</summary>
    public abstract TOut Forward(TIn input);

    /// <summary>Runs <see cref="Forward"/> inside the hooks: forward pre-hooks, Forward, forward hooks, and the backward hooks on a Tensor output.</summary>
    public TOut Call(TIn input) => CallWithHooks(input, this, static (x, m) => m.Forward(x));

    /// <summary>Typed forward hook: (module, input, output).</summary>
    public HookHandle RegisterForwardHook(Action<Module<TIn, TOut>, TIn, TOut> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        return base.RegisterForwardHook((m, i, o) => hook((Module<TIn, TOut>)m, (TIn)i!, (TOut)o!));
    }

    private protected override object? CallBoxed(object? input) => input is TIn typed
        ? Call(typed)
        : throw new ArgumentException($"{TypeName} takes {typeof(TIn).Name} input, got {input?.GetType().Name ?? "null"}");
}
