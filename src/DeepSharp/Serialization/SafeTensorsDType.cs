namespace DeepSharp.Serialization;

/// <summary>The safetensors dtype names DeepSharp knows, their element sizes and what they load as.</summary>
internal static class SafeTensorsDType
{
    /// <summary>The dtype written for a DeepSharp tensor.</summary>
    public static string NameOf(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Float64 => "F64",
        DType.Int64 => "I64",
        DType.Bool => "BOOL",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "no safetensors dtype for this DeepSharp dtype"),
    };

    /// <summary>
    /// Element size and the DeepSharp dtype a file dtype loads as (narrow ints widen to int64, half
    /// floats to float32), or null when the dtype is valid in the spec but not loadable (FP8) or unknown.
    /// </summary>
    public static (int Size, DType Target)? Describe(string name) => name switch
    {
        "F32" => (4, DType.Float32),
        "F64" => (8, DType.Float64),
        "I64" => (8, DType.Int64),
        "BOOL" => (1, DType.Bool),
        "F16" or "BF16" => (2, DType.Float32),
        "U8" or "I8" => (1, DType.Int64),
        "I16" or "U16" => (2, DType.Int64),
        "I32" or "U32" => (4, DType.Int64),
        "U64" => (8, DType.Int64),
        _ => null,
    };

    public static bool IsKnownButUnsupported(string name) => name.StartsWith("F8_", StringComparison.Ordinal) || name is "F4" or "F6_E2M3" or "F6_E3M2" or "C64";

    public const string Supported = "F32, F64, I64, BOOL (native); F16, BF16 (loaded as float32); U8, I8, I16, U16, I32, U32, U64 (loaded as int64)";
}
