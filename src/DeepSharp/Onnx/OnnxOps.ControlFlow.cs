using DeepSharp.Onnx.Proto;

namespace DeepSharp.Onnx;

// Control flow with subgraphs: If, Loop, Scan (opset 9 and later) and SequenceMap. A subgraph sees every value of
// the graphs around it by name (ONNX's lexical scoping) and runs with the same interpreter, so what it computes is
// recorded by autograd like the rest of the model.
internal static partial class OnnxOps
{
    private static void RegisterControlFlow(Dictionary<string, Op> ops)
    {
        ops["If"] = If;
        ops["Loop"] = Loop;
        ops["Scan"] = Scan;
        ops["SequenceMap"] = SequenceMap;
    }

    /// <summary>The subgraph attribute <paramref name="name"/> of <paramref name="n"/>.</summary>
    private static GraphProto Subgraph(OnnxNode n, string name) => n.Attribute(name)?.G
        ?? throw new InvalidDataException($"ONNX {n.Describe}: the subgraph attribute '{name}' is missing");

    /// <summary>
    /// A scope for running <paramref name="graph"/> under <paramref name="n"/>: the enclosing values and the subgraph's
    /// initializers. A node that runs its body many times (Loop, Scan, SequenceMap) builds it once: every iteration
    /// rebinds the body's inputs and recomputes every value the body defines, so nothing stale is read.
    /// </summary>
    private static Dictionary<string, object> SubgraphScope(OnnxNode n, GraphProto graph)
    {
        var scope = new Dictionary<string, object>(n.Scope, StringComparer.Ordinal);
        foreach (var init in graph.Initializer) scope[init.Name] = OnnxTensors.ValueFromProto(init);
        return scope;
    }

