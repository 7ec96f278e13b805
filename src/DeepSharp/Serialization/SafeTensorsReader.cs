using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace DeepSharp.Serialization;

/// <summary>Parses and validates a safetensors header, then reads the tensors (see <see cref="SafeTensors"/>).</summary>
internal static class SafeTensorsReader
{
    private sealed record Info(int Index, string Name, string DType, int[] Shape, long Begin, long End, DType Target);

    public static SafeTensorsContent Read(Stream stream, long length, string source)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors: reading on big-endian machines is not supported");
        string where = $"safetensors {source}";
        if (length < 8) throw new InvalidDataException($"{where}: {length} bytes is too short to hold the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(stream, prefix, where, "the header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > SafeTensors.MaxHeaderSize)
            throw new InvalidDataException($"{where}: header length {headerLength} exceeds the {SafeTensors.MaxHeaderSize}-byte limit (not a safetensors file, or corrupt)");
        if ((long)headerLength > length - 8)
            throw new InvalidDataException($"{where}: header length {headerLength} is larger than the {length - 8} bytes after the length prefix (file truncated?)");
        var header = new byte[headerLength];
        ReadExactly(stream, header, where, "the header");
        long dataLength = length - 8 - (long)headerLength;

        var (infos, metadata) = ParseHeader(header, where);
        ValidateLayout(infos, dataLength, where);

