namespace DeepSharp.NN;

/// <summary>
/// A module with a typed forward. Call it through <see cref="Call"/>, which runs the hooks around
/// <see cref="Forward"/> (PyTorch's __call__); containers call their children the same way.
/// </summary>
public abstract class Module<TIn, TOut> : Module
{
    /// <summary>The computation of this module. Call <see cref="Call"/> instead so hooks fire.</summary>
    public abstract TOut Forward(TIn input);

    /// <summary>Runs the forward pre-hooks, Forward, the forward hooks, and attaches the backward hooks.</summary>
    public TOut Call(TIn input)
    {
        using var call = EnterCall();
        if (!HasHooks) return Forward(input);
        RunForwardPreHooks(input);
        var output = Forward(input);
        RunForwardHooks(input, output);
        if (output is Tensor t)
        {
            var hooked = AttachBackwardHooks(t);
            if (!ReferenceEquals(hooked, t)) output = (TOut)(object)hooked;
        }
        return output;
    }

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
