namespace DeepSharp.Data;

/// <summary>An 8-bit image: <see cref="Channels"/> is 1 (gray), 3 (RGB) or 4 (RGBA); pixels row-major, interleaved.</summary>
public sealed record Image(int Width, int Height, int Channels, byte[] Pixels)
{
    /// <summary>Reads a PNG or a binary/ASCII PGM (P5/P2) file, by its signature.</summary>
    public static Image Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (Png.IsPng(bytes)) return Png.Decode(bytes, path);
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && (bytes[1] == (byte)'5' || bytes[1] == (byte)'2')) return Pgm.Decode(bytes, path);
        throw new InvalidDataException($"{path}: not a PNG or PGM image (unknown signature)");
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

    public void SavePng(string path) => Serialization.AtomicFile.WriteAllBytes(path, Png.Encode(this));
}
