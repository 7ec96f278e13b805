using System.Globalization;
using DeepSharp.NN;
using DeepSharp.Onnx.Proto;

namespace DeepSharp.Onnx;

/// <summary>
/// Builds the ONNX graph of a module's eval-mode forward. Modules add nodes through <see cref="Module"/> (which
/// dispatches to the standard layers' exporters or to <see cref="IOnnxExportable"/>) and the primitives below. Every
/// value carries its sample (the result of DeepSharp's op on the sample input), so nodes are emitted in execution
/// order, which is a topological order. Parameters and buffers become initializers named by their state-dict keys.
/// </summary>
public sealed partial class OnnxGraphBuilder
{
    private readonly GraphProto _graph = new();
    private readonly Dictionary<Module, string> _modulePaths = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, string> _stateNames = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, OnnxValue> _initializers = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);
    private readonly List<string> _scope = [];

    internal OnnxGraphBuilder(Module root, string graphName)
    {
        _graph.Name = graphName;
        foreach (var (path, m) in root.NamedModules()) _modulePaths.TryAdd(m, path);
        foreach (var (name, p) in root.NamedParameters()) _stateNames.TryAdd(p, name);
        foreach (var (name, b) in root.NamedBuffers()) _stateNames.TryAdd(b, name);
    }

    internal GraphProto Graph => _graph;

    /// <summary>Adds the nodes of <paramref name="module"/>'s forward applied to <paramref name="input"/>.</summary>
    public OnnxValue Module(Module<Tensor, Tensor> module, OnnxValue input)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        _scope.Add(_modulePaths.TryGetValue(module, out var path) ? path : module.TypeName);
        try
        {
            if (module is IOnnxExportable custom) return custom.ExportOnnx(this, input);
            return OnnxLayerExport.Export(this, module, input)
                ?? throw new NotSupportedException(
                    $"ONNX export: module '{ScopeName}' of type {module.TypeName} cannot be exported: it is not a standard layer and does not implement IOnnxExportable");
        }
        finally
        {
            _scope.RemoveAt(_scope.Count - 1);
        }
    }

    private string ScopeName => _scope.Count == 0 || _scope[^1].Length == 0 ? "(root)" : _scope[^1];

    // ---- values ----

    internal OnnxValue Input(string name, Tensor sample, string? batchDim)
    {
        var v = new OnnxValue(Reserve(name), sample);
        _graph.Input.Add(ValueInfo(v.Name, sample, batchDim, fullShape: true));
        return v;
    }

    internal void Output(OnnxValue value, string name, string? batchDim)
    {
        // Rename the producing node's output so the graph output has a stable name; an input or initializer passes through Identity.
        var producer = _graph.Node.LastOrDefault(n => n.Output.Contains(value.Name));
        if (producer is null || !_names.Add(name))
        {
            Node("Identity", [value], value.Sample.Clone(), name);
        }
        else
        {
            string old = value.Name;
            producer.Output[producer.Output.IndexOf(old)] = name;
            foreach (var n in _graph.Node)
                for (int i = 0; i < n.Input.Count; i++)
                    if (n.Input[i] == old) n.Input[i] = name;
            var info = _graph.ValueInfo.FirstOrDefault(vi => vi.Name == old);
            if (info is not null) _graph.ValueInfo.Remove(info);
        }
        _graph.Output.Add(ValueInfo(name, value.Sample, batchDim, fullShape: true));
    }

    /// <summary>A parameter or buffer of the exported module (named by its state-dict key), or any constant tensor.</summary>
    public OnnxValue Initializer(Tensor tensor, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (_initializers.TryGetValue(tensor, out var existing)) return existing;
        string name = _stateNames.TryGetValue(tensor, out var key) ? Reserve(key) : Unique(hint ?? "const");
        var sample = tensor.Detach();
        _graph.Initializer.Add(OnnxTensors.ToProto(sample, name));
        var v = new OnnxValue(name, sample);
        _initializers[tensor] = v;
        return v;
    }

    /// <summary>A new constant (a derived weight, a shape): always its own initializer.</summary>
    public OnnxValue Constant(Tensor tensor, string hint)
    {
        string name = Unique(hint);
        _graph.Initializer.Add(OnnxTensors.ToProto(tensor, name));
        return new OnnxValue(name, tensor);
    }

    /// <summary>An int64 vector constant (shapes, axes, pads).</summary>
    public OnnxValue Ints(string hint, params long[] values) => Constant(Tensor.From(values, values.Length), hint);

    /// <summary>A scalar constant of <paramref name="like"/>'s dtype.</summary>
    public OnnxValue Scalar(double value, OnnxValue like, string hint = "scalar") => Constant(Tensor.Scalar(value, like.Sample.DType), hint);

    // ---- nodes ----

    /// <summary>Adds a node with one output whose sample is <paramref name="output"/>; null inputs are omitted optional inputs.</summary>
    public OnnxValue Node(string opType, IReadOnlyList<OnnxValue?> inputs, Tensor output, params OnnxAttribute[] attributes) =>
        NodeWithName(opType, inputs, [output], null, attributes)[0];

    /// <summary>A node with several outputs.</summary>
    public OnnxValue[] Node(string opType, IReadOnlyList<OnnxValue?> inputs, Tensor[] outputs, params OnnxAttribute[] attributes) =>
        NodeWithName(opType, inputs, outputs, null, attributes);

    private OnnxValue Node(string opType, IReadOnlyList<OnnxValue?> inputs, Tensor output, string outputName) =>
        NodeWithName(opType, inputs, [output], outputName, [])[0];

    private OnnxValue[] NodeWithName(string opType, IReadOnlyList<OnnxValue?> inputs, Tensor[] outputs, string? outputName, OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        string nodeName = Unique(opType);
        var node = new NodeProto { OpType = opType, Name = nodeName };
        foreach (var input in inputs) node.Input.Add(input?.Name ?? "");
        foreach (var a in attributes) node.Attribute.Add(a.Proto.Clone());
        var values = new OnnxValue[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            string name = outputName ?? Reserve(nodeName + "_output_" + i.ToString(CultureInfo.InvariantCulture));
            node.Output.Add(name);
            values[i] = new OnnxValue(name, outputs[i]);
            _graph.ValueInfo.Add(ValueInfo(name, outputs[i], null, fullShape: false));
        }
        _graph.Node.Add(node);
        return values;
    }

    // ---- names ----

    /// <summary>"/layer1/0/conv1/Conv" style names (the module path, then the op and a counter when repeated).</summary>
    private string Unique(string hint)
    {
        string scope = _scope.Count == 0 ? "" : _scope[^1];
        string baseName = "/" + (scope.Length == 0 ? "" : scope.Replace('.', '/') + "/") + hint;
        int n = _counters.TryGetValue(baseName, out int c) ? c : 0;
        string name;
        do
        {
            name = n == 0 ? baseName : baseName + "_" + n.ToString(CultureInfo.InvariantCulture);
            n++;
        }
        while (_names.Contains(name));
        _counters[baseName] = n;
        _names.Add(name);
        return name;
    }

    private string Reserve(string name) =>
        _names.Add(name) ? name : throw new InvalidOperationException($"ONNX export: the name '{name}' is used twice in the graph");

    /// <summary>
    /// Graph inputs and outputs get their full shape with <paramref name="batchDim"/> as a symbolic first dimension;
    /// intermediate values their element type and rank (their other sizes follow from the inputs).
    /// </summary>
    private static ValueInfoProto ValueInfo(string name, Tensor sample, string? batchDim, bool fullShape)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < sample.Rank; i++)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (fullShape && i == 0 && batchDim is not null) dim.DimParam = batchDim;
            else if (fullShape) dim.DimValue = sample.ShapeArray[i];
            shape.Dim.Add(dim);
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = OnnxTensors.ElementType(sample.DType), Shape = shape } },
        };
    }
}
