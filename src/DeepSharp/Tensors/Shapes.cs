using System.Text;

namespace DeepSharp;

/// <summary>Shape arithmetic shared by every op (stride arithmetic is in <see cref="Layout"/>). Errors name the op and the shapes.</summary>
internal static class Shapes
{
    public static readonly int[] Scalar = [];

    /// <summary>Element count in checked arithmetic; rejects negative sizes and overflow.</summary>
    public static int Numel(ReadOnlySpan<int> shape, string op = "tensor")
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: negative dimension {d} in shape {Format(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"{op}: shape {Format(shape)} has more than {int.MaxValue} elements");
        }
        return (int)n;
    }

    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Wraps a possibly negative dim into [0, rank). Rank-0 tensors accept -1 and 0.</summary>
    public static int NormalizeDim(string op, int dim, int rank)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw new ArgumentOutOfRangeException(nameof(dim), $"{op}: dimension {dim} is out of range for a tensor of rank {rank} (expected {-r}..{r - 1})");
        return dim < 0 ? dim + r : dim;
    }

    /// <summary>NumPy/PyTorch broadcasting: align trailing dims; each pair must match or contain a 1.</summary>
    public static int[] Broadcast(string op, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        if (a.SequenceEqual(b)) return a.ToArray();
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i} of the result: {da} vs {db})");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    public static int[] NormalizeDims(string op, ReadOnlySpan<int> dims, int rank)
    {
        var result = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            result[i] = NormalizeDim(op, dims[i], rank);
            for (int j = 0; j < i; j++)
                if (result[j] == result[i]) throw new ArgumentException($"{op}: dimension {dims[i]} appears more than once in {Format(dims)}");
        }
        return result;
    }
}
