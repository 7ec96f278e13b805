namespace DeepSharp.Data;

/// <summary>Netpbm gray maps: binary P5 and ASCII P2, maxval up to 65535 (scaled to 8 bits).</summary>
public static class Pgm
{
    public static Image Decode(byte[] bytes, string source = "pgm")
    {
        int pos = 0;
        string magic = Token(bytes, ref pos, source);
        if (magic is not ("P5" or "P2")) throw new InvalidDataException($"{source}: not a PGM file (magic '{magic}')");
        int width = Number(bytes, ref pos, source, "width"), height = Number(bytes, ref pos, source, "height"), max = Number(bytes, ref pos, source, "maxval");
        if (width <= 0 || height <= 0 || (long)width * height > 1L << 28) throw new InvalidDataException($"{source}: invalid PGM size {width}x{height}");
        if (max is <= 0 or > 65535) throw new InvalidDataException($"{source}: invalid PGM maxval {max}");
        var pixels = new byte[width * height];
        if (magic == "P5")
        {
            pos++; // the single whitespace after maxval
            int size = max > 255 ? 2 : 1;
            if (pos + (long)pixels.Length * size > bytes.Length) throw new InvalidDataException($"{source}: truncated PGM data (expected {pixels.Length * size} bytes)");
            for (int i = 0; i < pixels.Length; i++)
            {
                int v = size == 1 ? bytes[pos + i] : bytes[pos + 2 * i] << 8 | bytes[pos + 2 * i + 1];
                pixels[i] = (byte)(v * 255 / max);
            }
        }
        else
        {
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(Math.Min(Number(bytes, ref pos, source, "pixel"), max) * 255 / max);
        }
        return new Image(width, height, 1, pixels);
    }

    private static string Token(byte[] b, ref int pos, string source)
    {
        while (pos < b.Length)
        {
            if (b[pos] == (byte)'#') { while (pos < b.Length && b[pos] != (byte)'\n') pos++; }
            else if (char.IsWhiteSpace((char)b[pos])) pos++;
            else break;
        }
        int start = pos;
        while (pos < b.Length && !char.IsWhiteSpace((char)b[pos])) pos++;
        if (start == pos) throw new InvalidDataException($"{source}: truncated PGM header");
        return System.Text.Encoding.ASCII.GetString(b, start, pos - start);
    }

    private static int Number(byte[] b, ref int pos, string source, string what)
    {
        var t = Token(b, ref pos, source);
        return int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v)
            ? v : throw new InvalidDataException($"{source}: PGM {what} '{t}' is not a number");
    }
}
