namespace DeepSharp.Data;

/// <summary>
/// torchvision's RandomCrop: pads each image by <see cref="Padding"/> (constant fill, edge, reflect
/// or symmetric), optionally pads further to reach the crop size, then crops a size window at a
/// uniform random position per image. Padding and cropping happen in one pass through index maps.
/// </summary>
public sealed class RandomCrop : ITransform
{
    private readonly Fill _fill;

    /// <summary>A square crop of side <paramref name="size"/>; see the (height, width) constructor.</summary>
    public RandomCrop(int size, Padding padding = default, PaddingMode paddingMode = PaddingMode.Constant, Fill fill = default, bool padIfNeeded = false)
        : this((size, size), padding, paddingMode, fill, padIfNeeded) { }

    /// <summary>A random crop of <paramref name="size"/> after optional padding.</summary>
    /// <param name="size">Output (height, width).</param>
    /// <param name="padding">Pixels added to each side first (default none).</param>
    /// <param name="paddingMode">How padding pixels get their values (default constant <paramref name="fill"/>).</param>
    /// <param name="fill">Value of constant padding (default 0).</param>
    /// <param name="padIfNeeded">Pad images smaller than the crop by the shortfall.</param>
    /// <exception cref="ArgumentException">A size is not positive or the padding is negative.</exception>
    public RandomCrop(Size2d size, Padding padding = default, PaddingMode paddingMode = PaddingMode.Constant, Fill fill = default,
        bool padIfNeeded = false)
    {
        ImageFunctional.CheckSize(size.H, size.W, nameof(RandomCrop));
        padding.Check(nameof(RandomCrop));
        Size = size;
        Padding = padding;
        PaddingMode = paddingMode;
        _fill = fill;
        PadIfNeeded = padIfNeeded;
    }

    /// <summary>Output (height, width).</summary>
    public Size2d Size { get; }

    /// <summary>Pixels added to each side before cropping.</summary>
    public Padding Padding { get; }

    /// <summary>How padding pixels get their values.</summary>
    public PaddingMode PaddingMode { get; }

    /// <summary>Value of constant padding.</summary>
    public Fill Fill => _fill;

    /// <summary>Pads images smaller than the crop by the shortfall on both sides (torchvision's pad_if_needed).</summary>
    public bool PadIfNeeded { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        var b = new ImageBatch(batch, nameof(RandomCrop));
        _fill.Check(b.Channels, nameof(RandomCrop));
        var (th, tw) = Size;
        if (PaddingMode != PaddingMode.Constant && (b.Height == 0 || b.Width == 0))
            throw new ArgumentException($"RandomCrop: {PaddingMode} padding needs non-empty images, got {b.Describe()}");
        // As torchvision: the padding first, then the shortfall (pad_if_needed) on both sides of the padded image.
        int h1 = b.Height + Padding.Top + Padding.Bottom, w1 = b.Width + Padding.Left + Padding.Right;
        int extraY = PadIfNeeded && h1 < th ? th - h1 : 0, extraX = PadIfNeeded && w1 < tw ? tw - w1 : 0;
        int h2 = h1 + 2 * extraY, w2 = w1 + 2 * extraX;
        if (h2 < th || w2 < tw)
            throw new ArgumentException($"RandomCrop: the crop {th}x{tw} is larger than the padded images {h2}x{w2} (input {b.Describe()}, padding {Padding}); use more padding or padIfNeeded");
        var output = b.NewOutput(th, tw);
        var draws = new RandomDraws(generator, b.Images, 2);
        var rows = new int[th];
        var cols = new int[tw];
        for (int n = 0; n < b.Images; n++)
        {
            int i = draws.Integer(n, 0, 0, h2 - th + 1), j = draws.Integer(n, 1, 0, w2 - tw + 1);
            for (int r = 0; r < th; r++) rows[r] = Source(i + r, extraY, h1, Padding.Top, b.Height);
            for (int k = 0; k < tw; k++) cols[k] = Source(j + k, extraX, w1, Padding.Left, b.Width);
            ImageKernels.Remap(b.Image(n), b.Channels, b.Height, b.Width, b.OutputImage(output, n), rows, cols, _fill);
        }
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>Coordinate s of the twice-padded image back to the input (-1: constant fill).</summary>
    private int Source(int s, int extra, int padded, int before, int size)
    {
        int s1 = ImageKernels.Resolve(s - extra, padded, PaddingMode);
        return s1 < 0 ? -1 : ImageKernels.Resolve(s1 - before, size, PaddingMode);
    }

    /// <summary>torchvision-style description of the settings.</summary>
    public override string ToString() =>
        $"RandomCrop(size={Size.H}x{Size.W}, padding={Padding}, mode={PaddingMode}, fill={_fill}{(PadIfNeeded ? ", padIfNeeded" : "")})";
}

/// <summary>The central window of each image, zero-padded when the images are smaller (torchvision's CenterCrop).</summary>
public sealed class CenterCrop : ITransform
{
    /// <summary>A square crop of side <paramref name="size"/>.</summary>
    public CenterCrop(int size) : this((size, size)) { }

