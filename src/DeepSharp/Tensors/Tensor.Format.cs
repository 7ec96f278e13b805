using System.Globalization;
using System.Text;

namespace DeepSharp;

/// <summary>
/// PyTorch-style printing: one number format shared by all elements (integral floats as "1.",
/// fixed 4 decimals, or scientific when magnitudes span more than 1000x), rows aligned,
/// large tensors elided to 3 items per edge, then shape, dtype and autograd state.
/// </summary>
public sealed partial class Tensor
{
    private const int ElideThreshold = 1000;
    private const int EdgeItems = 3;

    /// <summary>
    /// PyTorch-style text, e.g. <c>tensor([1., 2.], shape=[2])</c>, rows on separate lines; more than 1000 elements are shown
    /// as 3 items per edge; the dtype is shown unless float32, then grad_fn or requires_grad.
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder("tensor(");
        bool elide = Numel > ElideThreshold;
        var format = ChooseFormat(elide);
        int width = 0;
        foreach (int idx in ShownIndices(elide)) width = Math.Max(width, format(GetAsDouble(idx)).Length);
        AppendLevel(sb, 0, Offset, elide, format, width, indent: 7);
        sb.Append(", shape=").Append(Shapes.Format(ShapeArray));
        if (DType != DType.Float32) sb.Append(", dtype=").Append(DType.Name());
        if (GradFn is not null) sb.Append(", grad_fn=<").Append(GradFn.Name).Append('>');
        else if (RequiresGrad) sb.Append(", requires_grad=True");
        return sb.Append(')').ToString();
    }

    private Func<double, string> ChooseFormat(bool elide)
    {
        var inv = CultureInfo.InvariantCulture;
        if (DType == DType.Bool) return v => v != 0 ? "True" : "False";
        if (DType == DType.Int64) return v => ((long)v).ToString(inv);
        double maxAbs = 0, minAbs = double.PositiveInfinity;
        bool integral = true;
        foreach (int idx in ShownIndices(elide))
        {
            double v = GetAsDouble(idx);
            if (!double.IsFinite(v)) continue;
            double a = Math.Abs(v);
            maxAbs = Math.Max(maxAbs, a);
            if (a > 0) minAbs = Math.Min(minAbs, a);
            if (v != Math.Floor(v)) integral = false;
        }
        bool sci = maxAbs > 0 && (maxAbs / minAbs > 1000 || maxAbs > 1e8 || minAbs < 1e-4);
        if (integral && maxAbs < 1e8) return v => Special(v) ?? v.ToString("0", inv) + ".";
        if (sci) return v => Special(v) ?? v.ToString("0.0000e+00", inv);
        return v => Special(v) ?? v.ToString("0.0000", inv);

        static string? Special(double v) => double.IsNaN(v) ? "nan" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf" : null;
    }

    private IEnumerable<int> ShownIndices(bool elide)
    {
        if (!elide)
        {
            foreach (int i in StorageIndices()) yield return i;
            yield break;
        }
        var stack = new Stack<(int Dim, int Pos)>();
        stack.Push((0, Offset));
        while (stack.Count > 0)
        {
            var (dim, pos) = stack.Pop();
            if (dim == Rank) { yield return pos; continue; }
            foreach (int i in Shown(ShapeArray[dim], true)) if (i >= 0) stack.Push((dim + 1, pos + i * StrideArray[dim]));
        }
    }

    private static IEnumerable<int> Shown(int size, bool elide)
    {
        if (!elide || size <= 2 * EdgeItems)
        {
            for (int i = 0; i < size; i++) yield return i;
            yield break;
        }
        for (int i = 0; i < EdgeItems; i++) yield return i;
        yield return -1; // the "..." marker
        for (int i = size - EdgeItems; i < size; i++) yield return i;
    }

    private void AppendLevel(StringBuilder sb, int dim, int pos, bool elide, Func<double, string> format, int width, int indent)
    {
        if (dim == Rank)
        {
            sb.Append(format(GetAsDouble(pos)).PadLeft(width));
            return;
        }
        sb.Append('[');
        bool first = true;
        bool innermost = dim == Rank - 1;
        foreach (int i in Shown(ShapeArray[dim], elide))
        {
            if (!first)
            {
                sb.Append(',');
                if (innermost) sb.Append(' ');
                else sb.Append('\n', Rank - dim - 1).Append(' ', indent + dim + 1);
            }
            first = false;
            if (i < 0) sb.Append("...");
            else AppendLevel(sb, dim + 1, pos + i * StrideArray[dim], elide, format, width, indent);
        }
        sb.Append(']');
    }
}
