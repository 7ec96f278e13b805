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

    public Module<Tensor, Tensor> this[int index] => _layers[index];

    public int Count => _layers.Count;

    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var layer in _layers) x = layer.Call(x);
        return x;
    }

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

    public ModuleList(params T[] modules)
    {
        foreach (var m in modules) Add(m);
    }

    public ModuleList<T> Add(T module)
    {
        RegisterModule(_items.Count.ToString(CultureInfo.InvariantCulture), module);
        _items.Add(module);
        return this;
    }

    public T this[int index] => _items[index];

    public int Count => _items.Count;

    public override string TypeName => "ModuleList";

    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A list of any modules (PyTorch's nn.ModuleList).</summary>
public sealed class ModuleList : ModuleList<Module>
{
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

    public T this[string key] => _items.TryGetValue(key, out var m) ? m
        : throw new KeyNotFoundException($"ModuleDict: no module named '{key}' (have: {string.Join(", ", _items.Keys)})");

    public IEnumerable<string> Keys => _items.Keys;

    public IEnumerable<T> Values => _items.Values;

    public int Count => _items.Count;

    public override string TypeName => "ModuleDict";

    public bool ContainsKey(string key) => _items.ContainsKey(key);

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out T value) => _items.TryGetValue(key, out value);

    public IEnumerator<KeyValuePair<string, T>> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Modules of any type by name (PyTorch's nn.ModuleDict).</summary>
public sealed class ModuleDict : ModuleDict<Module>;
