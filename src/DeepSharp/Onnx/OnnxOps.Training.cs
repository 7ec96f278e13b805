namespace DeepSharp.Onnx;

// Gradient (domain ai.onnx.preview.training): derivatives of one graph value with respect to others, computed by
// DeepSharp's reverse-mode autograd over the ops that produced them.
internal static partial class OnnxOps
{
    private const string TrainingDomain = "ai.onnx.preview.training";

    private static void RegisterTraining(Dictionary<string, Op> ops)
    {
        ops["Gradient"] = Gradient;
    }

    /// <summary>
    /// Gradient(xs, y): dy/dx for each name in xs, seeded with ones (the gradient of the sum of y). The xs were made
    /// autograd leaves when they appeared (<see cref="Run"/>), so y's history reaches them; inputs after the xs
    /// (the zs) only feed the graph and need nothing here.
    /// </summary>
    private static object?[] Gradient(OnnxNode n)
    {
        string[] xs = n.Strings("xs") ?? throw new InvalidDataException($"ONNX {n.Describe}: attribute 'xs' is missing");
        string yName = n.String("y", "");
        var y = n.Scope.TryGetValue(yName, out var yv) && yv is Tensor yt ? yt
            : throw new InvalidDataException($"ONNX {n.Describe}: y '{yName}' is not a tensor computed before the node");
        var x = xs.Select(name => n.Scope.TryGetValue(name, out var v) && v is Tensor t ? t
            : throw new InvalidDataException($"ONNX {n.Describe}: x '{name}' is not a tensor computed before the node")).ToArray();
        if (!y.IsFloatingPoint) throw new InvalidDataException($"ONNX {n.Describe}: y '{yName}' is {y.DType}, not floating point");
        if (!y.RequiresGrad) return x.Select(t => (object?)Tensor.ZerosLike(t)).ToArray(); // y does not depend on any x
        using var _ = Autograd.NoGrad();
        return Autograd.Grad(y, x, Tensor.OnesLike(y), retainGraph: true);
    }

    /// <summary>The names every Gradient node of the graph differentiates with respect to.</summary>
    private static HashSet<string> DifferentiatedValues(Proto.GraphProto graph)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            if (node.OpType == "Gradient" && node.Domain == TrainingDomain)
                foreach (var s in node.Attribute.Where(a => a.Name == "xs").SelectMany(a => a.Strings))
                    names.Add(s.ToStringUtf8());
        return names;
    }

    /// <summary>A floating-point tensor as a fresh autograd leaf (its own history cut: Gradient takes partial derivatives).</summary>
    private static object Leaf(object value, string name) => value is Tensor { IsFloatingPoint: true } t
        ? t.Detach().RequiresGrad_()
        : throw new InvalidDataException($"ONNX: Gradient differentiates with respect to '{name}', which is {OnnxNode.KindOf(value)}, not a floating-point tensor");
}
