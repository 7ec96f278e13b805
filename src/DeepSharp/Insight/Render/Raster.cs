using DeepSharp.Data;

namespace DeepSharp.Insight;

/// <summary>
/// Small raster helpers for the insight images: heat maps, overlays of a heat map on a gray image,
/// tiled grids, nearest-neighbour upscaling and PNG data URIs (through the project's own PNG encoder).
/// </summary>
public static class Raster
{
    /// <summary>A viridis heat map of <paramref name="values"/> [H, W], scaled from min (or <paramref name="min"/>) to max.</summary>
    public static Image Heat(Tensor values, double? min = null, double? max = null)
    {
        var (v, h, w) = Plane("heat map", values);
        var (lo, hi) = Range(v, min, max);
        var pixels = new byte[h * w * 3];
        for (int i = 0; i < v.Length; i++) Put(pixels, i, ColorMap.Viridis(hi > lo ? (v[i] - lo) / (hi - lo) : 0));
        return new Image(w, h, 3, pixels);
    }

    /// <summary>A blue-white-red map of signed values [H, W], symmetric around zero (scaled by max |v|).</summary>
    public static Image Signed(Tensor values)
    {
        var (v, h, w) = Plane("signed map", values);
        double scale = 0;
        foreach (double x in v) if (double.IsFinite(x)) scale = Math.Max(scale, Math.Abs(x));
        var pixels = new byte[h * w * 3];
        for (int i = 0; i < v.Length; i++) Put(pixels, i, ColorMap.Diverging(scale > 0 ? v[i] / scale : 0));
        return new Image(w, h, 3, pixels);
    }

    /// <summary>Gray image of [H, W] values, min-max normalised (or in [min, max] when given).</summary>
    public static Image Gray(Tensor values, double? min = null, double? max = null)
    {
        var (v, h, w) = Plane("gray image", values);
        var (lo, hi) = Range(v, min, max);
        var pixels = new byte[h * w];
        for (int i = 0; i < v.Length; i++) pixels[i] = ToByte(hi > lo ? (v[i] - lo) / (hi - lo) : 0);
        return new Image(w, h, 1, pixels);
    }

    /// <summary>
    /// <paramref name="heat"/> [H, W] (non-negative, scaled by its maximum) over a gray image [H, W]
    /// in [0, 1] dimmed to <paramref name="dim"/> of its brightness: each pixel blends the viridis colour
    /// of its heat value in with weight alpha * sqrt(heat), so cold regions show the image and hot regions the colour.
    /// </summary>
    public static Image Overlay(Tensor gray, Tensor heat, double alpha = 0.85, double dim = 0.6)
    {
        var (g, h, w) = Plane("overlay", gray);
        var (v, hh, hw) = Plane("overlay", heat);
        if (hh != h || hw != w) throw new ArgumentException($"overlay: heat map {hh}x{hw} does not match the image {h}x{w}");
        double top = 0;
        foreach (double x in v) if (double.IsFinite(x)) top = Math.Max(top, x);
        var pixels = new byte[h * w * 3];
        for (int i = 0; i < v.Length; i++)
        {
            double t = top > 0 && double.IsFinite(v[i]) ? Math.Max(v[i], 0) / top : 0;
            double a = alpha * Math.Sqrt(t);
            double baseValue = Math.Clamp(double.IsNaN(g[i]) ? 0 : g[i], 0, 1) * 255 * dim;
            var c = ColorMap.Viridis(t);
            pixels[3 * i] = (byte)Math.Round(baseValue * (1 - a) + c.R * a);
            pixels[3 * i + 1] = (byte)Math.Round(baseValue * (1 - a) + c.G * a);
            pixels[3 * i + 2] = (byte)Math.Round(baseValue * (1 - a) + c.B * a);
        }
        return new Image(w, h, 3, pixels);
    }

    /// <summary>Each pixel repeated factor x factor times.</summary>
    public static Image Upscale(Image image, int factor)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (factor < 1) throw new ArgumentOutOfRangeException(nameof(factor), $"upscale: factor must be at least 1, got {factor}");
        if (factor == 1) return image;
        int w = image.Width * factor, h = image.Height * factor, c = image.Channels;
        var pixels = new byte[w * h * c];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Array.Copy(image.Pixels, ((y / factor) * image.Width + x / factor) * c, pixels, (y * w + x) * c, c);
        return new Image(w, h, c, pixels);
    }

    /// <summary>
    /// Tiles images of equal size row by row, <paramref name="columns"/> per row, with
    /// <paramref name="padding"/> pixels of <paramref name="background"/> between and around them. Gray tiles become RGB.
    /// </summary>
    public static Image Grid(IReadOnlyList<Image> tiles, int columns, int padding = 1, byte background = 255)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        if (tiles.Count == 0) throw new ArgumentException("grid: no tiles");
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), $"grid: columns must be at least 1, got {columns}");
        int tw = tiles[0].Width, th = tiles[0].Height;
        foreach (var t in tiles)
            if (t.Width != tw || t.Height != th) throw new ArgumentException($"grid: tiles must have one size, got {tw}x{th} and {t.Width}x{t.Height}");
        columns = Math.Min(columns, tiles.Count);
        int rows = (tiles.Count + columns - 1) / columns;
        int w = columns * (tw + padding) + padding, h = rows * (th + padding) + padding;
        var pixels = new byte[w * h * 3];
        Array.Fill(pixels, background);
        for (int k = 0; k < tiles.Count; k++)
        {
            var tile = tiles[k];
            int ox = padding + (k % columns) * (tw + padding), oy = padding + (k / columns) * (th + padding);
            for (int y = 0; y < th; y++)
                for (int x = 0; x < tw; x++)
                {
                    int src = (y * tw + x) * tile.Channels, dst = ((oy + y) * w + ox + x) * 3;
                    if (tile.Channels >= 3)
                    {
                        pixels[dst] = tile.Pixels[src];
                        pixels[dst + 1] = tile.Pixels[src + 1];
                        pixels[dst + 2] = tile.Pixels[src + 2];
                    }
                    else
                    {
                        pixels[dst] = pixels[dst + 1] = pixels[dst + 2] = tile.Pixels[src];
                    }
                }
        }
        return new Image(w, h, 3, pixels);
    }

    /// <summary>The image as a PNG data URI for an HTML &lt;img&gt; (no external file needed).</summary>
    public static string DataUri(Image image) => "data:image/png;base64," + Convert.ToBase64String(Png.Encode(image));

    private static (double[] Values, int H, int W) Plane(string op, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.Rank != 2) throw new ArgumentException($"{op}: expected a 2-D map [H, W], got {Shapes.Format(t.ShapeArray)}");
        if (t.Numel == 0) throw new ArgumentException($"{op}: the map {Shapes.Format(t.ShapeArray)} is empty");
        return (TensorValues.ToDoubles(t), t.Size(0), t.Size(1));
    }

    private static (double Lo, double Hi) Range(double[] v, double? min, double? max)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (double x in v)
        {
            if (!double.IsFinite(x)) continue;
            lo = Math.Min(lo, x);
            hi = Math.Max(hi, x);
        }
        if (double.IsInfinity(lo)) (lo, hi) = (0, 1);
        return (min ?? lo, max ?? hi);
    }

    private static void Put(byte[] pixels, int i, Rgb c)
    {
        pixels[3 * i] = c.R;
        pixels[3 * i + 1] = c.G;
        pixels[3 * i + 2] = c.B;
    }

    private static byte ToByte(double t) => (byte)Math.Round(Math.Clamp(double.IsNaN(t) ? 0 : t, 0, 1) * 255);
}
