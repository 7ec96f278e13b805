namespace DeepSharp.Data;

/// <summary>
/// torchvision's ToTensor: 8-bit pixels, height x width x channels interleaved, to a float32 image
/// [C, H, W] in [0, 1]. DeepSharp has no uint8 dtype, so as a transform it takes int64 tensors with
/// values 0..255 ([H, W], [H, W, C] or a batch [N, H, W, C]) and divides them by 255; float tensors
/// are only moved to channel-first, unscaled, as torchvision does for non-byte arrays.
/// </summary>
public sealed class ToTensor : ITransform
{
    /// <summary>Interleaved pixels (row-major, <paramref name="channels"/> per pixel) to [C, H, W] / 255.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> pixels, int height, int width, int channels = 1)
    {
        if (height < 0 || width < 0 || channels <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), $"ToTensor: bad image size {height}x{width}x{channels}");
        if (pixels.Length != (long)height * width * channels)
            throw new ArgumentException($"ToTensor: {pixels.Length} bytes do not make a {height}x{width} image with {channels} channels ({(long)height * width * channels} expected)");
        var output = Tensor.Empty([channels, height, width], DType.Float32);
        var dst = output.Span<float>();
        int plane = height * width;
        for (int p = 0; p < plane; p++)
            for (int c = 0; c < channels; c++) dst[c * plane + p] = pixels[p * channels + c] / 255f; // a division, as torchvision (x * (1/255f) can differ by an ulp)
        return output;
    }

    /// <summary>A decoded PNG/PGM image to [C, H, W] in [0, 1] (alpha, if any, kept as a channel).</summary>
    public static Tensor FromImage(Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return FromBytes(image.Pixels, image.Height, image.Width, image.Channels);
    }

    /// <summary>[H, W] -> [1, H, W]; [H, W, C] -> [C, H, W]; [N, H, W, C] -> [N, C, H, W]; int64 0..255 scaled to [0, 1].</summary>
    public Tensor Apply(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Rank is < 2 or > 4 || image.DType == DType.Bool)
            throw new ArgumentException($"ToTensor: expected pixels [H, W], [H, W, C] or [N, H, W, C] (int64 0..255 or float), got {image.Describe()}");
        var chw = image.Rank switch
        {
            2 => image.Unsqueeze(0),
            3 => image.Permute(2, 0, 1),
            _ => image.Permute(0, 3, 1, 2),
        };
        if (image.DType != DType.Int64) return chw.Contiguous();
        var source = chw.ContiguousData();
        var output = Tensor.Empty((int[])chw.ShapeArray.Clone(), DType.Float32);
        var pixels = source.ReadSpan<long>();
        var dst = output.Span<float>();
        for (int i = 0; i < pixels.Length; i++)
        {
            long v = pixels[i];
            if ((ulong)v > 255) throw new ArgumentException($"ToTensor: pixel values must be 0..255, got {v} in {image.Describe()}");
            dst[i] = v / 255f;
        }
        Tensor.KeepAlive(source);
        return output;
    }

    Tensor ITransform.Apply(Tensor batch, Generator generator) => Apply(batch);

    /// <summary>Returns "ToTensor()".</summary>
    public override string ToString() => "ToTensor()";
}
