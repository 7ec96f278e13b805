using System.Globalization;

namespace DeepSharp.NN;

/// <summary>
/// Base of every layer and model: owns parameters, buffers and child modules, registered
/// explicitly by name (no reflection over fields, so the library stays AOT-compatible). Names and
/// traversal order follow PyTorch, so state-dict keys such as <c>0.weight</c> or <c>fc1.bias</c> match.
/// Layers with a forward derive from <see cref="Module{TIn, TOut}"/>; the state dict, dtype
/// conversion, hooks and the summary live in the other Module.*.cs files.
/// <para>
/// A child that was assigned to a field but never passed to <see cref="RegisterModule{T}"/> would be invisible to
/// Parameters(), StateDict() and the optimizer. It cannot be found without reflection, but it is always called in
/// its parent's forward: every Call checks that the module being called is registered somewhere under the module
/// whose Call is running at the bottom of this thread's call stack, and throws otherwise (see <see cref="EnterCall"/>).
/// </para>
/// </summary>
public abstract partial class Module
{
    private readonly OrderedDictionary<string, Tensor> _parameters = [];
    private readonly OrderedDictionary<string, Buffer> _buffers = [];
    private readonly OrderedDictionary<string, Module> _modules = [];

    private readonly record struct Buffer(Tensor? Value, bool Persistent);

    // Modules whose Call is running on this thread, outermost first; bumped on every RegisterModule anywhere, so
    // cached descendant sets know when they are stale.
    [ThreadStatic] private static List<Module>? t_calls;
    private static int s_structureVersion;
    private (int Version, HashSet<Module> Set)? _descendants;

    /// <summary>True in training mode (the default); dropout and batch norm behave differently in eval mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Short type name used by ToString and Summary (the class name by default).</summary>
    public virtual string TypeName => GetType().Name;

    // ---- registration ----

