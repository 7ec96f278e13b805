using System.Buffers.Binary;
using System.Numerics;

namespace DeepSharp.Insight.TensorBoard;

/// <summary>
/// The record framing of TensorFlow event files: uint64 length (little-endian), the masked CRC32C of those
/// eight bytes, the data, the masked CRC32C of the data. The mask (rotate right by 15, add a constant) keeps a
/// CRC of data that itself holds CRCs from being weak, as the TFRecord format specifies.
/// </summary>
public static class TfRecord
{
    private const uint MaskDelta = 0xa282ead8;

    /// <summary>Appends one record holding <paramref name="data"/>.</summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc32C(header[..8]));
        stream.Write(header);
        stream.Write(data);
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc32C(data));
        stream.Write(footer);
    }

    /// <summary>CRC-32C (Castagnoli), hardware-accelerated where the CPU has it (SSE4.2, ARMv8 CRC).</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }

    /// <summary>The CRC-32C of <paramref name="data"/>, masked as TFRecord specifies: rotated right by 15 bits plus 0xa282ead8.</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + MaskDelta;
    }
}