        var tensors = new OrderedDictionary<string, Tensor>(infos.Count);
        foreach (var info in infos) tensors.Add(info.Name, ReadTensor(stream, info, where));
        return new SafeTensorsContent(tensors, metadata);
    }

    private static (List<Info>, Dictionary<string, string>) ParseHeader(byte[] header, string where)
    {
        // The spec requires the header to start with '{' (and allows trailing spaces as padding).
        if (header.Length == 0 || header[0] != (byte)'{')
            throw new InvalidDataException($"{where}: the header must be a JSON object starting with '{{', found {(header.Length == 0 ? "an empty header" : $"byte 0x{header[0]:X2}")}");
        // JsonDocument checks UTF-8 only when a string is decoded, with InvalidOperationException: check it all first.
        if (FirstInvalidUtf8(header) is int bad)
            throw new InvalidDataException($"{where}: the header is not valid UTF-8 (invalid byte 0x{header[bad]:X2} at header offset {bad})");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: the header is not valid JSON: {e.Message}", e); }
        using (doc)
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{where}: the header must be a JSON object, found {doc.RootElement.ValueKind}");
            var infos = new List<Info>();
            var metadata = new Dictionary<string, string>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(prop.Name)) throw new InvalidDataException($"{where}: duplicate entry '{prop.Name}' in the header");
                if (prop.Name == SafeTensors.MetadataKey) ReadMetadata(prop.Value, metadata, where);
                else infos.Add(ParseInfo(infos.Count, prop.Name, prop.Value, where));
            }
            return (infos, metadata);
        }
        catch (InvalidOperationException e)
        {
            // Valid UTF-8 can still escape a lone surrogate ("\ud800"), which decodes to no valid string.
            throw new InvalidDataException($"{where}: the header holds a string that is not valid Unicode (an escaped lone surrogate?): {e.Message}", e);
        }
    }

    /// <summary>The offset of the first byte that does not start a valid UTF-8 sequence, or null when all is valid.</summary>
    private static int? FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return null;
        int at = 0;
        while (System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out int used) == System.Buffers.OperationStatus.Done) at += used;
        return at;
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string where)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: '{SafeTensors.MetadataKey}' must be an object of strings, found {value.ValueKind}");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{where}: metadata value '{m.Name}' must be a string, found {m.Value.ValueKind}");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw new InvalidDataException($"{where}: duplicate metadata key '{m.Name}'");
        }
    }

    private static Info ParseInfo(int index, string name, JsonElement value, string where)
    {
        string at = $"{where}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{at}: entry must be an object with dtype, shape and data_offsets, found {value.ValueKind}");
        string? dtype = null;
        JsonElement? shape = null, offsets = null;
        foreach (var f in value.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype" when dtype is null:
                    dtype = f.Value.ValueKind == JsonValueKind.String ? f.Value.GetString()! : throw new InvalidDataException($"{at}: dtype must be a string, found {f.Value.ValueKind}");
                    break;
                case "shape" when shape is null: shape = f.Value; break;
                case "data_offsets" when offsets is null: offsets = f.Value; break;
                case "dtype" or "shape" or "data_offsets": throw new InvalidDataException($"{at}: duplicate field '{f.Name}'");
                default: throw new InvalidDataException($"{at}: unknown field '{f.Name}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw new InvalidDataException($"{at}: missing field '{(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}'");

        var described = SafeTensorsDType.Describe(dtype);
        if (described is null)
            throw new InvalidDataException(SafeTensorsDType.IsKnownButUnsupported(dtype)
                ? $"{at}: dtype {dtype} is not supported by DeepSharp (supported: {SafeTensorsDType.Supported})"
                : $"{at}: unknown dtype '{dtype}' (supported: {SafeTensorsDType.Supported})");

        var dims = ReadUInts(shape.Value, at, "shape", -1);
        var shapeArray = new int[dims.Length];
        long numel = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            // DeepSharp tensors index with int, so each dim and the element count must fit in one.
            if (dims[i] > int.MaxValue)
                throw new InvalidDataException($"{at}: shape [{string.Join(", ", dims)}] has dimension {dims[i]}, larger than {int.MaxValue}");
            shapeArray[i] = (int)dims[i];
            numel *= shapeArray[i]; // cannot overflow: checked against int.MaxValue every step
            if (numel > int.MaxValue)
                throw new InvalidDataException($"{at}: shape [{string.Join(", ", dims)}] has more than {int.MaxValue} elements (overflow)");
        }
        var range = ReadUInts(offsets.Value, at, "data_offsets", 2);
        if (range[0] > long.MaxValue || range[1] > long.MaxValue)
            throw new InvalidDataException($"{at}: data_offsets [{range[0]}, {range[1]}] are out of range");
        long begin = (long)range[0], end = (long)range[1];
        if (end < begin) throw new InvalidDataException($"{at}: data_offsets [{begin}, {end}] end before they begin");
        long expected = numel * described.Value.Size;
        if (end - begin != expected)
            throw new InvalidDataException($"{at}: data_offsets [{begin}, {end}] span {end - begin} bytes but dtype {dtype} with shape [{string.Join(", ", dims)}] needs {expected}");
        return new Info(index, name, dtype, shapeArray, begin, end, described.Value.Target);
    }

    private static ulong[] ReadUInts(JsonElement value, string at, string field, int count)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{at}: {field} must be an array of non-negative integers, found {value.ValueKind}");
        int n = value.GetArrayLength();
        if (count >= 0 && n != count) throw new InvalidDataException($"{at}: {field} must have {count} entries, found {n}");
        if (n > 64) throw new InvalidDataException($"{at}: {field} has {n} entries; at most 64 dimensions are supported");
        var result = new ulong[n];
        int i = 0;
        foreach (var e in value.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetUInt64(out result[i]))
                throw new InvalidDataException($"{at}: {field} entry {i} must be a non-negative integer, found {e.GetRawText()}");
            i++;
        }
        return result;
    }

    /// <summary>Byte ranges must tile the data section exactly: sorted, no overlap, no gap, nothing left over.</summary>
    private static void ValidateLayout(List<Info> infos, long dataLength, string where)
    {
        // Header order breaks ties (several empty tensors at one offset) so the result is deterministic.
        infos.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End != b.End ? a.End.CompareTo(b.End) : a.Index.CompareTo(b.Index));
        long position = 0;
        string previous = "the start of the data section";
        foreach (var info in infos)
        {
            if (info.Begin < position)
                throw new InvalidDataException($"{where}: tensor '{info.Name}' data_offsets [{info.Begin}, {info.End}] overlap {previous} (which ends at {position})");
            if (info.Begin > position)
                throw new InvalidDataException($"{where}: gap in the data section: tensor '{info.Name}' begins at {info.Begin} but {previous} ends at {position}");
            if (info.End > dataLength)
                throw new InvalidDataException($"{where}: tensor '{info.Name}' data_offsets [{info.Begin}, {info.End}] run past the end of the {dataLength}-byte data section (file truncated?)");
            position = info.End;
            previous = $"tensor '{info.Name}'";
        }
        if (position != dataLength)
            throw new InvalidDataException($"{where}: the tensors cover {position} bytes but the data section has {dataLength} (trailing bytes not described by the header)");
    }

    private static Tensor ReadTensor(Stream stream, Info info, string where)
    {
        var t = Tensor.Empty(info.Shape, info.Target);
        string what = $"tensor '{info.Name}'";
        switch (info.DType)
        {
            case "F32": ReadElements(stream, t.Span<float>(), where, what); break;
            case "F64": ReadElements(stream, t.Span<double>(), where, what); break;
            case "I64": ReadElements(stream, t.Span<long>(), where, what); break;
            default:
                // Narrow and non-native dtypes: read the raw bytes, then widen.
                var raw = new byte[info.End - info.Begin];
                ReadExactly(stream, raw, where, what);
                Convert(info, raw, t, where);
                break;
        }
        return t;
    }

    private static void Convert(Info info, byte[] raw, Tensor t, string where)
    {
        switch (info.DType)
        {
            case "BOOL":
            {
                var dst = t.Span<bool>();
                for (int i = 0; i < raw.Length; i++) dst[i] = raw[i] != 0; // any nonzero byte is true; keeps .NET bools canonical
                break;
            }
            case "F16": TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(raw), t.Span<float>()); break;
            case "BF16":
            {
                var src = MemoryMarshal.Cast<byte, ushort>(raw);
                var dst = MemoryMarshal.Cast<float, uint>(t.Span<float>());
                for (int i = 0; i < src.Length; i++) dst[i] = (uint)src[i] << 16; // bfloat16 is the top half of a float32
                break;
            }
            case "U8": Widen<byte>(raw, t); break;
            case "I8": Widen<sbyte>(raw, t); break;
            case "I16": Widen<short>(raw, t); break;
            case "U16": Widen<ushort>(raw, t); break;
            case "I32": Widen<int>(raw, t); break;
            case "U32": Widen<uint>(raw, t); break;
            case "U64":
            {
                var src = MemoryMarshal.Cast<byte, ulong>(raw);
                var dst = t.Span<long>();
                for (int i = 0; i < src.Length; i++)
                    dst[i] = src[i] <= long.MaxValue ? (long)src[i]
                        : throw new InvalidDataException($"{where}: tensor '{info.Name}' (U64) holds {src[i]} at element {i}, too large for int64");
                break;
            }
            default: throw new InvalidOperationException($"unhandled safetensors dtype {info.DType}");
        }
    }

    private static void Widen<T>(byte[] raw, Tensor t) where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        var src = MemoryMarshal.Cast<byte, T>(raw);
        var dst = t.Span<long>();
        for (int i = 0; i < src.Length; i++) dst[i] = long.CreateTruncating(src[i]);
    }

    /// <summary>Reads straight into tensor storage, in chunks so byte counts stay below int.MaxValue.</summary>
    private static void ReadElements<T>(Stream stream, Span<T> data, string where, string what) where T : unmanaged
    {
        const int Chunk = 1 << 20;
        for (int i = 0; i < data.Length; i += Chunk)
            ReadExactly(stream, MemoryMarshal.AsBytes(data.Slice(i, Math.Min(Chunk, data.Length - i))), where, what);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string where, string what)
    {
        try { stream.ReadExactly(buffer); }
        catch (EndOfStreamException e) { throw new InvalidDataException($"{where}: unexpected end of file while reading {what} (file truncated?)", e); }
    }
}