    /// <summary>Runs <paramref name="graph"/> in <paramref name="scope"/> with its inputs bound to <paramref name="inputs"/> in order, and returns its outputs in order.</summary>
    private static object[] RunSubgraph(OnnxNode n, GraphProto graph, Dictionary<string, object> scope, IReadOnlyList<object?> inputs)
    {
        if (inputs.Count != graph.Input.Count)
            throw new InvalidDataException($"ONNX {n.Describe}: subgraph '{graph.Name}' takes {graph.Input.Count} inputs, the node passes {inputs.Count}");
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i] is { } v) scope[graph.Input[i].Name] = v;
        Run(graph, scope, n.Opset, n.Training);
        return graph.Output.Select(o => scope.TryGetValue(o.Name, out var v) ? v
            : throw new InvalidDataException($"ONNX {n.Describe}: subgraph '{graph.Name}' never computes its output '{o.Name}'")).ToArray();
    }

    private static object?[] If(OnnxNode n)
    {
        var cond = n.Input(0);
        if (cond.Numel != 1) throw new InvalidDataException($"ONNX {n.Describe}: the condition must hold one value, got shape {Shapes.Format(cond.ShapeArray)}");
        bool take = cond.To(DType.Float64).ToArray<double>()[0] != 0;
        var branch = Subgraph(n, take ? "then_branch" : "else_branch");
        return RunSubgraph(n, branch, SubgraphScope(n, branch), []);
    }

    /// <summary>
    /// Loop(M, cond, v...): runs the body while the iteration count is below M (when given) and cond holds (when given).
    /// The body takes (iteration, cond, v...) and gives (cond, v..., scan outputs...); the node gives the final v and
    /// each scan output's values of every iteration stacked along a new first axis.
    /// </summary>
    private static object?[] Loop(OnnxNode n)
    {
        var body = Subgraph(n, "body");
        long? max = n.Optional(0) is { } m ? m.To(DType.Int64).ToArray<long>()[0] : null;
        bool cond = n.Optional(1) is not { } c || c.To(DType.Float64).ToArray<double>()[0] != 0;
        var carried = n.Inputs.Skip(2).ToArray();
        int scans = body.Output.Count - 1 - carried.Length;
        if (scans < 0) throw new InvalidDataException($"ONNX {n.Describe}: the body gives {body.Output.Count} outputs for {carried.Length} loop-carried values");
        var scanned = Enumerable.Range(0, scans).Select(_ => new List<Tensor>()).ToArray();
        var scope = SubgraphScope(n, body);
        for (long i = 0; (max is null || i < max) && cond; i++)
        {
            if (max is null && i >= 1L << 31) throw new InvalidDataException($"ONNX {n.Describe}: the loop has no trip count and its condition still holds after 2^31 iterations");
            var outputs = RunSubgraph(n, body, scope, [Tensor.Scalar(i, DType.Int64), Tensor.Scalar(cond ? 1 : 0, DType.Bool), .. carried]);
            cond = Value<Tensor>(n, outputs[0], "the body's condition").To(DType.Float64).ToArray<double>()[0] != 0;
            carried = outputs[1..(1 + carried.Length)];
            for (int s = 0; s < scans; s++) scanned[s].Add(Value<Tensor>(n, outputs[1 + carried.Length + s], "a scan output"));
        }
        var result = new object?[carried.Length + scans];
        carried.CopyTo(result, 0);
        for (int s = 0; s < scans; s++)
            result[carried.Length + s] = scanned[s].Count > 0 ? Tensor.Stack(scanned[s], 0)
                : throw n.Unsupported("a scan output of a loop that ran no iteration (its element shape is unknown)");
        return result;
    }

    /// <summary>
    /// Scan (opset 9 and later): the body runs once per slice of the scan inputs along their axes (reversed where
    /// scan_input_directions says so), threading the state values through; scan outputs are stacked along their axes.
    /// </summary>
    private static object?[] Scan(OnnxNode n)
    {
        var body = Subgraph(n, "body");
        int scanIn = (int)n.Int("num_scan_inputs", 0);
        int states = n.Inputs.Length - scanIn;
        int scanOut = body.Output.Count - states;
        if (scanIn <= 0 || states < 0 || scanOut < 0)
            throw new InvalidDataException($"ONNX {n.Describe}: {n.Inputs.Length} inputs, num_scan_inputs {scanIn} and {body.Output.Count} body outputs do not fit together");
        long[] inDirs = n.Ints("scan_input_directions") ?? new long[scanIn];
        long[] outDirs = n.Ints("scan_output_directions") ?? new long[scanOut];
        long[] inAxes = n.Ints("scan_input_axes") ?? new long[scanIn];
        long[] outAxes = n.Ints("scan_output_axes") ?? new long[scanOut];
        var inputs = Enumerable.Range(states, scanIn).Select(n.Input).ToArray();
        var axes = inputs.Select((t, i) => Axis(inAxes[i], t.Rank, n)).ToArray();
        int steps = inputs[0].ShapeArray[axes[0]];
        if (inputs.Select((t, i) => t.ShapeArray[axes[i]]).Any(len => len != steps))
            throw new InvalidDataException($"ONNX {n.Describe}: the scan inputs have different lengths along their scan axes");
        object?[] state = n.Inputs[..states];
        var outputs = Enumerable.Range(0, scanOut).Select(_ => new List<Tensor>()).ToArray();
        var scope = SubgraphScope(n, body);
        for (int step = 0; step < steps; step++)
        {
            var slices = inputs.Select((t, i) => (object?)t.Select(axes[i], inDirs[i] != 0 ? steps - 1 - step : step));
            var result = RunSubgraph(n, body, scope, [.. state, .. slices]);
            state = result[..states];
            for (int s = 0; s < scanOut; s++) outputs[s].Add(Value<Tensor>(n, result[states + s], "a scan output"));
        }
        var stacked = outputs.Select((list, s) =>
        {
            if (list.Count == 0) throw n.Unsupported("a scan over zero steps (the output element shape is unknown)");
            if (outDirs[s] != 0) list.Reverse();
            return (object?)Tensor.Stack(list, Axis(outAxes[s], list[0].Rank + 1, n));
        });
        return [.. state, .. stacked];
    }

    /// <summary>
    /// SequenceMap: the body once per item of the first input sequence, given that item and, of each further input,
    /// its item at the same position (a sequence of the same length) or the whole tensor; each body output becomes a sequence.
    /// </summary>
    private static object?[] SequenceMap(OnnxNode n)
    {
        var body = Subgraph(n, "body");
        var first = n.SequenceInput(0);
        var extra = n.Inputs.Skip(1).ToArray();
        foreach (var e in extra)
            if (e is IReadOnlyList<Tensor> s && s.Count != first.Count)
                throw new InvalidDataException($"ONNX {n.Describe}: the input sequences have {first.Count} and {s.Count} items");
        var results = Enumerable.Range(0, body.Output.Count).Select(_ => new List<Tensor>()).ToArray();
        var scope = SubgraphScope(n, body);
        for (int i = 0; i < first.Count; i++)
        {
            var outputs = RunSubgraph(n, body, scope, [first[i], .. extra.Select(e => e is IReadOnlyList<Tensor> s ? s[i] : e)]);
            for (int o = 0; o < outputs.Length; o++) results[o].Add(Value<Tensor>(n, outputs[o], "a body output"));
        }
        return results.Select(r => (object?)r.ToArray()).ToArray();
    }

    private static T Value<T>(OnnxNode n, object value, string what) where T : class => value as T
        ?? throw new InvalidDataException($"ONNX {n.Describe}: {what} is {OnnxNode.KindOf(value)}, expected {typeof(T).Name}");
}
