namespace DeepSharp.Data;

/// <summary>
/// Walks a JPEG file's marker segments before the decoder sees it: every segment length must be at least 2 and
/// end inside the file. StbImageSharp loops forever on a segment that claims to run past the end of the file
/// (found by fuzzing), so such files stop here with an <see cref="InvalidDataException"/> instead.
/// </summary>
internal static class JpegMarkers
{
    public static bool IsJpeg(ReadOnlySpan<byte> bytes) => bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;

    public static void Check(ReadOnlySpan<byte> bytes, string source)
    {
        int pos = 2;
        while (pos < bytes.Length)
        {
            if (bytes[pos] != 0xFF) throw new InvalidDataException($"{source}: damaged JPEG: expected a marker at byte {pos}, found 0x{bytes[pos]:X2}");
            while (pos < bytes.Length && bytes[pos] == 0xFF) pos++; // fill bytes
            if (pos >= bytes.Length) return;
            int marker = bytes[pos++];
            if (marker == 0xD9) return;                                           // EOI
            if (marker is 0x01 or 0xD8 or (>= 0xD0 and <= 0xD7)) continue;          // no length: TEM, SOI, RSTn
            if (pos + 2 > bytes.Length) throw new InvalidDataException($"{source}: truncated JPEG: marker 0xFF{marker:X2} at byte {pos - 2} has no length");
            int length = bytes[pos] << 8 | bytes[pos + 1];
            if (length < 2 || pos + length > bytes.Length)
                throw new InvalidDataException($"{source}: damaged JPEG: segment 0xFF{marker:X2} at byte {pos - 2} claims {length} bytes, {bytes.Length - pos} are left");
            pos += length;
            if (marker != 0xDA) continue;
            // Entropy-coded data after a scan header: up to the next marker that is not a stuffed 0xFF00 or a restart.
            while (pos + 1 < bytes.Length && !(bytes[pos] == 0xFF && bytes[pos + 1] != 0x00 && bytes[pos + 1] is not (>= 0xD0 and <= 0xD7) && bytes[pos + 1] != 0xFF))
                pos++;
            if (pos + 1 >= bytes.Length) return; // a scan cut short: the decoder fills what is missing
        }
    }
}
