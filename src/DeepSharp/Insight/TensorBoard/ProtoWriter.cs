using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace DeepSharp.Insight.TensorBoard;

/// <summary>
/// The few protocol-buffer encodings an event file needs, written by field number (wire types: 0 varint,
/// 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit). A nested message is another writer whose bytes are
/// written as a length-delimited field, so no schema or code generator is involved.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly ArrayBufferWriter<byte> _bytes = new();

    public ProtoWriter Double(int field, double value)
    {
        Tag(field, 1);
        BinaryPrimitives.WriteDoubleLittleEndian(_bytes.GetSpan(8), value);
        _bytes.Advance(8);
        return this;
    }

    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        BinaryPrimitives.WriteSingleLittleEndian(_bytes.GetSpan(4), value);
        _bytes.Advance(4);
        return this;
    }

    /// <summary>int32/int64/enum: negative values take ten bytes, as the encoding defines.</summary>
    public ProtoWriter Int64(int field, long value)
    {
        Tag(field, 0);
        Varint((ulong)value);
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        _bytes.Write(value);
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message._bytes.WrittenSpan);

    /// <summary>A repeated double field, packed (proto3's default for scalars): one length-delimited run of fixed64 values.</summary>
    public ProtoWriter PackedDoubles(int field, ReadOnlySpan<double> values)
    {
        Tag(field, 2);
        Varint((ulong)values.Length * 8);
        var packed = _bytes.GetSpan(values.Length * 8);
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(packed[(i * 8)..], values[i]);
        _bytes.Advance(values.Length * 8);
        return this;
    }

    public byte[] ToArray() => _bytes.WrittenSpan.ToArray();

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    private void WriteByte(byte b)
    {
        _bytes.GetSpan(1)[0] = b;
        _bytes.Advance(1);
    }

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        WriteByte((byte)value);
    }
}
