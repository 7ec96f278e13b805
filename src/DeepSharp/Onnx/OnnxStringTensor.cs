namespace DeepSharp.Onnx;

/// <summary>
/// A tensor of strings, as ONNX graphs take and give them (e.g. StringNormalizer). DeepSharp tensors hold numbers
/// only, so an imported graph carries strings in this row-major array with its shape; pass one to
/// <see cref="OnnxModel.RunValues"/> for a graph input of type string.
/// </summary>
public sealed class OnnxStringTensor
{
    /// <summary>Holds <paramref name="values"/> (row-major) with <paramref name="shape"/>; their counts must agree.</summary>
    public OnnxStringTensor(IReadOnlyList<string> values, IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        int[] dims = [.. shape];
        if (values.Any(v => v is null)) throw new ArgumentException("OnnxStringTensor: a value is null", nameof(values));
        int count = Shapes.Numel(dims, "OnnxStringTensor");
        if (count != values.Count)
            throw new ArgumentException($"OnnxStringTensor: {values.Count} strings do not fill shape {Shapes.Format(dims)} ({count} elements)", nameof(values));
        Values = [.. values];
        Shape = dims;
    }

    /// <summary>The strings, row-major.</summary>
    public IReadOnlyList<string> Values { get; }

    /// <summary>The dimensions.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <inheritdoc/>
    public override string ToString() => $"strings {Shapes.Format([.. Shape])}: [{string.Join(", ", Values.Take(8).Select(v => '"' + v + '"'))}{(Values.Count > 8 ? ", ..." : "")}]";
}
