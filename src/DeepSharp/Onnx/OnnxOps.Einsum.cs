namespace DeepSharp.Onnx;

// Einsum in general form: the equation's labels (with "..." for broadcast dimensions, implicit or explicit output).
// Each operand takes its diagonals for repeated labels; the operands are then contracted pairwise, left to right,
// each pair as one batched MatMul (shared kept labels the batch, shared dropped labels the inner dimension), and
// labels no one needs any more are summed away. Every step is a differentiable tensor op.
internal static partial class OnnxOps
{
    private static void RegisterEinsum(Dictionary<string, Op> ops) => ops["Einsum"] = n => One(Einsum(n));

    /// <summary>Labels of ellipsis dimensions: Ellipsis + k for the k-th of the broadcast dimensions (right-aligned).</summary>
    private const int EllipsisLabel = 1000;

    private static Tensor Einsum(OnnxNode n)
    {
        string equation = n.String("equation", "").Replace(" ", "", StringComparison.Ordinal);
        var operands = Enumerable.Range(0, n.Proto.Input.Count).Select(n.Input).ToArray();
        string[] sides = equation.Split("->");
        string[] terms = sides[0].Split(',');
        if (sides.Length > 2 || terms.Length != operands.Length)
            throw new InvalidDataException($"ONNX {n.Describe}: equation '{equation}' does not fit {operands.Length} inputs");
        var letterCounts = terms.Select(t => t.Replace("...", "", StringComparison.Ordinal).Length).ToArray();
        int ellipsis = 0;
        for (int i = 0; i < terms.Length; i++)
            if (terms[i].Contains("...", StringComparison.Ordinal)) ellipsis = Math.Max(ellipsis, operands[i].Rank - letterCounts[i]);
        var labels = new List<int>[terms.Length];
        for (int i = 0; i < terms.Length; i++)
        {
            labels[i] = EinsumLabels(terms[i], operands[i].Rank - letterCounts[i], ellipsis, n);
            if (labels[i].Count != operands[i].Rank)
                throw new InvalidDataException($"ONNX {n.Describe}: term '{terms[i]}' has {labels[i].Count} labels for an input of rank {operands[i].Rank}");
        }
        List<int> output;
        if (sides.Length == 2) output = EinsumLabels(sides[1], ellipsis, ellipsis, n);
        else
        {
            // Implicit output: the broadcast dimensions, then the letters used once, in alphabetical order.
            var counts = labels.SelectMany(l => l).Where(l => l < EllipsisLabel).GroupBy(l => l).Where(g => g.Count() == 1).Select(g => g.Key);
            output = [.. Enumerable.Range(EllipsisLabel, ellipsis), .. counts.Order()];
        }
        var used = labels.SelectMany(l => l).ToHashSet();
        if (output.FirstOrDefault(l => !used.Contains(l), -1) is int unknown and >= 0)
            throw new InvalidDataException($"ONNX {n.Describe}: output label '{(char)unknown}' is not in any input of '{equation}'");
        if (output.Distinct().Count() != output.Count) throw new InvalidDataException($"ONNX {n.Describe}: an output label repeats in '{equation}'");

        bool integer = operands.Any(t => !t.IsFloatingPoint);
        var dtype = integer ? DType.Float64 : operands[0].DType;
        var reduced = operands.Select((t, i) => EinsumDiagonals(t.To(dtype), labels[i], n)).ToArray();
        // Fold the operands left to right; a label stays while the output or a later operand needs it.
        var (acc, accLabels) = reduced[0];
        for (int i = 1; i < reduced.Length; i++)
        {
            var keep = output.Concat(reduced.Skip(i + 1).SelectMany(t => t.Labels)).ToHashSet();
            (acc, accLabels) = EinsumPair(acc, accLabels, reduced[i].X, reduced[i].Labels, keep, n);
        }
        (acc, accLabels) = SumLabels(acc, accLabels, l => !output.Contains(l));
        var result = acc.Permute(output.Select(l => accLabels.IndexOf(l)).ToArray()).Contiguous();
        return integer ? result.To(operands[0].DType) : result;
    }

    /// <summary>Sums away the axes whose labels match <paramref name="drop"/>.</summary>
    private static (Tensor X, List<int> Labels) SumLabels(Tensor x, List<int> labels, Func<int, bool> drop)
    {
        var axes = Enumerable.Range(0, labels.Count).Where(a => drop(labels[a])).ToArray();
        return axes.Length == 0 ? (x, labels) : (x.Sum(axes), labels.Where(l => !drop(l)).ToList());
    }

