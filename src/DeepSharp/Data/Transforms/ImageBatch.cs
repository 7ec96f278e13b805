namespace DeepSharp.Data;

/// <summary>
/// A float32 tensor [..., C, H, W] (or one image [C, H, W], or [H, W] read as one channel) seen as
/// <see cref="Images"/> images of <see cref="Channels"/> planes of <see cref="Height"/> x
/// <see cref="Width"/>: the layout every image transform loops over. Leading dims are the batch.
/// </summary>
internal readonly struct ImageBatch
{
    private readonly int[] _shape;

    public ImageBatch(Tensor image, string op)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.DType != DType.Float32 || image.Rank < 2)
            throw new ArgumentException($"{op}: expected a float32 image [C, H, W] or batch [N, C, H, W], got {image.Describe()}" +
                (image.IsFloatingPoint ? "" : " (ToTensor turns 0..255 pixels into floats)"));
        Source = image.ContiguousData();
        _shape = image.ShapeArray;
        int rank = _shape.Length;
        Height = _shape[rank - 2];
        Width = _shape[rank - 1];
        Channels = rank >= 3 ? _shape[rank - 3] : 1;
        int images = 1;
        for (int d = 0; d < rank - 3; d++) images *= _shape[d];
        Images = images;
    }

    /// <summary>
    /// The input, contiguous (a copy when it was not). Transforms read it through spans, which do not keep its
    /// storage out of the buffer pool: each one ends with <c>Tensor.KeepAlive(b.Source)</c>.
    /// </summary>
    public Tensor Source { get; }

    public int Images { get; }

    public int Channels { get; }

    public int Height { get; }

    public int Width { get; }

    public int Plane => Height * Width;

    /// <summary>Image n's C planes, contiguous.</summary>
    public ReadOnlySpan<float> Image(int n) => Source.ReadSpan<float>().Slice(n * Channels * Plane, Channels * Plane);

    /// <summary>A new tensor shaped like the input but with images of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public Tensor NewOutput(int height, int width)
    {
        var shape = (int[])_shape.Clone();
        shape[^2] = height;
        shape[^1] = width;
        return Tensor.Empty(shape, DType.Float32);
    }

    public Tensor NewOutput() => NewOutput(Height, Width);

    /// <summary>Image n of an output made by <see cref="NewOutput(int, int)"/>.</summary>
    public Span<float> OutputImage(Tensor output, int n)
    {
        int size = Channels * output.Size(-2) * output.Size(-1);
        return output.Span<float>().Slice(n * size, size);
    }

    public string Describe() => Shapes.Format(_shape);
}
