using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace DeepSharp.NN;

public abstract partial class Module
{
    /// <summary>
    /// A Keras/torchinfo-style table: every module (indented by depth) with its type, output shape
    /// and parameter count, then the totals. Output shapes come from one forward pass on zeros of
    /// <paramref name="inputShape"/> (batch dim included, e.g. [1, 784]) in eval mode without
    /// recording; the training mode is restored afterwards. "--" marks modules without parameters
    /// of their own (containers show their children's counts on the children's rows).
    /// </summary>
    public string Summary(int[] inputShape, DType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        var modules = NamedModules().ToList();
        var shapes = new Dictionary<Module, string>(ReferenceEqualityComparer.Instance);
        var handles = modules.Select(m => m.Module.RegisterForwardHook((mod, _, output) =>
        {
            if (!shapes.ContainsKey(mod)) shapes[mod] = FormatOutput(output);
        })).ToList();
        var modes = modules.Select(m => m.Module.Training).ToList();
        try
        {
            Eval();
            var input = Tensor.Zeros(inputShape, dtype ?? Parameters().FirstOrDefault()?.DType ?? DType.Float32);
            using (Autograd.NoGrad()) CallBoxed(input);
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
            for (int i = 0; i < modules.Count; i++) modules[i].Module.Training = modes[i];
        }

        var rows = new List<(string Layer, string Shape, string Params)>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        long total = 0, trainable = 0;
        foreach (var (name, m) in modules)
        {
            long own = 0;
            foreach (var (_, p) in m._parameters)
            {
                if (!seen.Add(p)) continue;
                own += p.Numel;
                if (p.RequiresGrad) trainable += p.Numel;
            }
            total += own;
            int depth = name.Length == 0 ? 0 : name.Count(c => c == '.') + 1;
            string label = name.Length == 0 ? m.TypeName : $"{new string(' ', 2 * depth)}{name[(name.LastIndexOf('.') + 1)..]} ({m.TypeName})";
            rows.Add((label, shapes.GetValueOrDefault(m, "--"), own > 0 || m._parameters.Count > 0 ? Count(own) : "--"));
        }

        int w0 = Math.Max("Layer (type)".Length, rows.Max(r => r.Layer.Length)) + 2;
        int w1 = Math.Max("Output Shape".Length, rows.Max(r => r.Shape.Length)) + 2;
        int w2 = Math.Max("Param #".Length, rows.Max(r => r.Params.Length));
        var rule = new string('=', w0 + w1 + w2);
        var sb = new StringBuilder();
        sb.AppendLine(rule);
        sb.Append("Layer (type)".PadRight(w0)).Append("Output Shape".PadRight(w1)).AppendLine("Param #".PadLeft(w2));
        sb.AppendLine(rule);
        foreach (var (layer, shape, count) in rows)
            sb.Append(layer.PadRight(w0)).Append(shape.PadRight(w1)).AppendLine(count.PadLeft(w2));
        sb.AppendLine(rule);
        sb.AppendLine($"Total params: {Count(total)}");
        sb.AppendLine($"Trainable params: {Count(trainable)}");
        sb.AppendLine($"Non-trainable params: {Count(total - trainable)}");
        sb.Append(rule);
        return sb.ToString();

        static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
    }

    private static string FormatOutput(object? output) => output switch
    {
        Tensor t => Shapes.Format(t.ShapeArray),
        ITuple tuple => string.Join(", ", Enumerable.Range(0, tuple.Length).Select(i => FormatOutput(tuple[i]))),
        null => "--",
        _ => output.GetType().Name,
    };
}
