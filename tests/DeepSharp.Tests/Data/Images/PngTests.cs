using System.Buffers.Binary;
using System.IO.Compression;
using DeepSharp.Data;

namespace DeepSharp.Tests.Data.Images;

public sealed class PngTests
{
    /// <summary>A PNG from raw chunks, each with its length and a correct CRC.</summary>
    internal static byte[] PngFile(params (string Type, byte[] Body)[] chunks)
    {
        using var ms = new MemoryStream();
        ms.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        foreach (var (type, body) in chunks)
        {
            var buffer = new byte[12 + body.Length];
            BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)body.Length);
            for (int i = 0; i < 4; i++) buffer[4 + i] = (byte)type[i];
            body.CopyTo(buffer, 8);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8 + body.Length), Png.Crc32(buffer.AsSpan(4, 4 + body.Length)));
            ms.Write(buffer);
        }
        return ms.ToArray();
    }

    internal static byte[] Ihdr(uint width, uint height, byte bitDepth, byte colorType, byte interlace = 0)
    {
        var body = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(body, width);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), height);
        body[8] = bitDepth;
        body[9] = colorType;
        body[12] = interlace;
        return body;
    }

    internal static byte[] Zlib(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal)) z.Write(raw);
        return ms.ToArray();
    }

    private static string Reject(byte[] png)
    {
        var e = Assert.Throws<InvalidDataException>(() => Png.Decode(png, "t.png"));
        Assert.StartsWith("t.png: ", e.Message);
        return e.Message;
    }

    private static (string Message, long Allocated) RejectMeasured(byte[] png)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Record.Exception(() => Png.Decode(png, "t.png"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.IsType<InvalidDataException>(e);
        return (e.Message, allocated);
    }

    [Fact]
    public void AHugeImageClaimedByATinyFileIsRejectedWithoutAllocatingIt()
    {
        // The fuzzing campaign's case: 163 bytes claiming 65535x4096 RGBA16 (2.1 GB of scanlines).
        var tiny = PngFile(("IHDR", Ihdr(65535, 4096, 16, 6)), ("IDAT", Zlib(new byte[100])), ("IEND", []));
        Assert.True(tiny.Length < 200);
        var (message, allocated) = RejectMeasured(tiny);
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes");
        Assert.Contains("truncated", message);
        Assert.Contains("65535x4096", message);

        // A claim small enough for one array (16384x16384 RGBA = 1 GiB) with 100 bytes of data:
        // the buffer grows with the data actually inflated, it is never sized from the header.
        var (truncated, allocated2) = RejectMeasured(PngFile(("IHDR", Ihdr(16384, 16384, 8, 6)), ("IDAT", Zlib(new byte[100])), ("IEND", [])));
        Assert.True(allocated2 < 16 << 20, $"allocated {allocated2} bytes");
        Assert.Contains("truncated", truncated);
    }

    [Fact]
    public void DimensionsUpToTwoToThe31AreAClearError()
    {
        Assert.Contains("height 2147483648", Reject(PngFile(("IHDR", Ihdr(1, 1u << 31, 8, 0)), ("IDAT", Zlib([0, 0])), ("IEND", []))));
        Assert.Contains("width 4294967295", Reject(PngFile(("IHDR", Ihdr(uint.MaxValue, 1, 8, 0)), ("IDAT", Zlib([0, 0])), ("IEND", []))));
        Assert.Contains("0x1", Reject(PngFile(("IHDR", Ihdr(0, 1, 8, 0)), ("IDAT", Zlib([0])), ("IEND", []))));
        Assert.Contains("pixels", Reject(PngFile(("IHDR", Ihdr(1 << 30, 1 << 30, 8, 0)), ("IDAT", Zlib([0])), ("IEND", []))));
    }

    [Fact]
    public void IhdrMustBeTheFirstChunkAndAppearOnce()
    {
        var ihdr = ("IHDR", Ihdr(1, 1, 8, 0));
        var idat = ("IDAT", Zlib([0, 7]));
        var iend = ("IEND", Array.Empty<byte>());
        Assert.Equal([7], Png.Decode(PngFile(ihdr, idat, iend)).Pixels);
        Assert.Contains("first chunk is tEXt, expected IHDR", Reject(PngFile(("tEXt", "a\0b"u8.ToArray()), ihdr, idat, iend)));
        Assert.Contains("first chunk is IDAT, expected IHDR", Reject(PngFile(idat, ihdr, iend)));
        Assert.Contains("second IHDR", Reject(PngFile(ihdr, idat, ("IHDR", Ihdr(2, 2, 8, 0)), iend)));
        Assert.Contains("second IHDR", Reject(PngFile(ihdr, ihdr, idat, iend)));
    }

    [Fact]
    public void UnknownCriticalChunksAreRejectedAndAncillaryOnesSkipped()
    {
        var ihdr = ("IHDR", Ihdr(1, 1, 8, 0));
        var idat = ("IDAT", Zlib([0, 9]));
        var iend = ("IEND", Array.Empty<byte>());
        Assert.Contains("unknown critical chunk 'ZZZZ'", Reject(PngFile(ihdr, ("ZZZZ", [1, 2, 3]), idat, iend)));
        Assert.Contains("unknown critical chunk 'IDOT'", Reject(PngFile(ihdr, idat, ("IDOT", []), iend)));
        Assert.Equal([9], Png.Decode(PngFile(ihdr, ("zzZZ", [1, 2, 3]), idat, ("tEXt", "k\0v"u8.ToArray()), iend)).Pixels);
        Assert.Contains("chunk type", Reject(PngFile(ihdr, ("a1b2", []), idat, iend)));
    }

    [Fact]
    public void HeaderFieldsAreValidatedBeforeTheImageData()
    {
        var idat = ("IDAT", Zlib([0, 0]));
        var iend = ("IEND", Array.Empty<byte>());
        Assert.Contains("interlace method 7", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 0, interlace: 7)), idat, iend)));
        Assert.Contains("color type 5", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 5)), idat, iend)));
        Assert.Contains("bit depth 4 is not allowed with color type 2", Reject(PngFile(("IHDR", Ihdr(1, 1, 4, 2)), idat, iend)));
        Assert.Contains("bit depth 16 is not allowed with color type 3", Reject(PngFile(("IHDR", Ihdr(1, 1, 16, 3)), idat, iend)));
        Assert.Contains("bit depth 3", Reject(PngFile(("IHDR", Ihdr(1, 1, 3, 0)), idat, iend)));
        var badMethod = Ihdr(1, 1, 8, 0);
        badMethod[10] = 1;
        Assert.Contains("compression method 1", Reject(PngFile(("IHDR", badMethod), idat, iend)));
        Assert.Contains("no IDAT", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 0)), iend)));
        Assert.Contains("palette", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 3)), idat, iend)));
        Assert.Contains("PLTE", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 3)), ("PLTE", [1, 2]), idat, iend)));
        Assert.Contains("too much image data", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 0)), ("IDAT", Zlib([0, 1, 0, 2])), iend)));
        Assert.Contains("corrupt", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 0)), ("IDAT", [0x78, 0x9c, 0xff, 0xff, 0xff]), iend)));
    }

    /// <summary>Forward PNG filtering (the encoder side), written from the spec, to test the decoder's inverse.</summary>
    private static byte[] Filter(byte[] pixels, int height, int stride, int bpp, Func<int, int> filterOfRow)
    {
        var raw = new byte[(stride + 1) * height];
        for (int y = 0; y < height; y++)
        {
            int f = filterOfRow(y);
            raw[y * (stride + 1)] = (byte)f;
            for (int x = 0; x < stride; x++)
            {
                int a = x >= bpp ? pixels[y * stride + x - bpp] : 0;
                int b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
                int c = x >= bpp && y > 0 ? pixels[(y - 1) * stride + x - bpp] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int predictor = f switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => pa <= pb && pa <= pc ? a : pb <= pc ? b : c };
                raw[y * (stride + 1) + 1 + x] = (byte)(pixels[y * stride + x] - predictor);
            }
        }
        return raw;
    }

    [Fact]
    public void DecodesEveryFilterSixteenBitSamplesAndPalettes()
    {
        const int w = 7, h = 10;
        var rng = new Random(5);
        // 16-bit RGBA: 8 bytes per pixel; the decoder keeps each sample's high byte.
        var rgba16 = new byte[w * h * 8];
        rng.NextBytes(rgba16);
        var image = Png.Decode(PngFile(("IHDR", Ihdr(w, h, 16, 6)), ("IDAT", Zlib(Filter(rgba16, h, w * 8, 8, y => y % 5))), ("IEND", [])));
        Assert.Equal((w, h, 4), (image.Width, image.Height, image.Channels));
        for (int i = 0; i < w * h * 4; i++) Assert.Equal(rgba16[2 * i], image.Pixels[i]);

        // Gray + alpha, 8 bits: alpha dropped. Split over three IDAT chunks.
        var ga = new byte[w * h * 2];
        rng.NextBytes(ga);
        var z = Zlib(Filter(ga, h, w * 2, 2, y => 4 - y % 5));
        int third = z.Length / 3;
        image = Png.Decode(PngFile(("IHDR", Ihdr(w, h, 8, 4)), ("IDAT", z[..third]), ("IDAT", z[third..(2 * third)]), ("IDAT", z[(2 * third)..]), ("IEND", [])));
        Assert.Equal(1, image.Channels);
        for (int i = 0; i < w * h; i++) Assert.Equal(ga[2 * i], image.Pixels[i]);

        // Palette: indices into a 3-entry PLTE.
        var indices = Enumerable.Range(0, w * h).Select(i => (byte)(i % 3)).ToArray();
        byte[] plte = [10, 20, 30, 40, 50, 60, 70, 80, 90];
        image = Png.Decode(PngFile(("IHDR", Ihdr(w, h, 8, 3)), ("PLTE", plte), ("IDAT", Zlib(Filter(indices, h, w, 1, y => y % 5))), ("IEND", [])));
        Assert.Equal(3, image.Channels);
        for (int i = 0; i < w * h; i++)
            for (int c = 0; c < 3; c++) Assert.Equal(plte[indices[i] * 3 + c], image.Pixels[i * 3 + c]);
        Assert.Contains("palette index 3", Reject(PngFile(("IHDR", Ihdr(1, 1, 8, 3)), ("PLTE", plte), ("IDAT", Zlib([0, 3])), ("IEND", []))));

        // 2-bit gray, 5 pixels a row (two bytes, the last partly padding): levels 0-3 scale to 0, 85, 170, 255.
        byte[] packed = [0, 0b00_01_10_11, 0b01_000000, 0, 0b11_10_01_00, 0b10_000000];
        image = Png.Decode(PngFile(("IHDR", Ihdr(5, 2, 2, 0)), ("IDAT", Zlib(packed)), ("IEND", [])));
        Assert.Equal(new byte[] { 0, 85, 170, 255, 85, 255, 170, 85, 0, 170 }, image.Pixels);

        // What Encode writes, Decode reads back.
        var rgb = new Image(5, 3, 3, Enumerable.Range(0, 45).Select(i => (byte)(i * 5)).ToArray());
        Assert.Equal(rgb.Pixels, Png.Decode(Png.Encode(rgb)).Pixels);
    }

    [Theory]
    [InlineData(13, 11, 8, 2)]  // RGB: every pass non-empty
    [InlineData(3, 2, 16, 6)]   // RGBA16, smaller than one 8x8 block: passes 2, 3 and 5 are empty
    [InlineData(1, 1, 8, 0)]    // one pixel: only the first pass
    public void DecodesAdam7InterlacedImages(int w, int h, int bitDepth, int colorType)
    {
        int samples = colorType switch { 0 => 1, 2 => 3, _ => 4 }, bpp = samples * bitDepth / 8;
        var pixels = new byte[w * h * bpp];
        new Random(w * 100 + h).NextBytes(pixels);
        // The seven passes, each a small image of its own, filtered on its own (written from the spec).
        (int X0, int Y0, int Dx, int Dy)[] adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        using var raw = new MemoryStream();
        int pass = 0;
        foreach (var (x0, y0, dx, dy) in adam7)
        {
            int pw = (w - x0 + dx - 1) / dx, ph = (h - y0 + dy - 1) / dy;
            if (pw <= 0 || ph <= 0) continue;
            var part = new byte[pw * ph * bpp];
            for (int y = 0; y < ph; y++)
                for (int x = 0; x < pw; x++)
                    pixels.AsSpan(((y0 + y * dy) * w + x0 + x * dx) * bpp, bpp).CopyTo(part.AsSpan((y * pw + x) * bpp));
            int p = pass++;
            raw.Write(Filter(part, ph, pw * bpp, bpp, y => (y + p) % 5));
        }
        var image = Png.Decode(PngFile(("IHDR", Ihdr((uint)w, (uint)h, (byte)bitDepth, (byte)colorType, interlace: 1)), ("IDAT", Zlib(raw.ToArray())), ("IEND", [])));
        Assert.Equal((w, h, samples), (image.Width, image.Height, image.Channels));
        int step = bitDepth / 8;
        for (int i = 0; i < w * h * samples; i++) Assert.Equal(pixels[i * step], image.Pixels[i]); // 16-bit: the high byte
        // A stream one byte short of the passes' scanlines is truncated, as for a plain image.
        var shortRaw = raw.ToArray()[..^1];
        Assert.Contains("truncated", Reject(PngFile(("IHDR", Ihdr((uint)w, (uint)h, (byte)bitDepth, (byte)colorType, interlace: 1)), ("IDAT", Zlib(shortRaw)), ("IEND", []))));
    }

    [Fact]
    public void Crc32MatchesTheBitwiseDefinitionAtEveryLength()
    {
        Assert.Equal(0xCBF43926u, Png.Crc32("123456789"u8));
        var data = new byte[300];
        new Random(3).NextBytes(data);
        for (int n = 0; n <= data.Length; n++)
        {
            uint c = 0xFFFFFFFFu;
            foreach (byte b in data.AsSpan(0, n))
            {
                c ^= b;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            Assert.Equal(~c, Png.Crc32(data.AsSpan(0, n)));
        }
    }

    [Fact]
    public void AZlibStreamAskingForAPresetDictionaryIsInvalidData()
    {
        // Found by the 100,000-input campaign: FLG 0x7D sets FDICT, zlib answers Z_NEED_DICT and
        // ZLibStream threw ZLibException (an IOException), not InvalidDataException.
        var idat = Zlib([0, 1, 2, 3]);
        idat[1] = 0x7D; // 0x787D is a multiple of 31: a valid header check, with the preset-dictionary bit
        Assert.Contains("corrupt compressed PNG image data", Reject(PngFile(("IHDR", Ihdr(3, 1, 8, 0)), ("IDAT", idat), ("IEND", []))));
    }
}
