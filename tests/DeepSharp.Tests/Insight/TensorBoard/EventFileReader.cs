using System.Buffers.Binary;
using System.Text;
using DeepSharp.Insight.TensorBoard;

namespace DeepSharp.Tests.Insight.TensorBoard;

/// <summary>One protobuf field as read off the wire: its field number, varints and fixed-width values in <see cref="Number"/>, length-delimited ones in <see cref="Bytes"/>.</summary>
internal sealed record ProtoField(int Field, int WireType, ulong Number, byte[]? Bytes)
{
    public double AsDouble => BitConverter.Int64BitsToDouble((long)Number);

    public float AsFloat => BitConverter.Int32BitsToSingle((int)(uint)Number);

    public string AsString => Encoding.UTF8.GetString(Bytes!);

    public List<ProtoField> AsMessage => Proto.Parse(Bytes!);
}

/// <summary>A schema-free protobuf parser written from the wire-format rules, independent of the library's encoder.</summary>
internal static class Proto
{
    public static List<ProtoField> Parse(ReadOnlySpan<byte> data)
    {
        var fields = new List<ProtoField>();
        int pos = 0;
        while (pos < data.Length)
        {
            ulong key = Varint(data, ref pos);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: fields.Add(new ProtoField(number, wire, Varint(data, ref pos), null)); break;
                case 1: fields.Add(new ProtoField(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(data[pos..]), null)); pos += 8; break;
                case 5: fields.Add(new ProtoField(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(data[pos..]), null)); pos += 4; break;
                case 2:
                    int length = checked((int)Varint(data, ref pos));
                    fields.Add(new ProtoField(number, wire, 0, data.Slice(pos, length).ToArray()));
                    pos += length;
                    break;
                default: throw new InvalidDataException($"wire type {wire} at byte {pos}");
            }
        }
        return fields;
    }

    public static ProtoField? One(this List<ProtoField> fields, int number) => fields.LastOrDefault(f => f.Field == number);

    public static double[] PackedDoubles(this ProtoField field)
    {
        var b = field.Bytes!;
        var values = new double[b.Length / 8];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadDoubleLittleEndian(b.AsSpan(i * 8));
        return values;
    }

    private static ulong Varint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return value;
        }
    }
}

/// <summary>An event read back: wall time, step, and the summary's values (or the file version of the first event).</summary>
internal sealed record TfEvent(double WallTime, long Step, string? FileVersion, List<List<ProtoField>> Values);

/// <summary>Reads an event file record by record, checking both masked CRC32Cs of every record.</summary>
internal static class EventFileReader
{
    public static List<TfEvent> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var events = new List<TfEvent>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            if (pos + 12 > bytes.Length) throw new InvalidDataException($"truncated record header at byte {pos}");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(pos));
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 8)) != TfRecord.MaskedCrc32C(bytes.AsSpan(pos, 8)))
                throw new InvalidDataException($"length CRC mismatch at byte {pos}");
            if (pos + 16 + (long)length > bytes.Length) throw new InvalidDataException($"truncated record at byte {pos}");
            var data = bytes.AsSpan(pos + 12, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 12 + (int)length)) != TfRecord.MaskedCrc32C(data))
                throw new InvalidDataException($"data CRC mismatch in the record at byte {pos}");
            var e = Proto.Parse(data);
            var summary = e.One(5)?.AsMessage;
            events.Add(new TfEvent(e.One(1)?.AsDouble ?? 0, (long)(e.One(2)?.Number ?? 0), e.One(3)?.AsString,
                summary?.Where(f => f.Field == 1).Select(f => f.AsMessage).ToList() ?? []));
            pos += 16 + (int)length;
        }
        return events;
    }
}
