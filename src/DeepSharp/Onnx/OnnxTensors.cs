using System.Runtime.InteropServices;
using DeepSharp.Onnx.Proto;
using Google.Protobuf;

namespace DeepSharp.Onnx;

/// <summary>
/// Converts between DeepSharp tensors and ONNX TensorProtos. DeepSharp has four element types, so ONNX's
/// integer types all become int64, float16/bfloat16 become float32, and writing uses raw little-endian bytes.
/// </summary>
internal static class OnnxTensors
{
    public const int Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
        Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16;

    public static int ElementType(DType dtype) => dtype switch
    {
        DType.Float32 => Float,
        DType.Float64 => Double,
        DType.Int64 => Int64,
        DType.Bool => Bool,
        _ => throw new NotSupportedException($"ONNX: no element type for {dtype}"),
    };

    /// <summary>The DeepSharp dtype an ONNX element type is held in, or null when DeepSharp cannot hold it (strings, complex).</summary>
    public static DType? DTypeOf(int elementType) => elementType switch
    {
        Float or Float16 or BFloat16 => DType.Float32,
        Double => DType.Float64,
        UInt8 or Int8 or UInt16 or Int16 or Int32 or Int64 or UInt32 or UInt64 => DType.Int64,
        Bool => DType.Bool,
        _ => null,
    };

    public static string ElementTypeName(int elementType) => elementType switch
    {
        Float => "float", UInt8 => "uint8", Int8 => "int8", UInt16 => "uint16", Int16 => "int16", Int32 => "int32", Int64 => "int64",
        String => "string", Bool => "bool", Float16 => "float16", Double => "double", UInt32 => "uint32", UInt64 => "uint64",
        BFloat16 => "bfloat16", _ => $"type {elementType}",
    };

    public static TensorProto ToProto(Tensor t, string name)
    {
        var proto = new TensorProto { Name = name, DataType = ElementType(t.DType) };
        foreach (int d in t.ShapeArray) proto.Dims.Add(d);
        proto.RawData = t.DType switch
        {
            DType.Float32 => Bytes(t.ToArray<float>()),
            DType.Float64 => Bytes(t.ToArray<double>()),
            DType.Int64 => Bytes(t.ToArray<long>()),
            DType.Bool => Bytes(t.ToArray<bool>()),
            _ => throw new NotSupportedException($"ONNX: cannot write {t.DType} tensor '{name}'"),
        };
        return proto;
    }

