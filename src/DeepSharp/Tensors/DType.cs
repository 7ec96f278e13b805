namespace DeepSharp;

/// <summary>Element type of a tensor. Float32 is the default and the fast path.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float (torch.float32); elements are <see cref="float"/>.</summary>
    Float32,
    /// <summary>64-bit IEEE float (torch.float64); elements are <see cref="double"/>.</summary>
    Float64,
    /// <summary>64-bit signed integer (torch.int64), used for indices and class labels; elements are <see cref="long"/>.</summary>
    Int64,
    /// <summary>Boolean (torch.bool), the result of comparisons and masks; elements are <see cref="bool"/>.</summary>
    Bool,
}

/// <summary>Properties of a <see cref="DType"/>.</summary>
public static class DTypeExtensions
{
    /// <summary>PyTorch-style name: float32, float64, int64, bool.</summary>
    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int64 => "int64",
        DType.Bool => "bool",
        _ => dtype.ToString(),
    };

    /// <summary>Bytes per element: 4 for float32, 8 for float64 and int64, 1 for bool.</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int64 => 8,
        _ => 1,
    };

    /// <summary>True for float32 and float64.</summary>
    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.Float32 or DType.Float64;

    internal static DType Of<T>() where T : unmanaged =>
        TryOf<T>() ?? throw new NotSupportedException($"element type {typeof(T).Name} is not a DeepSharp dtype (float, double, long, bool)");

    /// <summary>The dtype whose elements are <typeparamref name="T"/>, or null.</summary>
    internal static DType? TryOf<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(long)) return DType.Int64;
        if (typeof(T) == typeof(bool)) return DType.Bool;
        return null;
    }
}
