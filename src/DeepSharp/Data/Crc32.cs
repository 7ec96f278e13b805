using System.Buffers.Binary;

namespace DeepSharp.Data;

/// <summary>
/// CRC-32 (ISO-HDLC, the polynomial of PNG chunks and gzip trailers), slicing-by-8: eight table
/// lookups per 8 input bytes instead of one per byte, so checking a 50 MB gzip payload costs
/// tens of milliseconds. <see cref="Append"/> continues a running CRC:
/// <c>Append(Append(0, a), b) == Compute(a + b)</c>.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] s_tables = BuildTables();

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var t = s_tables;
        uint c = ~crc;
        while (data.Length >= 8)
        {
            uint lo = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ c;
            uint hi = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            c = t[7 * 256 + (lo & 0xFF)] ^ t[6 * 256 + ((lo >> 8) & 0xFF)] ^ t[5 * 256 + ((lo >> 16) & 0xFF)] ^ t[4 * 256 + (lo >> 24)]
              ^ t[3 * 256 + (hi & 0xFF)] ^ t[2 * 256 + ((hi >> 8) & 0xFF)] ^ t[256 + ((hi >> 16) & 0xFF)] ^ t[hi >> 24];
            data = data[8..];
        }
        foreach (byte b in data) c = t[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    private static uint[] BuildTables()
    {
        var t = new uint[8 * 256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        for (int s = 1; s < 8; s++)
            for (int n = 0; n < 256; n++) t[s * 256 + n] = (t[(s - 1) * 256 + n] >> 8) ^ t[t[(s - 1) * 256 + n] & 0xFF];
        return t;
    }
}