    private static ByteString Bytes<T>(T[] values) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX: writing tensors needs a little-endian machine");
        return ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>The tensor a TensorProto holds (raw_data or the typed fields), in the DeepSharp dtype of its element type.</summary>
    public static Tensor FromProto(TensorProto p)
    {
        if (p.DataLocation == TensorProto.Types.DataLocation.External)
            throw new NotSupportedException($"ONNX: tensor '{p.Name}' keeps its data in an external file, which is not supported");
        int[] shape = new int[p.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
            shape[i] = checked((int)p.Dims[i]);
        int n = Shapes.Numel(shape, "ONNX tensor");
        ReadOnlySpan<byte> raw = p.HasRawData ? p.RawData.Span : default;
        bool useRaw = p.HasRawData;
        Tensor Check(Tensor t) => t.Numel == n ? (shape.Length == 0 ? t.Reshape([]) : t)
            : throw new InvalidDataException($"ONNX: tensor '{p.Name}' has {t.Numel} values for shape {Shapes.Format(shape)}");
        switch (p.DataType)
        {
            case Float:
                return Check(Tensor.From(useRaw ? Raw<float>(raw) : [.. p.FloatData], shape));
            case Double:
                return Check(Tensor.From(useRaw ? Raw<double>(raw) : [.. p.DoubleData], shape));
            case Float16:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<Half>(raw), h => (float)h)
                    : p.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(), shape));
            case BFloat16:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<ushort>(raw), BFloat)
                    : p.Int32Data.Select(v => BFloat((ushort)v)).ToArray(), shape));
            case Int64:
                return Check(Tensor.From(useRaw ? Raw<long>(raw) : [.. p.Int64Data], shape));
            case Int32:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<int>(raw), v => (long)v) : p.Int32Data.Select(v => (long)v).ToArray(), shape));
            case Int16:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<short>(raw), v => (long)v) : p.Int32Data.Select(v => (long)v).ToArray(), shape));
            case UInt16:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<ushort>(raw), v => (long)v) : p.Int32Data.Select(v => (long)v).ToArray(), shape));
            case Int8:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<sbyte>(raw), v => (long)v) : p.Int32Data.Select(v => (long)v).ToArray(), shape));
            case UInt8:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(raw.ToArray(), v => (long)v) : p.Int32Data.Select(v => (long)v).ToArray(), shape));
            case UInt32:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<uint>(raw), v => (long)v) : p.Uint64Data.Select(v => (long)v).ToArray(), shape));
            case UInt64:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(Raw<ulong>(raw), v => unchecked((long)v)) : p.Uint64Data.Select(v => unchecked((long)v)).ToArray(), shape));
            case Bool:
                return Check(Tensor.From(useRaw ? Array.ConvertAll(raw.ToArray(), v => v != 0) : p.Int32Data.Select(v => v != 0).ToArray(), shape));
            default:
                throw new NotSupportedException($"ONNX: tensor '{p.Name}' has element type {ElementTypeName(p.DataType)}, which DeepSharp cannot hold");
        }
    }

    /// <summary>What a TensorProto holds: a <see cref="Tensor"/>, or an <see cref="OnnxStringTensor"/> for element type string.</summary>
    public static object ValueFromProto(TensorProto p) => p.DataType == String ? StringsFromProto(p) : FromProto(p);

    /// <summary>The strings of a string TensorProto (UTF-8 in string_data).</summary>
    public static OnnxStringTensor StringsFromProto(TensorProto p)
    {
        int[] shape = p.Dims.Select(d => checked((int)d)).ToArray();
        int n = Shapes.Numel(shape, "ONNX tensor");
        if (p.StringData.Count != n)
            throw new InvalidDataException($"ONNX: string tensor '{p.Name}' has {p.StringData.Count} values for shape {Shapes.Format(shape)}");
        return new OnnxStringTensor(p.StringData.Select(b => b.ToStringUtf8()).ToArray(), shape);
    }

    /// <summary>The tensors of a SequenceProto (sequences of tensors; nested sequences, maps and optionals are not supported).</summary>
    public static IReadOnlyList<Tensor> FromProto(SequenceProto p)
    {
        if (p.SequenceValues.Count > 0 || p.OptionalValues.Count > 0)
            throw new NotSupportedException($"ONNX: sequence '{p.Name}' holds sequences or optionals; DeepSharp supports sequences of tensors");
        return p.TensorValues.Select(FromProto).ToArray();
    }

    /// <summary>An OptionalProto's value: empty, or a tensor or sequence of tensors inside.</summary>
    public static OnnxOptional FromProto(OptionalProto p) =>
        p.TensorValue is { } t ? new OnnxOptional(ValueFromProto(t))
        : p.SequenceValue is { } s ? new OnnxOptional(FromProto(s))
        : p.OptionalValue is not null ? throw new NotSupportedException($"ONNX: optional '{p.Name}' holds an optional; DeepSharp supports optional tensors and sequences")
        : OnnxOptional.Empty;

    /// <summary>Tensor.From that keeps an empty shape as rank 0 (Tensor.From reads an empty shape as "1-D, all the data").</summary>
    public static Tensor Make<T>(T[] data, int[] shape) where T : unmanaged =>
        shape.Length == 0 ? Tensor.From(data, 1).Reshape([]) : Tensor.From(data, shape);

    private static T[] Raw<T>(ReadOnlySpan<byte> raw) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX: reading tensors needs a little-endian machine");
        return MemoryMarshal.Cast<byte, T>(raw).ToArray();
    }

    private static float BFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);
}
