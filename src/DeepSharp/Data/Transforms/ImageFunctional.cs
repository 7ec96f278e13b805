namespace DeepSharp.Data;

/// <summary>
/// Deterministic image operations, torchvision.transforms.functional's counterparts, on float32
/// images [C, H, W], batches [..., C, H, W] (every image gets the same operation) or [H, W]. They
/// return new tensors and are not recorded by autograd. The Random* transforms draw parameters per
/// image and run the same kernels.
/// </summary>
public static class ImageFunctional
{
    /// <summary>Mirrors a float32 image [C, H, W] or batch [N, C, H, W] left-right (torchvision's <c>hflip</c>); returns a new tensor.</summary>
    public static Tensor HorizontalFlip(Tensor image)
    {
        var b = new ImageBatch(image, "HorizontalFlip");
        var output = b.NewOutput();
        ImageKernels.FlipHorizontal(b.Source.ReadSpan<float>(), output.Span<float>(), b.Images * b.Channels * b.Height, b.Width);
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>Mirrors a float32 image [C, H, W] or batch [N, C, H, W] top-bottom (torchvision's <c>vflip</c>); returns a new tensor.</summary>
    public static Tensor VerticalFlip(Tensor image)
    {
        var b = new ImageBatch(image, "VerticalFlip");
        var output = b.NewOutput();
        ImageKernels.FlipVertical(b.Source.ReadSpan<float>(), output.Span<float>(), b.Images * b.Channels, b.Height, b.Width);
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>Pads the borders (torchvision's F.pad): constant fill, edge, reflect or symmetric (mirroring repeats for padding wider than the image, where torch refuses).</summary>
    public static Tensor Pad(Tensor image, Padding padding, PaddingMode mode = PaddingMode.Constant, Fill fill = default)
    {
        padding.Check("Pad");
        var b = new ImageBatch(image, "Pad");
        fill.Check(b.Channels, "Pad");
        int oh = b.Height + padding.Top + padding.Bottom, ow = b.Width + padding.Left + padding.Right;
        if ((b.Height == 0 || b.Width == 0) && mode != PaddingMode.Constant)
            throw new ArgumentException($"Pad: {mode} padding needs non-empty images, got {b.Describe()}");
        return Window(b, -padding.Top, -padding.Left, oh, ow, mode, fill);
    }

    /// <summary>The window at (top, left) of size height x width; parts outside the image are 0 (as torchvision's F.crop).</summary>
    public static Tensor Crop(Tensor image, int top, int left, int height, int width)
    {
        CheckSize(height, width, "Crop");
        return Window(new ImageBatch(image, "Crop"), top, left, height, width, PaddingMode.Constant, default);
    }

    /// <summary>The central height x width window, zero-padded when larger than the image (torchvision's rounding).</summary>
    public static Tensor CenterCrop(Tensor image, int height, int width)
    {
        CheckSize(height, width, "CenterCrop");
        var b = new ImageBatch(image, "CenterCrop");
        return Window(b, CenterOffset(b.Height, height), CenterOffset(b.Width, width), height, width, PaddingMode.Constant, default);
    }

    /// <summary>Bilinear resize (interpolate with align_corners=False, no antialias, as torchvision's Resize on tensors).</summary>
    public static Tensor Resize(Tensor image, int height, int width)
    {
        CheckSize(height, width, "Resize");
        var b = new ImageBatch(image, "Resize");
        if (b.Height == 0 || b.Width == 0) throw new ArgumentException($"Resize: the images {b.Describe()} are empty");
        return ResizedCrop(b, 0, 0, b.Height, b.Width, height, width, "Resize");
    }

    /// <summary>Crops the window (inside the image) and resizes it bilinearly to outHeight x outWidth.</summary>
    public static Tensor ResizedCrop(Tensor image, int top, int left, int height, int width, int outHeight, int outWidth)
    {
        CheckSize(outHeight, outWidth, "ResizedCrop");
        return ResizedCrop(new ImageBatch(image, "ResizedCrop"), top, left, height, width, outHeight, outWidth, "ResizedCrop");
    }

    /// <summary>
    /// Rotates by <paramref name="angle"/> degrees counter-clockwise about the centre (or
    /// <paramref name="center"/>, in pixel coordinates with the origin at the top-left corner), keeping
    /// the size; uncovered pixels get <paramref name="fill"/>. torchvision's F.rotate, but bilinear by default.
    /// </summary>
    public static Tensor Rotate(Tensor image, double angle, InterpolationMode interpolation = InterpolationMode.Bilinear,
        Fill fill = default, (double X, double Y)? center = null)
    {
        var b = new ImageBatch(image, "Rotate");
        fill.Check(b.Channels, "Rotate");
        Span<double> m = stackalloc double[6];
        var (cx, cy) = CentredCenter(center, b);
        ImageKernels.InverseAffine(m, cx, cy, -angle, 0, 0, 1, 0, 0);
        return Warp(b, m, interpolation, fill);
    }

    /// <summary>
    /// Affine warp keeping the centre (or <paramref name="center"/>) fixed, as torchvision's F.affine:
    /// rotation by <paramref name="angle"/> degrees clockwise, translation in pixels, scale, and shear
    /// angles in degrees (x then y).
    /// </summary>
    public static Tensor Affine(Tensor image, double angle, (double X, double Y) translate, double scale, (double X, double Y) shear,
        InterpolationMode interpolation = InterpolationMode.Bilinear, Fill fill = default, (double X, double Y)? center = null)
    {
        if (!(scale > 0)) throw new ArgumentOutOfRangeException(nameof(scale), $"Affine: scale must be positive, got {scale}");
        var b = new ImageBatch(image, "Affine");
        fill.Check(b.Channels, "Affine");
        Span<double> m = stackalloc double[6];
        var (cx, cy) = CentredCenter(center, b);
        ImageKernels.InverseAffine(m, cx, cy, angle, translate.X, translate.Y, scale, shear.X, shear.Y);
        return Warp(b, m, interpolation, fill);
    }

    /// <summary>Sets the rectangle (inside the image) to <paramref name="value"/> (per channel) in a copy (torchvision's F.erase).</summary>
    public static Tensor Erase(Tensor image, int top, int left, int height, int width, Fill value)
    {
        var b = new ImageBatch(image, "Erase");
        value.Check(b.Channels, "Erase");
        CheckWindow(b, top, left, height, width, "Erase");
        var output = b.NewOutput();
        b.Source.ReadSpan<float>().CopyTo(output.Span<float>());
        var data = output.Span<float>();
        int size = b.Channels * b.Plane;
        for (int n = 0; n < b.Images; n++)
            ImageKernels.FillRect(data.Slice(n * size, size), b.Channels, b.Height, b.Width, top, left, height, width, value);
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>(x - mean[c]) / std[c] per channel; one mean/std value applies to every channel.</summary>
    public static Tensor Normalize(Tensor image, float[] mean, float[] std) => new Normalize(mean, std).Apply(image);

    // ---- shared with the random transforms ----

    /// <summary>torchvision's centre offset: round((size - crop) / 2) half to even, or minus the padding when the crop is larger.</summary>
    internal static int CenterOffset(int size, int crop) =>
        crop > size ? -((crop - size) / 2) : (int)Math.Round((size - crop) / 2.0, MidpointRounding.ToEven);

    internal static void CheckSize(int height, int width, string op)
    {
        if (height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(height), $"{op}: the output size must be positive, got {height}x{width}");
    }

    private static void CheckWindow(in ImageBatch b, int top, int left, int height, int width, string op)
    {
        if (top < 0 || left < 0 || height < 0 || width < 0 || top + height > b.Height || left + width > b.Width)
            throw new ArgumentOutOfRangeException(nameof(top), $"{op}: the window at ({top}, {left}) of {height}x{width} is not inside the images {b.Describe()}");
    }

    /// <summary>Every image's window at (top, left) in image coordinates, padded by <paramref name="mode"/> where it leaves the image.</summary>
    private static Tensor Window(in ImageBatch b, int top, int left, int height, int width, PaddingMode mode, in Fill fill)
    {
        var output = b.NewOutput(height, width);
        var rows = new int[height];
        var cols = new int[width];
        ImageKernels.IndexMap(rows, top, b.Height, mode);
        ImageKernels.IndexMap(cols, left, b.Width, mode);
        for (int n = 0; n < b.Images; n++)
            ImageKernels.Remap(b.Image(n), b.Channels, b.Height, b.Width, b.OutputImage(output, n), rows, cols, fill);
        Tensor.KeepAlive(b.Source);
        return output;
    }

    private static Tensor ResizedCrop(in ImageBatch b, int top, int left, int height, int width, int outHeight, int outWidth, string op)
    {
        if (height <= 0 || width <= 0) throw new ArgumentOutOfRangeException(nameof(height), $"{op}: the crop size must be positive, got {height}x{width}");
        CheckWindow(b, top, left, height, width, op);
        var output = b.NewOutput(outHeight, outWidth);
        var taps = new ResizeTaps(outHeight, outWidth);
        taps.Compute(height, width);
        for (int n = 0; n < b.Images; n++) taps.Resize(b.Image(n), b.Channels, b.Height, b.Width, top, left, b.OutputImage(output, n));
        Tensor.KeepAlive(b.Source);
        return output;
    }

    private static Tensor Warp(in ImageBatch b, ReadOnlySpan<double> m, InterpolationMode interpolation, in Fill fill)
    {
        var output = b.NewOutput();
        for (int n = 0; n < b.Images; n++)
            ImageKernels.Affine(b.Image(n), b.OutputImage(output, n), b.Channels, b.Height, b.Width, m, interpolation, fill);
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>A centre given in pixel coordinates, moved to torchvision's centred frame; (0, 0) is the image centre.</summary>
    internal static (double X, double Y) CentredCenter((double X, double Y)? center, in ImageBatch b) =>
        center is { } c ? (c.X - b.Width * 0.5, c.Y - b.Height * 0.5) : (0, 0);
}

/// <summary>Reusable tap buffers for bilinear resizes to one output size.</summary>
internal sealed class ResizeTaps(int outHeight, int outWidth)
{
    private readonly int[] _y0 = new int[outHeight], _y1 = new int[outHeight], _x0 = new int[outWidth], _x1 = new int[outWidth];
    private readonly float[] _ly = new float[outHeight], _lx = new float[outWidth];

    /// <summary>Taps for a window of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public void Compute(int height, int width)
    {
        ImageKernels.LinearTaps(height, _y0.Length, _y0, _y1, _ly);
        ImageKernels.LinearTaps(width, _x0.Length, _x0, _x1, _lx);
    }

    public void Resize(ReadOnlySpan<float> image, int channels, int h, int w, int top, int left, Span<float> dst) =>
        ImageKernels.ResizeBilinear(image, channels, h, w, top, left, dst, _y0, _y1, _ly, _x0, _x1, _lx);
}
