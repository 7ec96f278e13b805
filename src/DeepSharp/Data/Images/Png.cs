using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepSharp.Data;

/// <summary>
/// A small PNG codec: decodes non-interlaced 8- and 16-bit gray, gray+alpha, RGB, RGBA and 8-bit
/// palette images; encodes 8-bit gray, RGB and RGBA. Chunks are length- and CRC-checked and the
/// image size is validated before allocating, so a malformed file is an error, never a crash.
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];
    private const long MaxPixels = 1L << 28;

    public static bool IsPng(ReadOnlySpan<byte> bytes) => bytes.Length >= 8 && bytes[..8].SequenceEqual(Signature);

    public static Image Decode(byte[] bytes, string source = "png")
    {
        if (!IsPng(bytes)) throw new InvalidDataException($"{source}: not a PNG file (bad signature)");
        int pos = 8, width = 0, height = 0, bitDepth = 0, colorType = -1;
        byte[]? palette = null;
        using var idat = new MemoryStream();
        bool end = false;
        while (!end)
        {
            if (pos + 12 > bytes.Length) throw new InvalidDataException($"{source}: truncated PNG (chunk header at byte {pos})");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(pos));
            if (length > int.MaxValue || pos + 12L + length > bytes.Length) throw new InvalidDataException($"{source}: truncated PNG chunk at byte {pos} (length {length})");
            var type = System.Text.Encoding.ASCII.GetString(bytes, pos + 4, 4);
            var body = bytes.AsSpan(pos + 8, (int)length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(pos + 8 + (int)length));
            if (Crc32(bytes.AsSpan(pos + 4, 4 + (int)length)) != crc) throw new InvalidDataException($"{source}: CRC mismatch in PNG chunk {type}");
            switch (type)
            {
                case "IHDR":
                    if (length != 13) throw new InvalidDataException($"{source}: IHDR has length {length}, expected 13");
                    width = checked((int)BinaryPrimitives.ReadUInt32BigEndian(body));
                    height = checked((int)BinaryPrimitives.ReadUInt32BigEndian(body[4..]));
                    bitDepth = body[8];
                    colorType = body[9];
                    if (body[12] != 0) throw new InvalidDataException($"{source}: interlaced PNGs are not supported");
                    if (width <= 0 || height <= 0 || (long)width * height > MaxPixels) throw new InvalidDataException($"{source}: invalid PNG size {width}x{height}");
                    break;
                case "PLTE":
                    palette = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    break;
                case "IEND":
                    end = true;
                    break;
            }
            pos += 12 + (int)length;
        }
        if (colorType < 0) throw new InvalidDataException($"{source}: PNG has no IHDR chunk");
        int samples = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new InvalidDataException($"{source}: unknown PNG color type {colorType}") };
        if (!(bitDepth == 8 || (bitDepth == 16 && colorType != 3))) throw new InvalidDataException($"{source}: PNG bit depth {bitDepth} with color type {colorType} is not supported (8 or 16 bits)");
        int bpp = samples * bitDepth / 8;
        int stride = width * bpp;
        var raw = new byte[(long)(stride + 1) * height];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            int read = 0;
            while (read < raw.Length)
            {
                int n = z.Read(raw, read, raw.Length - read);
                if (n == 0) throw new InvalidDataException($"{source}: PNG image data is truncated ({read} of {raw.Length} bytes)");
                read += n;
            }
        }
        var pixels = Unfilter(raw, height, stride, bpp, source);
        return ToImage(pixels, width, height, colorType, bitDepth, samples, palette, source);
    }

    private static byte[] Unfilter(byte[] raw, int height, int stride, int bpp, string source)
    {
        var output = new byte[(long)stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            var cur = output.AsSpan(y * stride, stride);
            var prev = y > 0 ? output.AsSpan((y - 1) * stride, stride) : default;
            for (int x = 0; x < stride; x++)
            {
                int a = x >= bpp ? cur[x - bpp] : 0;
                int b = y > 0 ? prev[x] : 0;
                int c = x >= bpp && y > 0 ? prev[x - bpp] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"{source}: unknown PNG filter type {filter} on row {y}"),
                };
                cur[x] = (byte)(line[x] + predictor);
            }
        }
        return output;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static Image ToImage(byte[] data, int width, int height, int colorType, int bitDepth, int samples, byte[]? palette, string source)
    {
        int step = bitDepth / 8; // 16-bit samples keep their high byte
        int n = width * height;
        switch (colorType)
        {
            case 3:
            {
                if (palette is null) throw new InvalidDataException($"{source}: palette PNG without a PLTE chunk");
                var rgb = new byte[n * 3];
                for (int i = 0; i < n; i++)
                {
                    int e = data[i] * 3;
                    if (e + 2 >= palette.Length) throw new InvalidDataException($"{source}: palette index {data[i]} out of range");
                    rgb[i * 3] = palette[e];
                    rgb[i * 3 + 1] = palette[e + 1];
                    rgb[i * 3 + 2] = palette[e + 2];
                }
                return new Image(width, height, 3, rgb);
            }
            default:
            {
                int channels = colorType switch { 0 or 4 => 1, 2 => 3, _ => 4 };
                var px = new byte[n * channels];
                for (int i = 0; i < n; i++)
                    for (int ch = 0; ch < channels; ch++) px[i * channels + ch] = data[(i * samples + ch) * step];
                return new Image(width, height, channels, px);
            }
        }
    }

    /// <summary>Encodes an 8-bit gray, RGB or RGBA image (filter 0 per row, zlib-compressed).</summary>
    public static byte[] Encode(Image image)
    {
        int colorType = image.Channels switch { 1 => 0, 3 => 2, 4 => 6, _ => throw new ArgumentException($"PNG: cannot encode {image.Channels} channels (1, 3 or 4)") };
        int stride = image.Width * image.Channels;
        if (image.Pixels.Length != (long)stride * image.Height) throw new ArgumentException($"PNG: {image.Pixels.Length} pixel bytes do not match {image.Width}x{image.Height}x{image.Channels}");
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < image.Height; y++)
            {
                z.WriteByte(0);
                z.Write(image.Pixels, y * stride, stride);
            }
        }
        using var png = new MemoryStream();
        png.Write(Signature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)image.Width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)image.Height);
        ihdr[8] = 8;
        ihdr[9] = (byte)colorType;
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream s, string type, byte[] body)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)body.Length);
        System.Text.Encoding.ASCII.GetBytes(type, header[4..]);
        s.Write(header);
        s.Write(body);
        var crcInput = new byte[4 + body.Length];
        header[4..].CopyTo(crcInput);
        body.CopyTo(crcInput, 4);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(crcInput));
        s.Write(crc);
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>The CRC-32 (ISO-HDLC) that PNG chunks carry.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