    /// <summary>A crop of (height, width) <paramref name="size"/>.</summary>
    public CenterCrop(Size2d size)
    {
        ImageFunctional.CheckSize(size.H, size.W, nameof(CenterCrop));
        Size = size;
    }

    /// <summary>Output (height, width).</summary>
    public Size2d Size { get; }

    /// <summary>Crops the centre of float32 images [C, H, W] or batches [N, C, H, W]; returns a new tensor.</summary>
    public Tensor Apply(Tensor image) => ImageFunctional.CenterCrop(image, Size.H, Size.W);

    Tensor ITransform.Apply(Tensor batch, Generator generator) => Apply(batch);

    /// <summary>torchvision-style description, e.g. <c>CenterCrop(size=24x24)</c>.</summary>
    public override string ToString() => $"CenterCrop(size={Size.H}x{Size.W})";
}

/// <summary>
/// Bilinear resize as torchvision's Resize on tensors (align_corners=False, no antialias). An int size
/// sets the smaller edge and keeps the aspect ratio (long edge = int(size * long / short)); a
/// (height, width) size is exact.
/// </summary>
public sealed class Resize : ITransform
{
    private readonly int _smallerEdge;

    /// <summary>The smaller edge becomes <paramref name="size"/>, keeping the aspect ratio.</summary>
    public Resize(int size)
    {
        ImageFunctional.CheckSize(size, size, nameof(Resize));
        _smallerEdge = size;
    }

    /// <summary>Resizes to exactly (height, width) <paramref name="size"/>.</summary>
    public Resize(Size2d size)
    {
        ImageFunctional.CheckSize(size.H, size.W, nameof(Resize));
        Size = size;
    }

    /// <summary>The exact output size, or null when the size is for the smaller edge.</summary>
    public Size2d? Size { get; }

    /// <summary>The output size for inputs of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public Size2d OutputSize(int height, int width)
    {
        if (Size is { } size) return size;
        if (height <= 0 || width <= 0) throw new ArgumentException($"Resize: the images {height}x{width} are empty");
        int shortSide = Math.Min(height, width), longSide = Math.Max(height, width);
        int newLong = (int)((long)_smallerEdge * longSide / (double)shortSide);
        return width <= height ? (newLong, _smallerEdge) : (_smallerEdge, newLong);
    }

    /// <summary>Resizes images [..., H, W] (e.g. [C, H, W] or [N, C, H, W]) bilinearly; returns a new tensor.</summary>
    /// <exception cref="ArgumentException">The tensor has fewer than two dimensions.</exception>
    public Tensor Apply(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Rank < 2) throw new ArgumentException($"Resize: expected a float32 image [C, H, W] or batch [N, C, H, W], got {image.Describe()}");
        var (h, w) = OutputSize(image.Size(-2), image.Size(-1));
        return ImageFunctional.Resize(image, h, w);
    }

    Tensor ITransform.Apply(Tensor batch, Generator generator) => Apply(batch);

    /// <summary>torchvision-style description, e.g. <c>Resize(size=32)</c>.</summary>
    public override string ToString() => Size is { } s ? $"Resize(size={s.H}x{s.W})" : $"Resize(size={_smallerEdge})";
}
