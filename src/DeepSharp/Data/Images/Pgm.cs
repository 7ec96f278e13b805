namespace DeepSharp.Data;

/// <summary>
/// Netpbm gray maps: binary P5 and ASCII P2, maxval up to 65535 (scaled to 8 bits). The header is
/// checked against the bytes that follow before the pixel buffer is allocated, and a sample above
/// maxval is an error, so a malformed file is an <see cref="InvalidDataException"/>, never a huge
/// allocation or silently wrapped pixels.
/// </summary>
public static class Pgm
{
    /// <summary>Decodes a binary (P5) or ASCII (P2) PGM file to a one-channel image.</summary>
    /// <param name="bytes">The file's contents.</param>
    /// <param name="source">Names the file in error messages.</param>
    /// <exception cref="InvalidDataException">The bytes are not a valid PGM file.</exception>
    public static Image Decode(byte[] bytes, string source = "pgm")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        int pos = 0;
        string magic = Token(bytes, ref pos, source, "magic number");
        if (magic is not ("P5" or "P2")) throw new InvalidDataException($"{source}: not a PGM file (magic '{magic}', expected P5 or P2)");
        int width = Number(bytes, ref pos, source, "width"), height = Number(bytes, ref pos, source, "height"), max = Number(bytes, ref pos, source, "maxval");
        if (width <= 0 || height <= 0 || (long)width * height > 1L << 28) throw new InvalidDataException($"{source}: invalid PGM size {width}x{height}");
        if (max is <= 0 or > 65535) throw new InvalidDataException($"{source}: invalid PGM maxval {max} (expected 1 to 65535)");
        long count = (long)width * height;
        if (magic == "P5")
        {
            pos++; // the single whitespace after maxval
            int size = max > 255 ? 2 : 1;
            long available = Math.Max(bytes.Length - pos, 0);
            if (count * size > available)
                throw new InvalidDataException($"{source}: truncated PGM data: {width}x{height} samples of {size} byte(s) need {count * size} bytes, the file has {available} after the header");
            var pixels = new byte[count];
            for (int i = 0; i < pixels.Length; i++)
            {
                int v = size == 1 ? bytes[pos + i] : bytes[pos + 2 * i] << 8 | bytes[pos + 2 * i + 1];
                pixels[i] = Scale(v, max, i, width, source);
            }
            return new Image(width, height, 1, pixels);
        }
        else
        {
            // An ASCII sample takes at least one digit and one separator (the last may end the file):
            // a header claiming more samples than that is refused before allocating for them.
            long available = Math.Max(bytes.Length - pos, 0);
            if (2 * count - 1 > available)
                throw new InvalidDataException($"{source}: truncated PGM data: {width}x{height} ASCII samples need at least {2 * count - 1} bytes, the file has {available} after the header");
            var pixels = new byte[count];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = Scale(Number(bytes, ref pos, source, $"sample {i}"), max, i, width, source);
            return new Image(width, height, 1, pixels);
        }
    }

    private static byte Scale(int value, int max, int index, int width, string source) => value <= max
        ? (byte)(value * 255 / max)
        : throw new InvalidDataException($"{source}: PGM sample {value} at pixel ({index % width}, {index / width}) exceeds maxval {max}");

    /// <summary>Netpbm whitespace: space, tab, CR, LF, vertical tab, form feed (not the Latin-1 spaces .NET also counts).</summary>
    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0x0B or 0x0C;

    private static string Token(byte[] b, ref int pos, string source, string what)
    {
        while (pos < b.Length)
        {
            if (b[pos] == (byte)'#') { while (pos < b.Length && b[pos] != (byte)'\n') pos++; }
            else if (IsSpace(b[pos])) pos++;
            else break;
        }
        int start = pos;
        while (pos < b.Length && !IsSpace(b[pos]) && pos - start < 32) pos++;
        if (start == pos) throw new InvalidDataException($"{source}: truncated PGM file: the {what} is missing");
        return System.Text.Encoding.Latin1.GetString(b, start, pos - start);
    }

    private static int Number(byte[] b, ref int pos, string source, string what)
    {
        var t = Token(b, ref pos, source, what);
        return int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v)
            ? v : throw new InvalidDataException($"{source}: PGM {what} '{t}' is not a decimal number in [0, {int.MaxValue}]");
    }
}