    /// <summary>Registers a learnable tensor under <paramref name="name"/> and sets its RequiresGrad. Re-registering a name replaces it.</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        CheckName("RegisterParameter", name, _parameters);
        if (!value.IsLeaf)
            throw new ArgumentException($"RegisterParameter: parameter '{name}' of {TypeName} must be a leaf tensor (it has GradFn {value.GradFn}); pass value.Detach()");
        if (!value.IsFloatingPoint)
            throw new ArgumentException($"RegisterParameter: parameter '{name}' of {TypeName} must be float32 or float64, got {value.DType.Name()}");
        value.RequiresGrad = true;
        _parameters[name] = value;
        return value;
    }

    /// <summary>
    /// Registers state that is not learned (running statistics, class weights). Persistent buffers
    /// are saved in the state dict; null buffers are kept as names only, as PyTorch.
    /// </summary>
    protected void RegisterBuffer(string name, Tensor? value, bool persistent = true)
    {
        CheckName("RegisterBuffer", name, _buffers);
        _buffers[name] = new Buffer(value, persistent);
    }

    /// <summary>Registers a child module; its parameters appear under <c>name.</c>. Re-registering a name replaces it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckName("RegisterModule", name, _modules);
        if (ReferenceEquals(module, this)) throw new ArgumentException($"RegisterModule: {TypeName} cannot be its own child");
        _modules[name] = module;
        Interlocked.Increment(ref s_structureVersion);
        return module;
    }

    /// <summary>
    /// Marks this module's Call as running until the scope is disposed. Called at the start of every Call, by
    /// <see cref="CallWithHooks"/> (the typed Call of <see cref="Module{TIn, TOut}"/> and the multi-argument ones of
    /// recurrent, attention and transformer layers all go through it). When another module's Call is already running on this thread, this module must be that outermost
    /// module or one of its registered descendants: a layer kept in a field without RegisterModule is caught at the
    /// first forward pass, with its name, instead of silently never training and never being saved.
    /// </summary>
    private protected CallScope EnterCall()
    {
        var calls = t_calls ??= [];
        if (calls.Count > 0)
        {
            var root = calls[0];
            if (!ReferenceEquals(root, this) && !root.Descendants().Contains(this))
                throw new InvalidOperationException(
                    $"{TypeName} was called inside {calls[^1].TypeName}'s forward but is not registered in {root.TypeName} or any of its submodules, " +
                    $"so its parameters are missing from Parameters(), StateDict() and the optimizer: it would never train and never be saved. " +
                    $"Register it where it is created, e.g. `_layer = RegisterModule(\"layer\", new {GetType().Name}(...));`.");
        }
        calls.Add(this);
        return new CallScope(calls);
    }

    private protected readonly struct CallScope(List<Module> calls) : IDisposable
    {
        public void Dispose() => calls.RemoveAt(calls.Count - 1);
    }

    /// <summary>This module and all its registered descendants (cached until any module registers a child).</summary>
    private HashSet<Module> Descendants()
    {
        int version = Volatile.Read(ref s_structureVersion);
        if (_descendants is { } cached && cached.Version == version) return cached.Set;
        var set = new HashSet<Module>(NamedModules().Select(m => m.Module), ReferenceEqualityComparer.Instance);
        _descendants = (version, set);
        return set;
    }

    private void CheckName<T>(string op, string name, OrderedDictionary<string, T> own)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException($"{op}: the name must be non-empty ({TypeName})");
        if (name.Contains('.', StringComparison.Ordinal)) throw new ArgumentException($"{op}: name '{name}' must not contain '.' ({TypeName})");
        bool taken = (!ReferenceEquals(own, _parameters) && _parameters.ContainsKey(name))
            || (!ReferenceEquals(own, _buffers) && _buffers.ContainsKey(name))
            || (!ReferenceEquals(own, _modules) && _modules.ContainsKey(name));
        if (taken) throw new ArgumentException($"{op}: '{name}' is already registered in {TypeName} as another kind (parameter, buffer or module)");
    }

    /// <summary>Child modules can be replaced by subclasses, e.g. to swap a classifier head.</summary>
    protected Module? GetModule(string name) => _modules.TryGetValue(name, out var m) ? m : null;

    // ---- traversal (PyTorch order: own members, then children in registration order, depth first) ----

    /// <summary>Direct children in registration order.</summary>
    public IEnumerable<Module> Children() => NamedChildren().Select(c => c.Module);

    /// <summary>Direct children with their names, in registration order; a module registered twice appears once.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        foreach (var (name, m) in _modules)
            if (seen.Add(m)) yield return (name, m);
    }

    /// <summary>This module (name "") and every descendant with its dotted path, pre-order, each module once.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        var result = new List<(string, Module)>();
        Collect(this, "", seen, result);
        return result;

        static void Collect(Module m, string prefix, HashSet<Module> seen, List<(string, Module)> result)
        {
            if (!seen.Add(m)) return;
            result.Add((prefix, m));
            foreach (var (name, child) in m._modules) Collect(child, Join(prefix, name), seen, result);
        }
    }

    /// <summary>This module and every descendant, pre-order, each module once (see <see cref="NamedModules"/>).</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Module);

    /// <summary>Every parameter with its dotted name (<c>0.weight</c>); a tensor shared by two modules appears once.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (name, p) in m._parameters)
                if (seen.Add(p)) yield return (Join(prefix, name), p);
    }

    /// <summary>Every parameter, in <see cref="NamedParameters"/> order; shared tensors appear once. Pass these to an optimizer.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every non-null buffer (persistent or not) with its dotted name.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var (name, b) in m._buffers)
                if (b.Value is { } value && seen.Add(value)) yield return (Join(prefix, name), value);
    }

    /// <summary>Every non-null buffer (e.g. BatchNorm's running statistics), in <see cref="NamedBuffers"/> order.</summary>
    public IEnumerable<Tensor> Buffers() => NamedBuffers().Select(b => b.Buffer);

    /// <summary>Total number of parameter elements (shared parameters counted once).</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Numel);

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    // ---- modes and gradients ----

    /// <summary>Sets training mode on this module and all descendants; returns this.</summary>
    public Module Train(bool on = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = on;
        return this;
    }

    /// <summary>Evaluation mode (same as Train(false)): dropout becomes the identity.</summary>
    public Module Eval() => Train(false);

    /// <summary>Clears every parameter's gradient (sets .Grad to null, PyTorch's set_to_none default).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    // ---- printing ----

    /// <summary>Layer settings shown inside the parentheses of ToString, e.g. <c>in_features=784, out_features=10, bias=True</c>.</summary>
    protected virtual string ExtraRepr => "";

    /// <summary>PyTorch-style nested description of the module tree.</summary>
    public override string ToString()
    {
        if (_modules.Count == 0) return $"{TypeName}({ExtraRepr})";
        var sb = new System.Text.StringBuilder();
        sb.Append(TypeName).Append('(');
        if (ExtraRepr.Length > 0) sb.Append("\n  ").Append(ExtraRepr);
        foreach (var (name, child) in _modules)
        {
            var lines = child.ToString().Split('\n');
            sb.Append("\n  (").Append(name).Append("): ").Append(lines[0]);
            for (int i = 1; i < lines.Length; i++) sb.Append("\n  ").Append(lines[i]);
        }
        return sb.Append("\n)").ToString();
    }

    private protected static string PyBool(bool value) => value ? "True" : "False";

    private protected static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
