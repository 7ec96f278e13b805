namespace DeepSharp.Onnx;

// Einsum in general form: the equation's labels (with "..." for broadcast dimensions, implicit or explicit output)
// become axes of one common label space. Each operand takes its diagonals for repeated labels, is permuted into
// that space with size-1 axes for the labels it lacks, the operands are multiplied with broadcasting and the labels
// not in the output are summed away. Every step is a differentiable tensor op.
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
        var space = output.Concat(labels.SelectMany(l => l).Where(l => !output.Contains(l)).Distinct()).ToList();

        bool integer = operands.Any(t => !t.IsFloatingPoint);
        var dtype = integer ? DType.Float64 : operands[0].DType;
        Tensor? product = null;
        for (int i = 0; i < operands.Length; i++)
        {
            var (x, own) = EinsumDiagonals(operands[i].To(dtype), labels[i], n);
            var present = space.Where(own.Contains).ToArray();
            x = x.Permute(present.Select(l => own.IndexOf(l)).ToArray());
            x = x.Reshape(space.Select(l => own.Contains(l) ? x.ShapeArray[Array.IndexOf(present, l)] : 1).ToArray());
            product = product is null ? x : product * x;
        }
        var result = product!;
        if (space.Count > output.Count) result = result.Sum(Enumerable.Range(output.Count, space.Count - output.Count).ToArray());
        result = result.Contiguous();
        return integer ? result.To(operands[0].DType) : result;
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
