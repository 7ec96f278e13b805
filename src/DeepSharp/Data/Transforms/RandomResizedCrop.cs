namespace DeepSharp.Data;

/// <summary>
/// torchvision's RandomResizedCrop: per image, up to 10 attempts draw an area fraction uniform in
/// <see cref="Scale"/> and a log-uniform aspect ratio in <see cref="Ratio"/>; the first window that
/// fits is placed uniformly; if none does, the centre crop closest to the ratio range is used. The
/// window is resized bilinearly (align_corners=False, no antialias) to <see cref="Size"/>.
/// </summary>
public sealed class RandomResizedCrop : ITransform
{
    private const int Attempts = 10;
    private const int DrawsPerAttempt = 4; // area, log-ratio, top, left

    /// <summary>A square output of side <paramref name="size"/>; see the (height, width) constructor.</summary>
    public RandomResizedCrop(int size, (double Min, double Max)? scale = null, (double Min, double Max)? ratio = null)
        : this((size, size), scale, ratio) { }

    /// <summary>Random crops resized to <paramref name="size"/>, torchvision's defaults otherwise.</summary>
    /// <param name="size">Output (height, width).</param>
    /// <param name="scale">Range of the window's area as a fraction of the image's (default (0.08, 1)).</param>
    /// <param name="ratio">Range of the window's width / height (default (3/4, 4/3)).</param>
    public RandomResizedCrop(Size2d size, (double Min, double Max)? scale = null, (double Min, double Max)? ratio = null)
    {
        ImageFunctional.CheckSize(size.H, size.W, nameof(RandomResizedCrop));
        Size = size;
        Scale = Ranges.Check(scale ?? (0.08, 1.0), nameof(RandomResizedCrop), "scale");
        Ratio = Ranges.Check(ratio ?? (3.0 / 4, 4.0 / 3), nameof(RandomResizedCrop), "ratio");
        if (Scale.Min < 0) throw new ArgumentOutOfRangeException(nameof(scale), $"RandomResizedCrop: scale must be non-negative, got {Ranges.Format(Scale)}");
        if (!(Ratio.Min > 0)) throw new ArgumentOutOfRangeException(nameof(ratio), $"RandomResizedCrop: ratio must be positive, got {Ranges.Format(Ratio)}");
    }

    /// <summary>Output (height, width).</summary>
    public Size2d Size { get; }

    /// <summary>Range of the window's area as a fraction of the image's.</summary>
    public (double Min, double Max) Scale { get; }

    /// <summary>Range of the window's width / height.</summary>
    public (double Min, double Max) Ratio { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        var b = new ImageBatch(batch, nameof(RandomResizedCrop));
        if (b.Height == 0 || b.Width == 0) throw new ArgumentException($"RandomResizedCrop: the images {b.Describe()} are empty");
        var output = b.NewOutput(Size.H, Size.W);
        var draws = new RandomDraws(generator, b.Images, Attempts * DrawsPerAttempt);
        var taps = new ResizeTaps(Size.H, Size.W);
        for (int n = 0; n < b.Images; n++)
        {
            var (top, left, h, w) = Window(draws, n, b.Height, b.Width);
            taps.Compute(h, w);
            taps.Resize(b.Image(n), b.Channels, b.Height, b.Width, top, left, b.OutputImage(output, n));
        }
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>torchvision's get_params for image n of <paramref name="height"/> x <paramref name="width"/>.</summary>
    internal (int Top, int Left, int Height, int Width) Window(in RandomDraws draws, int n, int height, int width)
    {
        double area = (double)height * width;
        double logMin = Math.Log(Ratio.Min), logMax = Math.Log(Ratio.Max);
        for (int a = 0; a < Attempts; a++)
        {
            int k = a * DrawsPerAttempt;
            double target = area * draws.Uniform(n, k, Scale.Min, Scale.Max);
            double aspect = Math.Exp(draws.Uniform(n, k + 1, logMin, logMax));
            int w = (int)Math.Round(Math.Sqrt(target * aspect)), h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
                return (draws.Integer(n, k + 2, 0, height - h + 1), draws.Integer(n, k + 3, 0, width - w + 1), h, w);
        }
        // Fallback: the central crop, as wide or tall as the ratio range allows.
        double inRatio = (double)width / height;
        int ch = height, cw = width;
        if (inRatio < Ratio.Min) ch = (int)Math.Round(cw / Ratio.Min);
        else if (inRatio > Ratio.Max) cw = (int)Math.Round(ch * Ratio.Max);
        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    /// <summary>torchvision-style description of the settings.</summary>
    public override string ToString() =>
        $"RandomResizedCrop(size={Size.H}x{Size.W}, scale={Ranges.Format(Scale)}, ratio={Ranges.Format(Ratio)})";
}
