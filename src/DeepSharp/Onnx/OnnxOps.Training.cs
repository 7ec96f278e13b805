namespace DeepSharp.Onnx;

// Gradient (domain ai.onnx.preview.training): derivatives of one graph value with respect to others, computed by
// DeepSharp's reverse-mode autograd over the ops that produced them.
internal static partial class OnnxOps
{
    private const string TrainingDomain = "ai.onnx.preview.training";

    private static void RegisterTraining(Dictionary<string, Op> ops)
    {
        ops["Gradient"] = Gradient;
        RegisterOptimizers(ops);
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
        ? t.Detach().SetRequiresGrad()
        : throw new InvalidDataException($"ONNX: Gradient differentiates with respect to '{name}', which is {OnnxNode.KindOf(value)}, not a floating-point tensor");
}

// The optimizer operators of the training preview domain: one update of every (X, G, state...) group, as the
// operator documentation gives it. Inputs: R (learning rate), T (update count), then the Xs, the Gs and each state's
// tensors, n of each; outputs: the new Xs, then each state's new tensors.
internal static partial class OnnxOps
{
    private static readonly string[] s_optimizers = ["Adagrad", "Momentum", "Adam"];

    private static void RegisterOptimizers(Dictionary<string, Op> ops)
    {
        ops["Adagrad"] = n => Optimizer(n, 1, (x, g, s, r, t) =>
        {
            double rate = r / (1 + t * n.Float("decay_factor", 0));
            var grad = Regularized(n, x, g);
            var h = s[0] + grad * grad;
            return [x - grad / (h.Sqrt() + n.Float("epsilon", 1e-6)) * rate, h];
        });
        ops["Momentum"] = n => Optimizer(n, 1, (x, g, s, r, t) =>
        {
            double alpha = n.Float("alpha", 0), beta = t > 0 ? n.Float("beta", 0) : 1;
            var grad = Regularized(n, x, g);
            var v = s[0] * alpha + grad * beta;
            return n.String("mode", "standard") switch
            {
                "standard" => [x - v * r, v],
                "nesterov" => [x - (grad + v * alpha) * r, v],
                var mode => throw new InvalidDataException($"ONNX {n.Describe}: mode '{mode}' is not standard or nesterov"),
            };
        });
        ops["Adam"] = n => Optimizer(n, 2, (x, g, s, r, t) =>
        {
            double alpha = n.Float("alpha", 0.9), beta = n.Float("beta", 0.999);
            var grad = Regularized(n, x, g);
            var v = s[0] * alpha + grad * (1 - alpha);
            var h = s[1] * beta + grad * grad * (1 - beta);
            double rate = t > 0 ? r * Math.Sqrt(1 - Math.Pow(beta, t)) / (1 - Math.Pow(alpha, t)) : r;
            var updated = x - v / (h.Sqrt() + n.Float("epsilon", 1e-6)) * rate;
            return [updated * (1 - n.Float("norm_coefficient_post", 0)), v, h];
        });
    }

    private static Tensor Regularized(OnnxNode n, Tensor x, Tensor g) =>
        n.Float("norm_coefficient", 0) is var c && c != 0 ? g + x * c : g;

    /// <summary>Applies <paramref name="update"/> (x, g, states, R, T) to each of the node's groups and orders the outputs as the operators do.</summary>
    private static object?[] Optimizer(OnnxNode n, int states, Func<Tensor, Tensor, Tensor[], double, long, Tensor[]> update)
    {
        int groups = (n.Inputs.Length - 2) / (2 + states);
        if (groups < 1 || n.Inputs.Length != 2 + groups * (2 + states))
            throw new InvalidDataException($"ONNX {n.Describe}: {n.Inputs.Length} inputs are not R, T and groups of {2 + states} tensors");
        double r = n.Input(0).To(DType.Float64).ToArray<double>()[0];
        long t = n.Input(1).To(DType.Int64).ToArray<long>()[0];
        var outputs = new object?[groups * (1 + states)];
        using var _ = Autograd.NoGrad(); // an optimizer step, not part of a differentiable graph
        for (int i = 0; i < groups; i++)
        {
            var x = n.Input(2 + i);
            var state = Enumerable.Range(0, states).Select(s => n.Input(2 + (2 + s) * groups + i)).ToArray();
            var result = update(x, n.Input(2 + groups + i), state, r, t);
            for (int k = 0; k <= states; k++) outputs[k * groups + i] = result[k].To(x.DType);
        }
        return outputs;
    }
}
