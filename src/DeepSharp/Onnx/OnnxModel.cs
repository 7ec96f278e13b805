using System.Globalization;
using DeepSharp.NN;
using DeepSharp.Onnx.Proto;
using Google.Protobuf;

namespace DeepSharp.Onnx;

/// <summary>
/// An ONNX model loaded as a DeepSharp module: its graph runs with DeepSharp's own differentiable ops, and its
/// floating-point initializers are ordinary parameters (named as in the file, so a PyTorch export keeps PyTorch's
/// state-dict keys), so the model runs, prints a Summary, saves its state dict and fine-tunes with any optimizer.
/// Integer initializers (shapes, indices) are buffers. Every operator is checked when the file is loaded: a model
/// using operators DeepSharp does not implement fails then, with the list of what is missing, never halfway through a run.
/// </summary>
public sealed class OnnxModel : Module<Tensor, Tensor>
{
    private readonly GraphProto _graph;
    private readonly Dictionary<string, Tensor> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);
    private readonly List<string> _inputs = [];
    private readonly List<string> _outputs = [];

    private OnnxModel(ModelProto model)
    {
        _graph = model.Graph ?? throw new InvalidDataException("ONNX: the model has no graph");
        Opset = (int)(model.OpsetImport.Where(o => !o.HasDomain || o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max());
        var missing = OnnxOps.Unsupported(_graph, Opset);
        if (missing.Count > 0)
            throw new NotSupportedException("ONNX: the model uses operators DeepSharp does not support: " +
                string.Join(", ", missing.OrderByDescending(m => m.Value).Select(m => m.Value == 1 ? m.Key : $"{m.Key} (x{m.Value})")));
        foreach (var init in _graph.Initializer)
        {
            var t = OnnxTensors.FromProto(init);
            if (t.IsFloatingPoint) t = t.Detach();
            _state[init.Name] = t;
            Holder(init.Name, out string leaf).Add(leaf, t);
        }
        var initialized = _graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var input in _graph.Input)
            if (!initialized.Contains(input.Name)) _inputs.Add(input.Name);
        foreach (var output in _graph.Output) _outputs.Add(output.Name);
        if (_outputs.Count == 0) throw new InvalidDataException("ONNX: the graph has no outputs");
    }

    /// <summary>Reads an ONNX model file.</summary>
    public static OnnxModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new FileNotFoundException($"ONNX: no model file '{path}'", path);
        }
        return Load(bytes, path);
    }

    /// <summary>Reads an ONNX model from its bytes.</summary>
    public static OnnxModel Load(byte[] bytes, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"ONNX: '{source ?? "the input"}' is not an ONNX model file: {e.Message}", e);
        }
        return new OnnxModel(proto);
    }

    /// <summary>The default-domain operator set version the model was written for.</summary>
    public int Opset { get; }

    /// <summary>Names of the graph inputs the caller provides (initializers excluded).</summary>
    public IReadOnlyList<string> InputNames => _inputs;

    /// <summary>Names of the graph outputs, in order.</summary>
    public IReadOnlyList<string> OutputNames => _outputs;

    /// <inheritdoc/>
    public override string TypeName => "OnnxModel";

    /// <summary>The first output for a model with one input.</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_inputs.Count != 1)
            throw new ArgumentException($"OnnxModel: the model has {_inputs.Count} inputs ({string.Join(", ", _inputs)}); call Run with a tensor for each");
        return Run(new Dictionary<string, Tensor> { [_inputs[0]] = input })[_outputs[0]];
    }

    /// <summary>Runs the graph on named inputs and returns every graph output by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var results = RunValues(inputs.ToDictionary(p => p.Key, p => (object)p.Value, StringComparer.Ordinal));
        return results.ToDictionary(p => p.Key, p => p.Value as Tensor
            ?? throw new InvalidOperationException($"OnnxModel: output '{p.Key}' is {OnnxNode.KindOf(p.Value)}; call RunValues for graphs with sequence or string outputs"), StringComparer.Ordinal);
    }

    /// <summary>
    /// Runs the graph on named inputs of any kind the importer carries: a <see cref="Tensor"/>, a sequence of tensors
    /// (<see cref="IReadOnlyList{Tensor}"/>), an <see cref="OnnxStringTensor"/> or an <see cref="OnnxOptional"/>; returns every graph output by name,
    /// each of one of these kinds.
    /// </summary>
    public IReadOnlyDictionary<string, object> RunValues(IReadOnlyDictionary<string, object> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (name, t) in _state) values[name] = t;
        foreach (string name in _inputs)
            values[name] = inputs.TryGetValue(name, out var v) ? CheckKind(name, v)
                : throw new ArgumentException($"OnnxModel: missing input '{name}' (inputs: {string.Join(", ", _inputs)})");
        foreach (var (name, v) in inputs)
            if (!_inputs.Contains(name) && !_state.ContainsKey(name))
                throw new ArgumentException($"OnnxModel: the model has no input '{name}' (inputs: {string.Join(", ", _inputs)})");
            else if (_state.ContainsKey(name)) values[name] = CheckKind(name, v); // an initializer that is also a graph input may be overridden
        OnnxOps.Run(_graph, values, Opset, Training);
        var result = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (string name in _outputs)
            result[name] = values.TryGetValue(name, out var v) ? v : throw new InvalidDataException($"ONNX: the graph never computes its output '{name}'");
        return result;
    }

    private static object CheckKind(string name, object? value) => value switch
    {
        Tensor or OnnxStringTensor => value,
        OnnxOptional { Value: IReadOnlyList<Tensor> seq } => new OnnxOptional(seq.ToArray()),
        OnnxOptional => value,
        IReadOnlyList<Tensor> seq => seq.ToArray(), // a copy: the graph's sequences never change under the caller
        null => throw new ArgumentNullException(name, $"OnnxModel: input '{name}' is null"),
        _ => throw new ArgumentException($"OnnxModel: input '{name}' is a {value.GetType().Name}; pass a Tensor, an IReadOnlyList<Tensor>, an OnnxStringTensor or an OnnxOptional"),
    };

    // ---- parameters: a module per dotted prefix, so the state dict keys are the initializer names ----

    private ParameterScope Holder(string name, out string leaf)
    {
        var parts = name.Split('.');
        if (parts.Any(p => p.Length == 0))
        {
            // Names such as "a..b" or ".x" cannot be module paths: keep them whole, dots replaced.
            leaf = name.Replace('.', '_');
            return Root;
        }
        leaf = parts[^1];
        var scope = Root;
        for (int i = 0; i < parts.Length - 1; i++) scope = scope.Child(parts[i]);
        return scope;
    }

    private ParameterScope Root => _root ??= new ParameterScope(this);

    private ParameterScope? _root;

    private void AddState(string name, Tensor t)
    {
        if (t.IsFloatingPoint) RegisterParameter(name, t);
        else RegisterBuffer(name, t);
    }

    private Module AddChild(string name, Module m) => RegisterModule(name, m);

    /// <summary>The initializers under one dotted prefix (e.g. "layer1.0.conv1"), shown as a module in summaries and state dicts.</summary>
    private sealed class ParameterScope
    {
        private readonly OnnxModel? _model;
        private readonly OnnxParameters? _module;
        private readonly Dictionary<string, ParameterScope> _children = new(StringComparer.Ordinal);

        public ParameterScope(OnnxModel model) => _model = model;

        private ParameterScope(OnnxParameters module) => _module = module;

        public ParameterScope Child(string name)
        {
            if (_children.TryGetValue(name, out var existing)) return existing;
            var m = new OnnxParameters();
            if (_model is not null) _model.AddChild(name, m);
            else _module!.AddChild(name, m);
            return _children[name] = new ParameterScope(m);
        }

        public void Add(string name, Tensor t)
        {
            if (_model is not null) _model.AddState(name, t);
            else _module!.AddState(name, t);
        }
    }
}

/// <summary>Holds the initializers of one name prefix of an <see cref="OnnxModel"/>; it has no forward of its own.</summary>
public sealed class OnnxParameters : Module
{
    /// <inheritdoc/>
    public override string TypeName => "OnnxParameters";

    internal void AddState(string name, Tensor t)
    {
        if (t.IsFloatingPoint) RegisterParameter(name, t);
        else RegisterBuffer(name, t);
    }

    internal void AddChild(string name, Module m) => RegisterModule(name, m);
}
