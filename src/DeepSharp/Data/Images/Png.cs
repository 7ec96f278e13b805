using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepSharp.Data;

/// <summary>
/// A small PNG codec: decodes 8- and 16-bit gray, gray+alpha, RGB, RGBA and 8-bit palette images, plain or
/// Adam7-interlaced; encodes 8-bit gray, RGB and RGBA. (A general image library decodes the other formats; PNG
/// stays here because this decoder's memory follows the data, which a fuzzing campaign holds it to.) Decoding follows the chunk rules of the PNG
/// specification (signature, IHDR first and once, CRC on every chunk, unknown critical chunks
/// refused, ancillary ones skipped) and never trusts the header's size: the scanline buffer grows
/// with the data actually inflated, so a tiny file claiming a huge image fails fast, without
/// allocating it. Every malformed file is an <see cref="InvalidDataException"/> naming the problem.
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];
    private const long MaxPixels = 1L << 28;

    /// <summary>Whether <paramref name="bytes"/> start with the 8-byte PNG signature.</summary>
    public static bool IsPng(ReadOnlySpan<byte> bytes) => bytes.Length >= 8 && bytes[..8].SequenceEqual(Signature);

    /// <summary>Adam7's seven passes: the first column and row of each, and its steps between columns and rows.</summary>
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>What IHDR declares, validated.</summary>
    private sealed record Header(int Width, int Height, int BitDepth, int ColorType, int Samples, bool Interlaced = false)
    {
        /// <summary>The filters' byte distance to the pixel on the left: at least 1 (below 8 bits, several pixels share a byte).</summary>
        public int BytesPerPixel => Math.Max(1, Samples * BitDepth / 8);

        public long Stride => ((long)Width * Samples * BitDepth + 7) / 8;

        /// <summary>Filter byte plus scanline, for every row (of every pass, when interlaced).</summary>
        public long ScanlineBytes => Interlaced ? Passes().Sum(p => p.Header.ScanlineBytes) : (Stride + 1) * Height;

        /// <summary>The non-empty Adam7 passes as images of their own, with where their pixels go.</summary>
        public IEnumerable<(Header Header, int X0, int Y0, int Dx, int Dy)> Passes()
        {
            foreach (var (x0, y0, dx, dy) in Adam7)
            {
                int w = (Width - x0 + dx - 1) / dx, h = (Height - y0 + dy - 1) / dy;
                if (w > 0 && h > 0) yield return (this with { Width = w, Height = h, Interlaced = false }, x0, y0, dx, dy);
            }
        }

        public string Describe() => $"{Width}x{Height} {ColorType switch { 0 => "gray", 2 => "RGB", 3 => "palette", 4 => "gray+alpha", _ => "RGBA" }} {BitDepth}-bit";
    }

    /// <summary>Decodes a PNG file to an image.</summary>
    /// <param name="bytes">The file's contents.</param>
    /// <param name="source">Names the file in error messages.</param>
    /// <exception cref="InvalidDataException">The bytes are not a valid or supported PNG file.</exception>
    public static Image Decode(byte[] bytes, string source = "png")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (!IsPng(bytes)) throw new InvalidDataException($"{source}: not a PNG file (bad signature)");
        int pos = 8;
        Header? header = null;
        byte[]? palette = null;
        using var idat = new MemoryStream();
        bool end = false;
        while (!end)
        {
            if (pos + 12L > bytes.Length) throw new InvalidDataException($"{source}: truncated PNG (chunk header at byte {pos}; is the IEND chunk missing?)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(pos));
            if (length > int.MaxValue || pos + 12L + length > bytes.Length) throw new InvalidDataException($"{source}: truncated PNG chunk at byte {pos} (length {length}, {bytes.Length - pos - 12L} bytes left)");
            var typeBytes = bytes.AsSpan(pos + 4, 4);
            foreach (byte t in typeBytes)
                if (!char.IsAsciiLetter((char)t)) throw new InvalidDataException($"{source}: invalid chunk type bytes {Convert.ToHexString(typeBytes)} at byte {pos} (chunk types are four ASCII letters)");
            var type = System.Text.Encoding.ASCII.GetString(typeBytes);
            var body = bytes.AsSpan(pos + 8, (int)length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(pos + 8 + (int)length));
            if (Crc32(bytes.AsSpan(pos + 4, 4 + (int)length)) != crc) throw new InvalidDataException($"{source}: CRC mismatch in PNG chunk {type} at byte {pos}");
            if (header is null && type != "IHDR") throw new InvalidDataException($"{source}: the first chunk is {type}, expected IHDR (a PNG starts with its header chunk)");
            switch (type)
            {
                case "IHDR":
                    if (header is not null) throw new InvalidDataException($"{source}: a second IHDR chunk at byte {pos} (a PNG has exactly one)");
                    header = ReadHeader(body, source);
                    break;
                case "PLTE":
                    if (palette is not null) throw new InvalidDataException($"{source}: a second PLTE chunk at byte {pos}");
                    if (idat.Length > 0) throw new InvalidDataException($"{source}: PLTE chunk after the image data (it must come before IDAT)");
                    if (length == 0 || length % 3 != 0 || length > 768) throw new InvalidDataException($"{source}: PLTE chunk of {length} bytes (expected 1 to 256 RGB entries, a multiple of 3 bytes)");
                    palette = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    break;
                case "IEND":
                    end = true;
                    break;
                default:
                    // Bit 5 of the first type byte (lower case) marks an ancillary chunk, safe to skip; a
                    // critical chunk we do not know may change how the image reads, so it is an error.
                    if ((typeBytes[0] & 0x20) == 0) throw new InvalidDataException($"{source}: unknown critical chunk '{type}' at byte {pos} (cannot be skipped safely)");
                    break;
            }
            pos += 12 + (int)length;
        }
        if (header is null) throw new InvalidDataException($"{source}: PNG has no IHDR chunk");
        if (idat.Length == 0) throw new InvalidDataException($"{source}: PNG has no IDAT chunk (no image data)");
        if (header.ColorType == 3 && palette is null) throw new InvalidDataException($"{source}: palette PNG without a PLTE chunk");
        idat.Position = 0;
        var raw = Inflate(idat, header, source);
        if (!header.Interlaced)
        {
            Unfilter(raw, header, source);
            return ToImage(raw, header, palette, source);
        }
        // Interlaced: each pass is a small image of its own (filtered on its own); its pixels go every Dx columns, Dy rows.
        Image? full = null;
        long offset = 0;
        foreach (var (pass, x0, y0, dx, dy) in header.Passes())
        {
            var part = raw.AsSpan((int)offset, (int)pass.ScanlineBytes).ToArray();
            offset += pass.ScanlineBytes;
            Unfilter(part, pass, source);
            var image = ToImage(part, pass, palette, source);
            full ??= new Image(header.Width, header.Height, image.Channels, new byte[header.Width * header.Height * image.Channels]);
            int c = image.Channels;
            for (int y = 0; y < pass.Height; y++)
                for (int x = 0; x < pass.Width; x++)
                    image.Pixels.AsSpan((y * pass.Width + x) * c, c).CopyTo(full.Pixels.AsSpan(((y0 + y * dy) * header.Width + x0 + x * dx) * c));
        }
        return full!;
    }

    private static Header ReadHeader(ReadOnlySpan<byte> body, string source)
    {
        if (body.Length != 13) throw new InvalidDataException($"{source}: IHDR has length {body.Length}, expected 13");
        uint width = BinaryPrimitives.ReadUInt32BigEndian(body), height = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
        int bitDepth = body[8], colorType = body[9];
        if (width == 0 || height == 0) throw new InvalidDataException($"{source}: invalid PNG size {width}x{height} (width and height must be positive)");
        if (width > int.MaxValue) throw new InvalidDataException($"{source}: PNG width {width} exceeds the format's limit of 2^31-1");
        if (height > int.MaxValue) throw new InvalidDataException($"{source}: PNG height {height} exceeds the format's limit of 2^31-1");
        if ((long)width * height > MaxPixels) throw new InvalidDataException($"{source}: PNG size {width}x{height} is {(long)width * height} pixels, more than the {MaxPixels} this decoder accepts");
        int samples = colorType switch
        {
            0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4,
            _ => throw new InvalidDataException($"{source}: unknown PNG color type {colorType} (expected 0, 2, 3, 4 or 6)"),
        };
        bool allowed = colorType switch { 0 => bitDepth is 1 or 2 or 4 or 8 or 16, 3 => bitDepth is 1 or 2 or 4 or 8, _ => bitDepth is 8 or 16 };
        if (!allowed)
            throw new InvalidDataException($"{source}: PNG bit depth {bitDepth} is not allowed with color type {colorType} (gray: 1, 2, 4, 8, 16; palette: 1, 2, 4, 8; others: 8, 16)");
        if (body[10] != 0) throw new InvalidDataException($"{source}: unknown PNG compression method {body[10]} (expected 0, deflate)");
        if (body[11] != 0) throw new InvalidDataException($"{source}: unknown PNG filter method {body[11]} (expected 0)");
        if (body[12] > 1) throw new InvalidDataException($"{source}: unknown PNG interlace method {body[12]} (expected 0 or 1)");
        var header = new Header((int)width, (int)height, bitDepth, colorType, samples, Interlaced: body[12] == 1);
        if (header.ScanlineBytes > Array.MaxLength)
            throw new InvalidDataException($"{source}: PNG image {header.Describe()} needs {header.ScanlineBytes} bytes of scanlines, more than one array can hold");
        return header;
    }

    /// <summary>
    /// Inflates exactly the scanline bytes the header declares. The buffer starts small and doubles as
    /// data arrives, so memory follows what the compressed stream really holds, never the header's claim.
    /// </summary>
    private static byte[] Inflate(Stream compressed, Header header, string source)
    {
        long expected = header.ScanlineBytes;
        var buffer = new byte[(int)Math.Min(expected, 64 * 1024)];
        int read = 0;
        try
        {
            using var z = new ZLibStream(compressed, CompressionMode.Decompress);
            while (true)
            {
                if (read == buffer.Length)
                {
                    if (read == expected) break;
                    Array.Resize(ref buffer, (int)Math.Min(expected, 2L * buffer.Length));
                }
                int n = z.Read(buffer, read, buffer.Length - read);
                if (n == 0)
                    throw new InvalidDataException($"{source}: PNG image data is truncated: {header.Describe()} needs {expected} bytes of scanlines, the compressed data holds {read}");
                read += n;
            }
            Span<byte> probe = stackalloc byte[1];
            if (z.Read(probe) != 0)
                throw new InvalidDataException($"{source}: too much image data: the compressed data holds more than the {expected} bytes of scanlines that {header.Describe()} needs");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(source + ":", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: corrupt compressed PNG image data (after {read} bytes): {e.Message}", e);
        }
        catch (IOException e)
        {
            // The input is a MemoryStream, so this is zlib: codes ZLibStream does not map to InvalidDataException
            // come as (internal) ZLibException, an IOException, e.g. Z_NEED_DICT for a header with FDICT set.
            throw new InvalidDataException($"{source}: corrupt compressed PNG image data (after {read} bytes; a preset dictionary is not allowed in PNG): {e.Message}", e);
        }
        return buffer;
    }

    /// <summary>Reverses the per-row filters in place: each row's bytes follow its filter-type byte.</summary>
    private static void Unfilter(byte[] raw, Header header, string source)
    {
        int stride = (int)header.Stride, bpp = header.BytesPerPixel, row = stride + 1;
        for (int y = 0; y < header.Height; y++)
        {
            int filter = raw[y * row];
            var cur = raw.AsSpan(y * row + 1, stride);
            var prev = y > 0 ? raw.AsSpan((y - 1) * row + 1, stride) : default;
            switch (filter)
            {
                case 0:
                    break;
                case 1:
                    for (int x = bpp; x < stride; x++) cur[x] += cur[x - bpp];
                    break;
                case 2:
                    if (y > 0) for (int x = 0; x < stride; x++) cur[x] += prev[x];
                    break;
                case 3:
                    for (int x = 0; x < stride; x++) cur[x] += (byte)(((x >= bpp ? cur[x - bpp] : 0) + (y > 0 ? prev[x] : 0)) / 2);
                    break;
                case 4:
                    for (int x = 0; x < stride; x++)
                    {
                        int a = x >= bpp ? cur[x - bpp] : 0, b = y > 0 ? prev[x] : 0, c = x >= bpp && y > 0 ? prev[x - bpp] : 0;
                        cur[x] += (byte)Paeth(a, b, c);
                    }
                    break;
                default:
                    throw new InvalidDataException($"{source}: unknown PNG filter type {filter} on row {y} (expected 0 to 4)");
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>8-bit pixels from the unfiltered scanlines: 16-bit samples keep their high byte, palettes expand to RGB, alpha is kept only for RGBA.</summary>
    private static Image ToImage(byte[] raw, Header header, byte[]? palette, string source)
    {
        int width = header.Width, height = header.Height, row = (int)header.Stride + 1;
        if (header.BitDepth < 8)
        {
            // Gray or palette indices packed several to a byte, most significant bits first; gray scales to 0-255.
            int bits = header.BitDepth, mask = (1 << bits) - 1;
            var unpacked = new byte[height * (width + 1)];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int bit = x * bits, v = (raw[y * row + 1 + bit / 8] >> (8 - bits - bit % 8)) & mask;
                    unpacked[y * (width + 1) + 1 + x] = (byte)(header.ColorType == 3 ? v : v * 255 / mask);
                }
            return ToImage(unpacked, header with { BitDepth = 8 }, palette, source);
        }
        if (header.ColorType == 3)
        {
            var rgb = new byte[width * height * 3];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int index = raw[y * row + 1 + x], e = index * 3;
                    if (e + 2 >= palette!.Length) throw new InvalidDataException($"{source}: palette index {index} at pixel ({x}, {y}) is outside the {palette.Length / 3}-entry palette");
                    int o = (y * width + x) * 3;
                    rgb[o] = palette[e];
                    rgb[o + 1] = palette[e + 1];
                    rgb[o + 2] = palette[e + 2];
                }
            return new Image(width, height, 3, rgb);
        }
        int channels = header.ColorType switch { 0 or 4 => 1, 2 => 3, _ => 4 };
        int step = header.BitDepth / 8, bpp = header.BytesPerPixel;
        var px = new byte[width * height * channels];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int s = y * row + 1 + x * bpp, o = (y * width + x) * channels;
                for (int ch = 0; ch < channels; ch++) px[o + ch] = raw[s + ch * step];
            }
        return new Image(width, height, channels, px);
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

    /// <summary>The CRC-32 (ISO-HDLC) that PNG chunks carry.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);
}