    /// <summary>
    /// Contracts two operands with one batched MatMul: labels in both and kept are the batch, labels in both and not
    /// kept are summed by the product, the others stay as rows (a) and columns (b). Shared labels of size 1 on one
    /// side broadcast. Returns the result with labels batch, a's own, b's own.
    /// </summary>
    private static (Tensor X, List<int> Labels) EinsumPair(Tensor a, List<int> la, Tensor b, List<int> lb, HashSet<int> keep, OnnxNode n)
    {
        (a, la) = SumLabels(a, la, l => !lb.Contains(l) && !keep.Contains(l));
        (b, lb) = SumLabels(b, lb, l => !la.Contains(l) && !keep.Contains(l));
        var batch = la.Where(l => lb.Contains(l) && keep.Contains(l)).ToList();
        var summed = la.Where(l => lb.Contains(l) && !keep.Contains(l)).ToList();
        var rows = la.Where(l => !lb.Contains(l)).ToList();
        var cols = lb.Where(l => !la.Contains(l)).ToList();
        var size = new Dictionary<int, int>();
        foreach (var (t, labels) in new[] { (a, la), (b, lb) })
            for (int k = 0; k < labels.Count; k++)
            {
                int d = t.ShapeArray[k];
                if (size.TryGetValue(labels[k], out int other) && other != d && other != 1 && d != 1)
                    throw new InvalidDataException($"ONNX {n.Describe}: label '{(labels[k] < EllipsisLabel ? ((char)labels[k]).ToString() : "...")}' has sizes {other} and {d}");
                size[labels[k]] = Math.Max(d, size.GetValueOrDefault(labels[k], 1));
            }
        Tensor Arrange(Tensor t, List<int> labels, List<int> order) =>
            t.Permute(order.Select(l => labels.IndexOf(l)).ToArray()).Expand(order.Select(l => size[l]).ToArray());
        int Prod(List<int> group) => group.Aggregate(1, (p, l) => p * size[l]);
        var left = Arrange(a, la, [.. batch, .. rows, .. summed]).Reshape(Prod(batch), Prod(rows), Prod(summed));
        var right = Arrange(b, lb, [.. batch, .. summed, .. cols]).Reshape(Prod(batch), Prod(summed), Prod(cols));
        List<int> result = [.. batch, .. rows, .. cols];
        return (left.MatMul(right).Reshape(result.Select(l => size[l]).ToArray()), result);
    }

    /// <summary>The labels of one term: letters as their character codes, "..." as the last <paramref name="dims"/> of the broadcast labels.</summary>
    private static List<int> EinsumLabels(string term, int dims, int ellipsis, OnnxNode n)
    {
        var result = new List<int>();
        for (int i = 0; i < term.Length; i++)
        {
            if (term.AsSpan(i).StartsWith("...", StringComparison.Ordinal))
            {
                if (dims < 0) throw new InvalidDataException($"ONNX {n.Describe}: term '{term}' has more labels than its input has dimensions");
                for (int k = 0; k < dims; k++) result.Add(EllipsisLabel + ellipsis - dims + k);
                i += 2;
            }
            else if (char.IsAsciiLetter(term[i])) result.Add(term[i]);
            else throw new InvalidDataException($"ONNX {n.Describe}: '{term[i]}' in '{term}' is not a label (letters and ... only)");
        }
        return result;
    }

    /// <summary>Replaces each label repeated within one operand by its diagonal: x * eye on the two axes, summed over the second.</summary>
    private static (Tensor X, List<int> Labels) EinsumDiagonals(Tensor x, List<int> labels, OnnxNode n)
    {
        labels = [.. labels];
        for (int q = labels.Count - 1; q > 0; q--)
        {
            int p = labels.IndexOf(labels[q]);
            if (p == q) continue;
            int size = x.ShapeArray[p];
            if (x.ShapeArray[q] != size)
                throw new InvalidDataException($"ONNX {n.Describe}: label '{(char)labels[q]}' has sizes {size} and {x.ShapeArray[q]} in one input");
            var shape = Enumerable.Repeat(1, x.Rank).ToArray();
            shape[p] = size;
            shape[q] = size;
            x = (x * Tensor.Eye(size, dtype: x.DType).Reshape(shape)).Sum(q);
            labels.RemoveAt(q);
        }
        return (x, labels);
    }
}
