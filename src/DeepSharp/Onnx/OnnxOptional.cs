namespace DeepSharp.Onnx;

/// <summary>
/// An ONNX optional value: a tensor, a sequence of tensors (<see cref="IReadOnlyList{Tensor}"/>), a string tensor, or
/// nothing. Graphs with optional inputs or outputs take and give it through <see cref="OnnxModel.RunValues"/>.
/// </summary>
public sealed class OnnxOptional
{
    /// <summary>Holds <paramref name="value"/>, or nothing when it is null.</summary>
    /// <exception cref="ArgumentException">The value is of a kind an ONNX graph cannot carry.</exception>
    public OnnxOptional(object? value)
    {
        if (value is not (null or Tensor or IReadOnlyList<Tensor> or OnnxStringTensor))
            throw new ArgumentException($"OnnxOptional: a {value.GetType().Name} cannot be an ONNX value; pass a Tensor, an IReadOnlyList<Tensor>, an OnnxStringTensor or null");
        Value = value;
    }

    /// <summary>The optional with nothing in it.</summary>
    public static OnnxOptional Empty { get; } = new(null);

    /// <summary>The value held, or null.</summary>
    public object? Value { get; }

    /// <summary>Whether a value is held.</summary>
    public bool HasValue => Value is not null;

    /// <inheritdoc/>
    public override string ToString() => HasValue ? $"optional({Value})" : "optional(empty)";
}
