using DeepSharp.Onnx.Proto;
using Google.Protobuf;

namespace DeepSharp.Onnx;

/// <summary>
/// A value of the ONNX graph being built: its name in the graph, and <see cref="Sample"/>, what it holds for the
/// sample input (computed by DeepSharp's own ops as the graph is built), which gives every value its dtype and
/// shape and lets an exporter read sizes it must write into the graph.
/// </summary>
public sealed record OnnxValue(string Name, Tensor Sample)
{
    /// <summary>The value's shape (that of <see cref="Sample"/>).</summary>
    public IReadOnlyList<int> Shape => Sample.ShapeArray;

    /// <summary>The value's number of dimensions.</summary>
    public int Rank => Sample.Rank;
}

/// <summary>A node attribute (ints, floats, strings), built with the static factories.</summary>
public readonly struct OnnxAttribute
{
    private OnnxAttribute(AttributeProto proto) => Proto = proto;

    internal AttributeProto Proto { get; }

    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Int(string name, long value) =>
        new(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });

    /// <summary>A list-of-integers attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return new(a);
    }

    /// <summary>A float attribute (stored as float32).</summary>
    public static OnnxAttribute Float(string name, double value) =>
        new(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value });

    /// <summary>A list-of-floats attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.Add(values);
        return new(a);
    }

    /// <summary>A string attribute (UTF-8).</summary>
    public static OnnxAttribute String(string name, string value) =>
        new(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });

    /// <summary>A list-of-strings attribute (UTF-8).</summary>
    public static OnnxAttribute Strings(string name, params string[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        foreach (var v in values) a.Strings.Add(ByteString.CopyFromUtf8(v));
        return new(a);
    }
}

/// <summary>
/// A module that writes its own forward as ONNX nodes: the zoo's models with a custom forward implement it, and so
/// can user modules. Standard layers (Linear, Conv2d, Sequential, ...) are exported by <see cref="OnnxGraphBuilder"/> itself.
/// </summary>
public interface IOnnxExportable
{
    /// <summary>Adds the nodes of this module's eval-mode forward to <paramref name="graph"/> and returns its output.</summary>
    OnnxValue ExportOnnx(OnnxGraphBuilder graph, OnnxValue input);
}
