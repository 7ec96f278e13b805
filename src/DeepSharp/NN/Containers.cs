using System.Collections;
using System.Globalization;

namespace DeepSharp.NN;

/// <summary>
/// Layers applied in order; children are named "0", "1", ... so parameters are <c>0.weight</c>,
/// <c>2.bias</c>, exactly as PyTorch's nn.Sequential. Supports collection initializers.
/// </summary>
public sealed class Sequential : Module<Tensor, Tensor>, IReadOnlyList<Module<Tensor, Tensor>>
{
    private readonly List<Module<Tensor, Tensor>> _layers = [];

    /// <summary>A sequence of the given layers, named "0", "1", ... in order.</summary>
    public Sequential(params Module<Tensor, Tensor>[] layers)
    {
        foreach (var layer in layers) Add(layer);
    }

    /// <summary>Appends a layer under the next index name.</summary>
    public Sequential Add(Module<Tensor, Tensor> layer)
    {
        RegisterModule(_layers.Count.ToString(CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    /// <summary>The layer at <paramref name="index"/>.</summary>
    public Module<Tensor, Tensor> this[int index] => _layers[index];

    /// <summary>Number of layers.</summary>
    public int Count => _layers.Count;

    /// <summary>Feeds the input through every layer in order (calling each with hooks) and returns the last output.</summary>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < _layers.Count; i++)
        {
            // Batch norm followed by ReLU runs as one op (same results, one pass over the activation less each way).
            if (_layers[i] is BatchNormBase norm && i + 1 < _layers.Count && _layers[i + 1] is Relu relu)
            {
                x = norm.CallThenRelu(x, relu);
                i++;
                continue;
            }
            x = _layers[i].Call(x);
        }
        return x;
    }

    /// <summary>Enumerates the layers in order.</summary>
    public IEnumerator<Module<Tensor, Tensor>> GetEnumerator() => _layers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// A list of submodules named "0", "1", ... with no forward of its own (PyTorch's nn.ModuleList);
/// the owner decides how to call them. Typed so that elements need no casts.
/// </summary>
public class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>A list of the given modules, named "0", "1", ... in order.</summary>
    public ModuleList(params T[] modules)
    {
        foreach (var m in modules) Add(m);
    }

    /// <summary>Appends a module under the next index name. Returns this list.</summary>
    public ModuleList<T> Add(T module)
    {
        RegisterModule(_items.Count.ToString(CultureInfo.InvariantCulture), module);
        _items.Add(module);
        return this;
    }

    /// <summary>The module at <paramref name="index"/>.</summary>
    public T this[int index] => _items[index];

    /// <summary>Number of modules.</summary>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public override string TypeName => "ModuleList";

    /// <summary>Enumerates the modules in order.</summary>
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A list of any modules (PyTorch's nn.ModuleList).</summary>
public sealed class ModuleList : ModuleList<Module>
{
    /// <summary>A list of the given modules, named "0", "1", ... in order.</summary>
    public ModuleList(params Module[] modules) : base(modules) { }
}

/// <summary>Submodules by name in insertion order, with no forward of its own (PyTorch's nn.ModuleDict).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1710", Justification = "PyTorch's name, kept so users find it")]
public class ModuleDict<T> : Module, IReadOnlyDictionary<string, T> where T : Module
{
    private readonly OrderedDictionary<string, T> _items = [];

    /// <summary>Adds (or replaces) the module under <paramref name="name"/>; its parameters appear as <c>name.weight</c>.</summary>
    public ModuleDict<T> Add(string name, T module)
    {
        RegisterModule(name, module);
        _items[name] = module;
        return this;
    }

    /// <summary>The module registered under <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">No module has that name.</exception>
    public T this[string key] => _items.TryGetValue(key, out var m) ? m
        : throw new KeyNotFoundException($"ModuleDict: no module named '{key}' (have: {string.Join(", ", _items.Keys)})");

    /// <summary>The names, in insertion order.</summary>
    public IEnumerable<string> Keys => _items.Keys;

    /// <summary>The modules, in insertion order.</summary>
    public IEnumerable<T> Values => _items.Values;

    /// <summary>Number of modules.</summary>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public override string TypeName => "ModuleDict";

    /// <summary>True when a module is registered under <paramref name="key"/>.</summary>
    public bool ContainsKey(string key) => _items.ContainsKey(key);

    /// <summary>The module registered under <paramref name="key"/>, if any.</summary>
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out T value) => _items.TryGetValue(key, out value);

    /// <summary>Enumerates (name, module) pairs in insertion order.</summary>
    public IEnumerator<KeyValuePair<string, T>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Modules of any type by name (PyTorch's nn.ModuleDict).</summary>
public sealed class ModuleDict : ModuleDict<Module>;
