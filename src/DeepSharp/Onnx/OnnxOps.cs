using System.Globalization;
using DeepSharp.Onnx.Proto;

namespace DeepSharp.Onnx;

/// <summary>
/// One imported ONNX node: its attributes, the opset the model was written for, and its input values (null for an
/// omitted optional input). A value is a <see cref="Tensor"/>, a sequence (<see cref="IReadOnlyList{Tensor}"/>), an
/// <see cref="OnnxStringTensor"/> or an <see cref="OnnxOptional"/>; most ops read tensors with <see cref="Input"/>, which names the node when the value
/// is of another kind. Ops read attributes with defaults as the operator documentation gives them.
/// </summary>
internal sealed class OnnxNode(NodeProto proto, int opset, bool training)
{
    public NodeProto Proto { get; } = proto;

    public int Opset { get; } = opset;

    public bool Training { get; } = training;

    public string OpType => Proto.OpType;

    public object?[] Inputs { get; set; } = [];

    /// <summary>Every value computed so far in the graph, by name (for ops that name values in attributes, such as Gradient).</summary>
    public IReadOnlyDictionary<string, object> Scope { get; set; } = new Dictionary<string, object>();

    public int OutputCount => Proto.Output.Count;

    /// <summary>Input <paramref name="i"/> of any kind.</summary>
    public object Value(int i) => Inputs.Length > i && Inputs[i] is { } v ? v
        : throw new InvalidDataException($"ONNX {Describe}: input {i} is missing");

    public Tensor Input(int i) => Value(i) as Tensor ?? throw WrongKind(i, "a tensor");

    public IReadOnlyList<Tensor> SequenceInput(int i) => Value(i) as IReadOnlyList<Tensor> ?? throw WrongKind(i, "a sequence of tensors");

    public OnnxStringTensor StringInput(int i) => Value(i) as OnnxStringTensor ?? throw WrongKind(i, "a string tensor");

    public Tensor? Optional(int i) => Inputs.Length > i && Inputs[i] is { } v ? v as Tensor ?? throw WrongKind(i, "a tensor") : null;

    private InvalidDataException WrongKind(int i, string expected) =>
        new($"ONNX {Describe}: input {i} ('{Proto.Input[i]}') is {KindOf(Inputs[i])}, expected {expected}");

    /// <summary>Names the kind of a graph value for messages.</summary>
    public static string KindOf(object? value) => value switch
    {
        Tensor t => $"a {t.DType} tensor",
        IReadOnlyList<Tensor> s => $"a sequence of {s.Count} tensors",
        OnnxStringTensor => "a string tensor",
        OnnxOptional o => o.HasValue ? $"an optional holding {KindOf(o.Value)}" : "an empty optional",
        null => "missing",
        _ => value.GetType().Name,
    };

    public string Describe => $"{OpType} node '{Proto.Name}'";

    public AttributeProto? Attribute(string name) => Proto.Attribute.FirstOrDefault(a => a.Name == name);

    public bool Has(string name) => Attribute(name) is not null;

    public long Int(string name, long fallback) => Attribute(name) is { } a ? a.I : fallback;

    public double Float(string name, double fallback) => Attribute(name) is { } a ? a.F : fallback;

    public string String(string name, string fallback) => Attribute(name) is { } a ? a.S.ToStringUtf8() : fallback;

    public long[]? Ints(string name) => Attribute(name) is { } a ? [.. a.Ints] : null;

    public string[]? Strings(string name) => Attribute(name) is { } a ? a.Strings.Select(s => s.ToStringUtf8()).ToArray() : null;

    public Tensor? TensorAttribute(string name) => Attribute(name) is { T: { } t } ? OnnxTensors.FromProto(t) : null;

    /// <summary>An int64 input read as numbers (axes, shapes, pads), or null when omitted.</summary>
    public long[]? IntsInput(int i) => Optional(i) is { } t ? t.To(DType.Int64).ToArray<long>() : null;

    public NotSupportedException Unsupported(string what) => new($"ONNX {Describe}: {what} is not supported");
}

/// <summary>The operator registry and the interpreter loop of imported graphs. The ops live in the OnnxOps.*.cs files by family.</summary>
internal static partial class OnnxOps
{
    /// <summary>An operator: the node's output values (tensors, sequences or string tensors) in output order.</summary>
    internal delegate object?[] Op(OnnxNode node);

    private static readonly Dictionary<string, Op> s_ops = CreateRegistry();

    private static Dictionary<string, Op> CreateRegistry()
    {
        var ops = new Dictionary<string, Op>(StringComparer.Ordinal);
        RegisterElementwise(ops);
        RegisterShape(ops);
        RegisterNeural(ops);
        RegisterReductions(ops);
        RegisterRecurrent(ops);
        RegisterSequences(ops);
        RegisterStrings(ops);
        RegisterTraining(ops);
        RegisterControlFlow(ops);
        RegisterLosses(ops);
        RegisterIndexing(ops);
        RegisterResize(ops);
        RegisterEinsum(ops);
        RegisterMath(ops);
        RegisterSignal(ops);
        RegisterDetection(ops);
        RegisterQuantization(ops);
        RegisterText(ops);
        return ops;
    }

    /// <summary>The operator types DeepSharp can run.</summary>
    public static IReadOnlyCollection<string> Supported => s_ops.Keys;

