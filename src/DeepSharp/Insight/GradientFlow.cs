using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>The gradient norms of one layer's parameters after a backward pass.</summary>
public sealed record LayerGradientNorm(string Layer, double WeightGradNorm, double? BiasGradNorm, double GradNorm);

/// <summary>Gradient flow through the depth of a network: per-layer gradient norms, first layer to last.</summary>
public static class GradientFlow
{
    /// <summary>
    /// Per layer (parameters grouped by module path, in parameter order), the L2 norm of the
    /// gradient of its "weight", of its "bias", and of all its parameters together. Reads .Grad, so
    /// call it after loss.Backward(); layers without gradients are skipped.
    /// </summary>
    public static IReadOnlyList<LayerGradientNorm> LayerNorms(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var order = new List<string>();
        var sums = new Dictionary<string, (double Weight, double? Bias, double All)>(StringComparer.Ordinal);
        foreach (var (name, p) in model.NamedParameters())
        {
            if (p.Grad is null) continue;
            int dot = name.LastIndexOf('.');
            string layer = dot < 0 ? "(root)" : name[..dot], leaf = dot < 0 ? name : name[(dot + 1)..];
            if (!sums.TryGetValue(layer, out var s))
            {
                order.Add(layer);
                s = (0, null, 0);
            }
            double sq = TensorValues.SumSquares(p.Grad);
            s = leaf switch
            {
                "weight" => (s.Weight + sq, s.Bias, s.All + sq),
                "bias" => (s.Weight, (s.Bias ?? 0) + sq, s.All + sq),
                _ => (s.Weight, s.Bias, s.All + sq),
            };
            sums[layer] = s;
        }
        return order.Select(l => new LayerGradientNorm(l, Math.Sqrt(sums[l].Weight), sums[l].Bias is double b ? Math.Sqrt(b) : null, Math.Sqrt(sums[l].All))).ToList();
    }
}
