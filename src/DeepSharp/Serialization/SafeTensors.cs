using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DeepSharp.Serialization;

/// <summary>
/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header, then the raw tensor bytes. Each header entry gives
/// dtype, shape and data_offsets [begin, end) into the data section; an optional "__metadata__"
/// entry is a string-to-string map. Nothing in a file is ever executed, unlike pickle checkpoints.
/// <para>
/// Writing: F32, F64, I64 and BOOL; tensors in the dictionary's enumeration order (so a state dict
/// keeps its module order), contiguous, row-major, little-endian; the header padded with spaces to a
/// multiple of 8 bytes as the reference implementation does. Files are replaced atomically.
/// </para>
/// <para>
/// Loading: every check of the reference implementation (header at most 100 MB, a JSON object,
/// no duplicate names, known dtypes, byte length = element size * numel in checked arithmetic,
/// offsets sorted, non-overlapping, without gaps and covering the data section exactly) runs before
/// any tensor memory is allocated. F16/BF16 load as float32 and U8/I8/I16/U16/I32/U32/U64 as int64
/// (DeepSharp has no narrower dtypes); FP8 and unknown dtypes are rejected with an error naming them.
/// </para>
/// </summary>
public static class SafeTensors
{
    /// <summary>The reference implementation's limit on the JSON header size.</summary>
    public const long MaxHeaderSize = 100_000_000;

    internal const string MetadataKey = "__metadata__";

    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (an existing file survives any failure).</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var plan = Plan(tensors, metadata); // validate everything before touching the file system
        AtomicFile.Write(path, s => WritePlan(s, plan));
    }

    /// <summary>Writes <paramref name="tensors"/> and optional <paramref name="metadata"/> in safetensors format to <paramref name="stream"/>.</summary>
    public static void Save(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        WritePlan(stream, Plan(tensors, metadata));

    /// <summary>The safetensors bytes of <paramref name="tensors"/> and optional <paramref name="metadata"/>.</summary>
    public static byte[] Serialize(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var plan = Plan(tensors, metadata);
        using var ms = new MemoryStream(checked((int)(8 + plan.Header.Length + plan.DataLength)));
        WritePlan(ms, plan);
        return ms.ToArray();
    }

    /// <summary>Reads and validates a safetensors file.</summary>
    /// <exception cref="InvalidDataException">The file is not valid safetensors.</exception>
    public static SafeTensorsContent Load(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return SafeTensorsReader.Read(fs, fs.Length, $"'{path}'");
    }

    /// <summary>Reads and validates safetensors bytes.</summary>
    /// <exception cref="InvalidDataException">The bytes are not valid safetensors.</exception>
    public static SafeTensorsContent Load(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var ms = new MemoryStream(data, writable: false);
        return SafeTensorsReader.Read(ms, data.Length, "buffer");
    }

    /// <summary>Reads from the stream's current position to its end (non-seekable streams are buffered first).</summary>
    public static SafeTensorsContent Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.CanSeek) return SafeTensorsReader.Read(stream, stream.Length - stream.Position, "stream");
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        ms.Position = 0;
        return SafeTensorsReader.Read(ms, ms.Length, "stream");
    }

    private sealed record Entry(string Name, Tensor Data);

    private sealed record WritePlanData(byte[] Header, List<Entry> Entries, long DataLength);

    private static WritePlanData Plan(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var entries = new List<Entry>(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("safetensors: tensor names must be non-empty");
            if (name == MetadataKey) throw new ArgumentException($"safetensors: '{MetadataKey}' is reserved for metadata and cannot name a tensor");
            if (tensor is null) throw new ArgumentException($"safetensors: tensor '{name}' is null");
            entries.Add(new Entry(name, tensor.ContiguousData()));
        }

        var buffer = new ArrayBufferWriter<byte>();
        long offset = 0;
        using (var json = new Utf8JsonWriter(buffer, s_writerOptions))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    if (value is null) throw new ArgumentException($"safetensors: metadata value for '{key}' is null (values must be strings)");
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            foreach (var e in entries)
            {
                long bytes = (long)e.Data.Numel * e.Data.DType.ElementSize();
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", SafeTensorsDType.NameOf(e.Data.DType));
                json.WriteStartArray("shape");
                foreach (int d in e.Data.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        int length = buffer.WrittenCount;
        int padded = (length + 7) & ~7;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return new WritePlanData(header, entries, offset);
    }

    private static void WritePlan(Stream stream, WritePlanData plan)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)plan.Header.Length);
        stream.Write(prefix);
        stream.Write(plan.Header);
        foreach (var e in plan.Entries)
        {
            switch (e.Data.DType)
            {
                case DType.Float32: WriteElements(stream, e.Data.ReadSpan<float>()); break;
                case DType.Float64: WriteElements(stream, e.Data.ReadSpan<double>()); break;
                case DType.Int64: WriteElements(stream, e.Data.ReadSpan<long>()); break;
                default: WriteElements(stream, e.Data.ReadSpan<bool>()); break; // .NET bools are the bytes 0 and 1
            }
        }
        stream.Flush();
    }

    private static void WriteElements<T>(Stream stream, ReadOnlySpan<T> data) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors: writing on big-endian machines is not supported");
        // Chunks keep each byte span well below int.MaxValue for tensors over 2 GB.
        const int Chunk = 1 << 20;
        for (int i = 0; i < data.Length; i += Chunk)
            stream.Write(MemoryMarshal.AsBytes(data.Slice(i, Math.Min(Chunk, data.Length - i))));
    }
}

/// <summary>
/// A loaded safetensors file: tensors by name, enumerated in the order their data appears in the
/// file (the writer's order), and the "__metadata__" map (empty when absent).
/// </summary>
public sealed class SafeTensorsContent(OrderedDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
{
    /// <summary>The tensors by name, in file order.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => tensors;

    /// <summary>The "__metadata__" entries (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => metadata;

    /// <summary>Tensor names in file order.</summary>
    public IReadOnlyList<string> Names => tensors.Keys;

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name.</exception>
    public Tensor this[string name] => tensors.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"safetensors: no tensor named '{name}' (the file has {tensors.Count}: {string.Join(", ", tensors.Keys.Take(10))}{(tensors.Count > 10 ? ", ..." : "")})");
}
