namespace DeepSharp;

// Joining and splitting: cat, stack, split, chunk. Splits are views (Narrow); cat copies.
public sealed partial class Tensor
{
    /// <summary>Concatenates tensors along an existing dim. All shapes must match except along <paramref name="dim"/>.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("cat: expected a non-empty list of tensors");
        var first = tensors[0];
        int d = Shapes.NormalizeDim("cat", dim, first.Rank);
        if (first.Rank == 0) throw new ArgumentException("cat: zero-dimensional tensors cannot be concatenated; use Stack");
        var shape = (int[])first.ShapeArray.Clone();
        shape[d] = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            CheckSameDType("cat", first, t);
            if (t.Rank != first.Rank)
                throw new ArgumentException($"cat: tensor {i} has rank {t.Rank} (shape {Shapes.Format(t.ShapeArray)}) but tensor 0 has rank {first.Rank} (shape {Shapes.Format(first.ShapeArray)})");
            for (int k = 0; k < t.Rank; k++)
                if (k != d && t.ShapeArray[k] != first.ShapeArray[k])
                    throw new ArgumentException($"cat: sizes must match except in dimension {d}: tensor {i} has shape {Shapes.Format(t.ShapeArray)}, tensor 0 has {Shapes.Format(first.ShapeArray)}");
            shape[d] += t.ShapeArray[d];
        }
        var result = Empty(shape, first.DType);
        int offset = 0;
        var sizes = new int[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            sizes[i] = t.ShapeArray[d];
            if (t.Numel > 0) CopyElements(t, result.RawNarrow(d, offset, sizes[i]));
            offset += sizes[i];
        }
        var inputs = tensors.ToArray();
        if (Autograd.ShouldRecord(inputs)) result.GradFn = new CatBackward(inputs, d, sizes);
        return result;
    }

    /// <summary>A narrowed view that autograd does not record (for writing into part of a fresh tensor).</summary>
    internal Tensor RawNarrow(int dim, int start, int length) => WithLayout(_layout.Narrow(dim, start, length));

    private sealed class CatBackward(Tensor[] inputs, int dim, int[] sizes) : Node(inputs)
    {
        protected internal override Tensor?[] Backward(Tensor g)
        {
            var grads = new Tensor?[sizes.Length];
            int offset = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                if (NeedsGrad(i)) grads[i] = g.Narrow(dim, offset, sizes[i]);
                offset += sizes[i];
            }
            return grads;
        }
    }

    /// <summary>Stacks same-shaped tensors along a new dim.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack: expected a non-empty list of tensors");
        var shape = tensors[0].ShapeArray;
        int d = Shapes.NormalizeDim("stack", dim, shape.Length + 1);
        var expanded = new Tensor[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            if (!tensors[i].ShapeArray.AsSpan().SequenceEqual(shape))
                throw new ArgumentException($"stack: expects each tensor to be equal size, but got {Shapes.Format(shape)} at entry 0 and {Shapes.Format(tensors[i].ShapeArray)} at entry {i}");
            expanded[i] = tensors[i].Unsqueeze(d);
        }
        return Cat(expanded, d);
    }

    /// <summary>Splits into pieces of <paramref name="splitSize"/> along a dim (the last may be smaller). Views.</summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        if (splitSize <= 0) throw new ArgumentException($"split: split size must be positive, got {splitSize}");
        int d = Shapes.NormalizeDim("split", dim, Rank);
        int n = ShapeArray[d];
        int count = Math.Max(1, (n + splitSize - 1) / splitSize);
        var sizes = new int[count];
        for (int i = 0; i < count; i++) sizes[i] = Math.Min(splitSize, n - i * splitSize);
        return Split(sizes, d);
    }

    /// <summary>Splits into pieces with the given sizes along a dim (they must add up to its size). Views.</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        int d = Shapes.NormalizeDim("split", dim, Rank);
        if (sizes.Sum() != ShapeArray[d])
            throw new ArgumentException($"split: sizes {Shapes.Format(sizes)} must add up to the size {ShapeArray[d]} of dimension {dim} (shape {Shapes.Format(ShapeArray)})");
        var result = new Tensor[sizes.Length];
        int offset = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            result[i] = Narrow(d, offset, sizes[i]);
            offset += sizes[i];
        }
        return result;
    }

    /// <summary>Splits into <paramref name="chunks"/> pieces of ceil(size/chunks) (fewer when the size runs out), as PyTorch.</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks <= 0) throw new ArgumentException($"chunk: number of chunks must be positive, got {chunks}");
        int d = Shapes.NormalizeDim("chunk", dim, Rank);
        int n = ShapeArray[d];
        int size = Math.Max(1, (n + chunks - 1) / chunks);
        return n == 0 ? Split([0], d) : Split(size, d);
    }

    /// <summary>
    /// Constant padding as PyTorch's F.pad: <paramref name="pads"/> holds (before, after) pairs starting
    /// from the last dim, e.g. (left, right, top, bottom). Negative entries crop.
    /// </summary>
    public Tensor Pad(int[] pads, double value = 0)
    {
        if (pads.Length % 2 != 0 || pads.Length / 2 > Rank)
            throw new ArgumentException($"pad: expected an even number of pads for at most {Rank} dims, got {pads.Length} ({Shapes.Format(pads)})");
        var shape = (int[])ShapeArray.Clone();
        for (int i = 0; i < pads.Length / 2; i++)
        {
            int d = Rank - 1 - i;
            shape[d] += pads[2 * i] + pads[2 * i + 1];
            if (shape[d] < 0) throw new ArgumentException($"pad: padding {Shapes.Format(pads)} makes dimension {d} of {Shapes.Format(ShapeArray)} negative");
        }
        var result = Full(shape, value, DType);
        // Copy the overlap of the input (cropped where pads are negative) into the padded output.
        Tensor src = this, dst = result;
        for (int i = 0; i < pads.Length / 2; i++)
        {
            int d = Rank - 1 - i, before = pads[2 * i], after = pads[2 * i + 1];
            int keep = ShapeArray[d] + Math.Min(before, 0) + Math.Min(after, 0);
            if (keep <= 0) return Record(result, "ConstantPadNdBackward", Saves.None, static (g, _, _) => ZerosLike(g));
            src = src.RawNarrow(d, Math.Max(-before, 0), keep);
            dst = dst.RawNarrow(d, Math.Max(before, 0), keep);
        }
        CopyElements(src, dst);
        if (Autograd.ShouldRecord(this)) result.GradFn = new PadBackward(this, pads);
        return result;
    }

    private sealed class PadBackward(Tensor x, int[] pads) : Node(x)
    {
        protected internal override Tensor?[] Backward(Tensor g)
        {
            var negated = new int[pads.Length];
            for (int i = 0; i < pads.Length; i++) negated[i] = -pads[i];
            return [g.Pad(negated)];
        }
    }
}
