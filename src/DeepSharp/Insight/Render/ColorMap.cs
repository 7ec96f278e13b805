namespace DeepSharp.Insight;

/// <summary>An 8-bit RGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>CSS hex form, e.g. #440154.</summary>
    public string Hex => $"#{R:x2}{G:x2}{B:x2}";
}

/// <summary>
/// Colour maps by piecewise-linear interpolation between control points: <see cref="Viridis"/>
/// (perceptually uniform, for magnitudes in [0, 1]) and <see cref="Diverging"/> (blue-white-red,
/// for signed values in [-1, 1]). Inputs outside the domain are clamped; NaN maps to the low end.
/// </summary>
public static class ColorMap
{
    // matplotlib's viridis sampled at 0, 1/8, ..., 1.
    private static readonly Rgb[] s_viridis =
    [
        new(68, 1, 84), new(71, 45, 123), new(59, 82, 139), new(44, 114, 142), new(33, 145, 140),
        new(39, 173, 129), new(92, 200, 99), new(170, 220, 50), new(253, 231, 37),
    ];

    // ColorBrewer RdBu ends around white: -1 blue, 0 white, +1 red.
    private static readonly Rgb[] s_diverging = [new(33, 102, 172), new(146, 197, 222), new(247, 247, 247), new(244, 165, 130), new(178, 24, 43)];

    /// <summary>Viridis at t in [0, 1]: (68, 1, 84) at 0, (253, 231, 37) at 1.</summary>
    public static Rgb Viridis(double t) => Interpolate(s_viridis, t);

    /// <summary>Blue (33, 102, 172) at -1, white (247, 247, 247) at 0, red (178, 24, 43) at +1.</summary>
    public static Rgb Diverging(double t) => Interpolate(s_diverging, (t + 1) / 2);

    private static Rgb Interpolate(Rgb[] points, double t)
    {
        if (double.IsNaN(t)) t = 0;
        t = Math.Clamp(t, 0, 1) * (points.Length - 1);
        int i = Math.Min((int)t, points.Length - 2);
        double f = t - i;
        var a = points[i];
        var b = points[i + 1];
        return new Rgb(Lerp(a.R, b.R, f), Lerp(a.G, b.G, f), Lerp(a.B, b.B, f));
    }

    private static byte Lerp(byte a, byte b, double f) => (byte)Math.Round(a + (b - a) * f);
}
