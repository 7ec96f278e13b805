namespace DeepSharp.Data;

/// <summary>Plain image resampling on [.., H, W] tensors (not recorded by autograd).</summary>
public static class ImageOps
{
    /// <summary>
    /// Bilinear resize of the last two dims with PyTorch's align_corners=False convention: output pixel
    /// centres map to (o + 0.5) * in/out - 0.5 in the input, clamped at the borders.
    /// </summary>
    public static Tensor ResizeBilinear(Tensor image, int height, int width)
    {
        if (image.Rank < 2) throw new ArgumentException($"resize: expected [.., H, W], got {Shapes.Format(image.ShapeArray)}");
        if (height <= 0 || width <= 0) throw new ArgumentException($"resize: target size {height}x{width} must be positive");
        int inH = image.Size(-2), inW = image.Size(-1);
        if (inH == 0 || inW == 0) throw new ArgumentException($"resize: input {Shapes.Format(image.ShapeArray)} is empty");
        var src = image.ContiguousData().ToDoubleArray();
        int planes = src.Length / (inH * inW);
        var dst = new double[planes * height * width];
        var (y0, y1, wy) = Taps(inH, height);
        var (x0, x1, wx) = Taps(inW, width);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < height; oy++)
                for (int ox = 0; ox < width; ox++)
                {
                    int b = p * inH * inW;
                    double top = src[b + y0[oy] * inW + x0[ox]] * (1 - wx[ox]) + src[b + y0[oy] * inW + x1[ox]] * wx[ox];
                    double bottom = src[b + y1[oy] * inW + x0[ox]] * (1 - wx[ox]) + src[b + y1[oy] * inW + x1[ox]] * wx[ox];
                    dst[(p * height + oy) * width + ox] = top * (1 - wy[oy]) + bottom * wy[oy];
                }
        var shape = image.Shape.ToArray();
        shape[^2] = height;
        shape[^1] = width;
        return Tensor.From(dst, shape).To(image.DType);
    }

    private static (int[] Lo, int[] Hi, double[] W) Taps(int input, int output)
    {
        var lo = new int[output];
        var hi = new int[output];
        var w = new double[output];
        double scale = (double)input / output;
        for (int o = 0; o < output; o++)
        {
            double src = Math.Max((o + 0.5) * scale - 0.5, 0);
            lo[o] = Math.Min((int)src, input - 1);
            hi[o] = Math.Min(lo[o] + 1, input - 1);
            w[o] = src - lo[o];
        }
        return (lo, hi, w);
    }
}
