namespace DeepSharp;

/// <summary>Element type of a tensor. Float32 is the default and the fast path.</summary>
public enum DType
{
    Float32,
    Float64,
    Int64,
    Bool,
}

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

    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int64 => 8,
        _ => 1,
    };

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