    /// <summary>
    /// What of <paramref name="graph"/> cannot run, by count: unknown operators, operators of other domains, and
    /// settings of known operators that are not implemented (e.g. "GRU(linear_before_reset=0)").
    /// </summary>
    public static Dictionary<string, int> Unsupported(GraphProto graph, int opset)
    {
        var missing = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            string? problem = !DomainSupported(node) ? node.Domain + "." + node.OpType
                : !s_ops.ContainsKey(node.OpType) ? node.OpType
                : UnsupportedSetting(new OnnxNode(node, opset, false));
            if (problem is not null) missing[problem] = missing.GetValueOrDefault(problem) + 1;
            foreach (var a in node.Attribute) // the subgraphs of If, Loop, Scan, SequenceMap
                foreach (var sub in a.G is null ? a.Graphs : a.Graphs.Prepend(a.G))
                    foreach (var (op, count) in Unsupported(sub, opset))
                        missing[op] = missing.GetValueOrDefault(op) + count;
        }
        return missing;
    }

    /// <summary>The default domain, and Gradient and the optimizers (Adagrad, Momentum, Adam) from the training preview domain.</summary>
    private static bool DomainSupported(NodeProto node) =>
        node.Domain is "" or "ai.onnx" || (node.Domain == TrainingDomain && (node.OpType == "Gradient" || s_optimizers.Contains(node.OpType)));

    /// <summary>
    /// Runs the nodes in order. <paramref name="values"/> holds the inputs and initializers and receives every value
    /// computed. A graph with Gradient nodes is recorded by autograd even under NoGrad, with the tensors they
    /// differentiate made leaves as they appear.
    /// </summary>
    public static void Run(GraphProto graph, Dictionary<string, object> values, int opset, bool training)
    {
        var differentiated = DifferentiatedValues(graph);
        using var recording = differentiated.Count > 0 ? Autograd.EnableGrad() : default(Autograd.GradModeScope?);
        foreach (string name in differentiated)
            if (values.TryGetValue(name, out var v)) values[name] = Leaf(v, name);
        foreach (var proto in graph.Node)
        {
            var node = new OnnxNode(proto, opset, training) { Scope = values };
            var inputs = new object?[proto.Input.Count];
            for (int i = 0; i < inputs.Length; i++)
            {
                string name = proto.Input[i];
                if (name.Length == 0) continue;
                inputs[i] = values.TryGetValue(name, out var v) ? v
                    : throw new InvalidDataException($"ONNX {node.Describe}: input '{name}' is not computed before the node (the graph is not in topological order)");
            }
            node.Inputs = inputs;
            object?[] outputs;
            try
            {
                outputs = s_ops[proto.OpType](node);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException)
            {
                throw new InvalidOperationException($"ONNX {node.Describe}: {e.Message}", e);
            }
            for (int i = 0; i < proto.Output.Count; i++)
            {
                string name = proto.Output[i];
                if (name.Length == 0) continue;
                if (i >= outputs.Length || outputs[i] is not { } v)
                    throw new NotSupportedException($"ONNX {node.Describe}: output {i} ('{name}') is not computed by DeepSharp");
                values[name] = differentiated.Contains(name) ? Leaf(v, name) : v;
            }
        }
    }

    private static Tensor?[] One(Tensor t) => [t];

    /// <summary>Normalises a possibly negative axis against <paramref name="rank"/>.</summary>
    private static int Axis(long axis, int rank, OnnxNode node)
    {
        long a = axis < 0 ? axis + rank : axis;
        return a >= 0 && a < Math.Max(rank, 1) ? (int)a
            : throw new InvalidDataException($"ONNX {node.Describe}: axis {axis} is out of range for rank {rank}");
    }

    private static string Format(long[] values) => "[" + string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>Known operators with settings DeepSharp does not implement, checked at load time.</summary>
    private static string? UnsupportedSetting(OnnxNode node)
    {
        switch (node.OpType)
        {
            case var _ when FamilySetting(node) is { } setting:
                return setting;
            case "LSTM" or "GRU" or "RNN" when node.Has("clip") || node.Int("input_forget", 0) != 0 || (node.OpType == "LSTM" && node.Proto.Input.Count > 7 && node.Proto.Input[7].Length > 0):
                return node.OpType + "(clip/input_forget/peepholes)";
            case "LSTM" or "GRU" or "RNN" when node.Strings("activations") is { } acts && !RecurrentActivationsSupported(node.OpType, acts):
                return node.OpType + "(activations " + string.Join("/", acts) + ")";
            case "MaxPool" when node.OutputCount > 1 && node.Proto.Output[1].Length > 0:
                return "MaxPool(indices output)";
            case "MaxPool" or "AveragePool" or "Conv" when node.Ints("kernel_shape") is { Length: > 3 }:
                return node.OpType + "(4-D and more)";
            case "ConvTranspose" when node.Ints("kernel_shape") is { Length: > 2 }:
                return node.OpType + "(3-D)";
            case "MaxPool" or "AveragePool" when node.Ints("kernel_shape") is { Length: 3 } && node.Int("ceil_mode", 0) != 0:
                return node.OpType + "(3-D, ceil_mode)";
            case "BatchNormalization" when node.Opset < 14 && node.OutputCount > 1 && node.Proto.Output.Skip(1).Any(o => o.Length > 0):
                return "BatchNormalization(training outputs before opset 14)";
            case "Scan" when node.Opset < 9:
                return "Scan(opset 8 batch axis)";
            case "Pad" when node.String("mode", "constant") is not ("constant" or "edge" or "reflect"):
                return "Pad(mode=" + node.String("mode", "") + ")";
        }
        return null;
    }
}
