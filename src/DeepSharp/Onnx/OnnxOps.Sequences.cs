namespace DeepSharp.Onnx;

// Sequences of tensors: SequenceConstruct/Empty/Insert/Erase/At/Length, SplitToSequence, ConcatFromSequence; and
// optionals (Optional, OptionalHasElement, OptionalGetElement), held as OnnxOptional.
// A sequence is an immutable IReadOnlyList<Tensor>: every op that changes one returns a new list, so values
// computed earlier in the graph never change under a later node.
internal static partial class OnnxOps
{
    private static void RegisterSequences(Dictionary<string, Op> ops)
    {
        ops["SequenceEmpty"] = n => [Array.Empty<Tensor>()];
        ops["SequenceConstruct"] = n => [SequenceConstruct(n)];
        ops["SequenceLength"] = n => One(Tensor.Scalar(n.SequenceInput(0).Count, DType.Int64));
        ops["SequenceAt"] = n => One(n.SequenceInput(0)[Position(n, 1, n.SequenceInput(0).Count, insert: false)
            ?? throw new InvalidDataException($"ONNX {n.Describe}: the position input is missing")]);
        ops["SequenceInsert"] = n => [SequenceInsert(n)];
        ops["SequenceErase"] = n => [SequenceErase(n)];
        ops["SplitToSequence"] = n => [SplitToSequence(n)];
        ops["ConcatFromSequence"] = n => One(ConcatFromSequence(n));
        ops["Optional"] = n => [n.Inputs.Length > 0 && n.Inputs[0] is { } v ? new OnnxOptional(v) : OnnxOptional.Empty];
        ops["OptionalHasElement"] = n => One(Tensor.Scalar(n.Inputs.Length > 0 && n.Inputs[0] is { } v && (v is not OnnxOptional o || o.HasValue) ? 1 : 0, DType.Bool));
        ops["OptionalGetElement"] = n => [n.Value(0) is OnnxOptional o
            ? o.Value ?? throw new InvalidDataException($"ONNX {n.Describe}: the optional input is empty")
            : n.Value(0)]; // opset 18 also takes the value itself
    }

    private static Tensor[] SequenceConstruct(OnnxNode n)
    {
        var items = Enumerable.Range(0, n.Inputs.Length).Select(n.Input).ToArray();
        if (items.Any(t => t.DType != items[0].DType))
            throw new InvalidDataException($"ONNX {n.Describe}: the tensors of a sequence must share one element type ({string.Join(", ", items.Select(t => t.DType).Distinct())})");
        return items;
    }

    private static Tensor[] SequenceInsert(OnnxNode n)
    {
        var seq = n.SequenceInput(0);
        var item = n.Input(1);
        if (seq.Count > 0 && seq[0].DType != item.DType)
            throw new InvalidDataException($"ONNX {n.Describe}: cannot insert a {item.DType} tensor into a sequence of {seq[0].DType}");
        var result = seq.ToList();
        result.Insert(Position(n, 2, seq.Count, insert: true) ?? seq.Count, item);
        return [.. result];
    }

    private static Tensor[] SequenceErase(OnnxNode n)
    {
        var seq = n.SequenceInput(0);
        if (seq.Count == 0) throw new InvalidDataException($"ONNX {n.Describe}: cannot erase from an empty sequence");
        var result = seq.ToList();
        result.RemoveAt(Position(n, 1, seq.Count, insert: false) ?? seq.Count - 1);
        return [.. result];
    }

    /// <summary>
    /// The position input <paramref name="i"/> (a scalar, negative counting from the end), or null when omitted.
    /// Reading accepts [-count, count-1]; inserting also accepts count (the end).
    /// </summary>
    private static int? Position(OnnxNode n, int i, int count, bool insert)
    {
        if (n.IntsInput(i) is not { } p) return null;
        if (p.Length != 1) throw new InvalidDataException($"ONNX {n.Describe}: the position must be a scalar, got {p.Length} values");
        long pos = p[0] < 0 ? p[0] + count : p[0];
        long max = insert ? count : count - 1;
        return pos >= 0 && pos <= max ? (int)pos
            : throw new InvalidDataException($"ONNX {n.Describe}: position {p[0]} is outside a sequence of {count} tensors");
    }

    /// <summary>
    /// Splits along an axis into a sequence: pieces of one (squeezed when keepdims = 0) without a split input, equal
    /// pieces of a scalar split's size (the last one shorter), or the sizes of a 1-D split.
    /// </summary>
    private static Tensor[] SplitToSequence(OnnxNode n)
    {
        var x = n.Input(0);
        int axis = Axis(n.Int("axis", 0), x.Rank, n);
        int size = x.ShapeArray[axis];
        var split = n.Optional(1);
        if (split is null)
        {
            bool keep = n.Int("keepdims", 1) != 0;
            return Enumerable.Range(0, size).Select(i => keep ? x.Narrow(axis, i, 1) : x.Select(axis, i)).ToArray();
        }
        long[] lengths = split.To(DType.Int64).ToArray<long>();
        if (split.Rank == 0)
        {
            long chunk = lengths[0];
            if (chunk <= 0) throw new InvalidDataException($"ONNX {n.Describe}: split size {chunk} must be positive");
            lengths = Enumerable.Range(0, (int)((size + chunk - 1) / chunk)).Select(i => Math.Min(chunk, size - i * chunk)).ToArray();
        }
        if (lengths.Any(l => l < 0) || lengths.Sum() != size)
            throw new InvalidDataException($"ONNX {n.Describe}: split sizes {Format(lengths)} do not add up to dimension {axis}'s {size}");
        var pieces = new Tensor[lengths.Length];
        for (int i = 0, start = 0; i < pieces.Length; start += (int)lengths[i], i++)
            pieces[i] = x.Narrow(axis, start, (int)lengths[i]);
        return pieces;
    }

    /// <summary>Concatenates a sequence along an axis, or stacks it along a new one (new_axis = 1, axis may then be rank).</summary>
    private static Tensor ConcatFromSequence(OnnxNode n)
    {
        var seq = n.SequenceInput(0);
        if (seq.Count == 0) throw new InvalidDataException($"ONNX {n.Describe}: cannot concatenate an empty sequence");
        bool stack = n.Int("new_axis", 0) != 0;
        int axis = Axis(n.Int("axis", 0), seq[0].Rank + (stack ? 1 : 0), n);
        return stack ? Tensor.Stack(seq, axis) : Tensor.Cat(seq, axis);
    }
}
