namespace DeepSharp.Data;

/// <summary>An 8-bit image: <see cref="Channels"/> is 1 (gray), 3 (RGB) or 4 (RGBA); pixels row-major, interleaved.</summary>
public sealed record Image(int Width, int Height, int Channels, byte[] Pixels)
{
    /// <summary>Images larger than this many pixels are refused before decoding (a small file may claim a huge size).</summary>
    public const long MaxPixels = 1L << 28;

    /// <summary>
    /// Reads an image file: PNG (8/16-bit, interlaced, palette) and PGM (P2/P5) with DeepSharp's readers; JPEG
    /// (baseline and progressive), BMP, GIF (first frame), TGA, PSD, HDR and PPM through StbImageSharp.
    /// Gray+alpha becomes gray, RGBA whose alpha is opaque everywhere (every GIF) RGB; 16-bit samples become 8-bit. A file that is not one of these, or is damaged, is an
    /// <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static Image Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// Decodes an image file's bytes (see <see cref="Load"/>); <paramref name="source"/> names it in errors. PNG stays
    /// with DeepSharp's decoder: in a fuzzing campaign StbImageSharp allocated up to 512 MiB for crafted PNGs of 80
    /// bytes, and its JPEG reader looped forever on a segment running past the end of the file (checked here first).
    /// </summary>
    public static Image Decode(byte[] bytes, string source = "image")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (Png.IsPng(bytes)) return Png.Decode(bytes, source);
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && (bytes[1] == (byte)'5' || bytes[1] == (byte)'2')) return Pgm.Decode(bytes, source);
        if (JpegMarkers.IsJpeg(bytes)) JpegMarkers.Check(bytes, source);
        StbImageSharp.ImageInfo? info;
        try
        {
            using var header = new MemoryStream(bytes, writable: false);
            info = StbImageSharp.ImageInfo.FromStream(header);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: not a readable image ({e.Message})", e);
        }
        if (info is not { } i) throw new InvalidDataException($"{source}: not an image DeepSharp reads (JPEG, PNG, BMP, GIF, TGA, PSD, HDR, PNM or PGM; unknown signature)");
        if (i.Width <= 0 || i.Height <= 0 || (long)i.Width * i.Height > MaxPixels)
            throw new InvalidDataException($"{source}: the image claims {i.Width}x{i.Height} pixels (at most {MaxPixels:N0} are read)");
        // The decoder allocates the whole image before reading its data: a few bytes claiming a huge image must not
        // get that far. Beyond 16 MiB of pixels, a file has to be large enough for its size (deflate, the best case,
        // packs at most about 1,030 bytes into one).
        long decodedBytes = (long)i.Width * i.Height * Math.Max((int)i.ColorComponents, 1) * Math.Max(i.BitsPerChannel / 8, 1);
        if (decodedBytes > (16L << 20) && decodedBytes > 1100L * bytes.Length)
            throw new InvalidDataException($"{source}: the image claims {i.Width}x{i.Height} pixels ({decodedBytes:N0} bytes) from a file of {bytes.Length:N0} bytes, more than any compression explains (truncated or damaged)");
        // Gray+alpha has no Image layout of its own: read as gray (alpha is ignored everywhere an Image is used).
        var wanted = i.ColorComponents == StbImageSharp.ColorComponents.GreyAlpha ? StbImageSharp.ColorComponents.Grey : StbImageSharp.ColorComponents.Default;
        StbImageSharp.ImageResult result;
        try
        {
            result = StbImageSharp.ImageResult.FromMemory(bytes, wanted);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: damaged or unsupported image ({e.Message})", e);
        }
        int channels = (int)result.Comp;
        if (result.Data is null || result.Data.Length != (long)result.Width * result.Height * channels)
            throw new InvalidDataException($"{source}: the decoder returned {result.Data?.Length ?? 0} bytes for {result.Width}x{result.Height}x{channels}");
        // GIF always decodes to RGBA; an alpha channel that is opaque everywhere carries nothing: RGB.
        if (channels == 4 && IsOpaque(result.Data)) return new Image(result.Width, result.Height, 3, DropAlpha(result.Data));
        return new Image(result.Width, result.Height, channels, result.Data);
    }

    private static bool IsOpaque(byte[] rgba)
    {
        for (int p = 3; p < rgba.Length; p += 4)
            if (rgba[p] != 255) return false;
        return true;
    }

    private static byte[] DropAlpha(byte[] rgba)
    {
        var rgb = new byte[rgba.Length / 4 * 3];
        for (int p = 0, q = 0; p < rgba.Length; p += 4, q += 3)
        {
            rgb[q] = rgba[p];
            rgb[q + 1] = rgba[p + 1];
            rgb[q + 2] = rgba[p + 2];
        }
        return rgb;
    }

    /// <summary>
    /// Values in [0, 1] as a float32 tensor [C, H, W] with <paramref name="channels"/> channels (1: luminance, 3: RGB;
    /// gray is repeated to RGB, alpha ignored), the layout conv nets take.
    /// </summary>
    public Tensor ToTensor(int channels = 3)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"Image.ToTensor: channels must be 1 (gray) or 3 (RGB), got {channels}", nameof(channels));
        if (channels == 1) return ToGrayTensor().Unsqueeze(0);
        int plane = Width * Height;
        var data = new float[3 * plane];
        for (int i = 0; i < plane; i++)
        {
            int p = i * Channels;
            for (int c = 0; c < 3; c++) data[c * plane + i] = Pixels[Channels >= 3 ? p + c : p] / 255f;
        }
        return Tensor.From(data, 3, Height, Width);
    }

    /// <summary>Luminance in [0, 1] as a float32 tensor [H, W] (ITU-R BT.601 weights for colour; alpha ignored).</summary>
    public Tensor ToGrayTensor()
    {
        var data = new float[Width * Height];
        for (int i = 0; i < data.Length; i++)
        {
            int p = i * Channels;
            data[i] = Channels >= 3
                ? (0.299f * Pixels[p] + 0.587f * Pixels[p + 1] + 0.114f * Pixels[p + 2]) / 255f
                : Pixels[p] / 255f;
        }
        return Tensor.From(data, Height, Width);
    }

    /// <summary>A gray image from values in [0, 1] (clamped), shape [H, W].</summary>
    public static Image FromGray(Tensor values)
    {
        if (values.Rank != 2) throw new ArgumentException($"Image.FromGray: expected [H, W], got {Shapes.Format(values.ShapeArray)}");
        var v = values.ToDoubleArray();
        var pixels = new byte[v.Length];
        for (int i = 0; i < v.Length; i++) pixels[i] = (byte)Math.Round(Math.Clamp(double.IsNaN(v[i]) ? 0 : v[i], 0, 1) * 255);
        return new Image(values.Size(1), values.Size(0), 1, pixels);
    }

    /// <summary>Encodes the image as PNG and writes it to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    public void SavePng(string path) => Serialization.AtomicFile.WriteAllBytes(path, Png.Encode(this));
}
