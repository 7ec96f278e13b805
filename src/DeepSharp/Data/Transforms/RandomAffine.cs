using System.Globalization;

namespace DeepSharp.Data;

/// <summary>
/// torchvision's RandomRotation (without expand): each image is rotated counter-clockwise by an
/// angle uniform in <see cref="Degrees"/> about its centre (or <see cref="Center"/>), by inverse
/// mapping with bilinear (default) or nearest sampling; uncovered pixels get <see cref="Fill"/>.
/// </summary>
public sealed class RandomRotation : ITransform
{
    private readonly Fill _fill;

    /// <summary>Angles uniform in [-degrees, degrees].</summary>
    public RandomRotation(double degrees, InterpolationMode interpolation = InterpolationMode.Bilinear, Fill fill = default, (double X, double Y)? center = null)
        : this(Ranges.Symmetric(degrees, nameof(RandomRotation), "degrees"), interpolation, fill, center) { }

    /// <summary>Angles uniform in [<paramref name="degrees"/>.Min, <paramref name="degrees"/>.Max].</summary>
    /// <param name="degrees">Range of the counter-clockwise rotation, in degrees.</param>
    /// <param name="interpolation">Bilinear (default) or nearest sampling.</param>
    /// <param name="fill">Value of the uncovered pixels (default 0).</param>
    /// <param name="center">Rotation centre in pixels from the top-left corner; null: the image centre.</param>
    public RandomRotation((double Min, double Max) degrees, InterpolationMode interpolation = InterpolationMode.Bilinear, Fill fill = default,
        (double X, double Y)? center = null)
    {
        Degrees = Ranges.Check(degrees, nameof(RandomRotation), "degrees");
        Interpolation = interpolation;
        _fill = fill;
        Center = center;
    }

    /// <summary>Range of the rotation angle, in degrees.</summary>
    public (double Min, double Max) Degrees { get; }

    /// <summary>How source pixels are sampled.</summary>
    public InterpolationMode Interpolation { get; }

    /// <summary>Value given to pixels rotated in from outside the image.</summary>
    public Fill Fill => _fill;

    /// <summary>The rotation centre in pixel coordinates (origin at the top-left corner); null: the image centre.</summary>
    public (double X, double Y)? Center { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        var b = new ImageBatch(batch, nameof(RandomRotation));
        _fill.Check(b.Channels, nameof(RandomRotation));
        var output = b.NewOutput();
        var draws = new RandomDraws(generator, b.Images, 1);
        var (cx, cy) = ImageFunctional.CentredCenter(Center, b);
        Span<double> m = stackalloc double[6];
        for (int n = 0; n < b.Images; n++)
        {
            double angle = draws.Uniform(n, 0, Degrees.Min, Degrees.Max);
            ImageKernels.InverseAffine(m, cx, cy, -angle, 0, 0, 1, 0, 0); // F.rotate passes -angle to the affine matrix
            ImageKernels.Affine(b.Image(n), b.OutputImage(output, n), b.Channels, b.Height, b.Width, m, Interpolation, _fill);
        }
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>torchvision-style description of the settings.</summary>
    public override string ToString() =>
        $"RandomRotation(degrees={Ranges.Format(Degrees)}, {Interpolation}, fill={_fill}{(Center is { } c ? $", center=({c.X}, {c.Y})" : "")})";
}

/// <summary>
/// torchvision's RandomAffine: per image, a clockwise rotation uniform in <see cref="Degrees"/>, a
/// translation of round(uniform(-t W, t W)) x round(uniform(-t H, t H)) pixels, a scale uniform in
/// <see cref="Scale"/> and shears in <see cref="ShearX"/>/<see cref="ShearY"/> (degrees), all about
/// the centre, applied in one inverse-mapped pass (bilinear by default).
/// </summary>
public sealed class RandomAffine : ITransform
{
    private readonly Fill _fill;

    /// <summary>Rotations uniform in [-degrees, degrees] (0: none).</summary>
    public RandomAffine(double degrees, (double X, double Y)? translate = null, (double Min, double Max)? scale = null,
        (double Min, double Max)? shearX = null, (double Min, double Max)? shearY = null,
        InterpolationMode interpolation = InterpolationMode.Bilinear, Fill fill = default, (double X, double Y)? center = null)
        : this(Ranges.Symmetric(degrees, nameof(RandomAffine), "degrees"), translate, scale, shearX, shearY, interpolation, fill, center) { }

    /// <summary>A random affine transform with rotations uniform in <paramref name="degrees"/>.</summary>
    /// <param name="degrees">Range of the clockwise rotation, in degrees.</param>
    /// <param name="translate">Maximum shifts as fractions of width and height, each in [0, 1]; null: none.</param>
    /// <param name="scale">Range of the scale factor; null: 1 (none).</param>
    /// <param name="shearX">Range of the shear parallel to x, in degrees; null: none.</param>
    /// <param name="shearY">Range of the shear parallel to y, in degrees; null: none.</param>
    /// <param name="interpolation">Bilinear (default) or nearest sampling.</param>
    /// <param name="fill">Value of the uncovered pixels (default 0).</param>
    /// <param name="center">Centre of the transform in pixels from the top-left corner; null: the image centre.</param>
    /// <exception cref="ArgumentOutOfRangeException">A translate fraction is outside [0, 1].</exception>
    public RandomAffine((double Min, double Max) degrees, (double X, double Y)? translate = null, (double Min, double Max)? scale = null,
        (double Min, double Max)? shearX = null, (double Min, double Max)? shearY = null,
        InterpolationMode interpolation = InterpolationMode.Bilinear, Fill fill = default, (double X, double Y)? center = null)
    {
        Degrees = Ranges.Check(degrees, nameof(RandomAffine), "degrees");
        if (translate is { } t && !(t.X is >= 0 and <= 1 && t.Y is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(translate), $"RandomAffine: translate fractions must be in [0, 1], got ({t.X}, {t.Y})");
        Translate = translate ?? (0, 0);
        Scale = Ranges.Check(scale ?? (1, 1), nameof(RandomAffine), "scale");
        if (!(Scale.Min > 0)) throw new ArgumentOutOfRangeException(nameof(scale), $"RandomAffine: scale must be positive, got {Ranges.Format(Scale)}");
        ShearX = Ranges.Check(shearX ?? (0, 0), nameof(RandomAffine), "shearX");
        ShearY = Ranges.Check(shearY ?? (0, 0), nameof(RandomAffine), "shearY");
        Interpolation = interpolation;
        _fill = fill;
        Center = center;
    }

    /// <summary>Range of the rotation angle, in degrees.</summary>
    public (double Min, double Max) Degrees { get; }

    /// <summary>Maximum shifts as fractions of the width (X) and height (Y).</summary>
    public (double X, double Y) Translate { get; }

    /// <summary>Range of the scale factor ((1, 1): no scaling).</summary>
    public (double Min, double Max) Scale { get; }

    /// <summary>Range of the shear parallel to x, in degrees.</summary>
    public (double Min, double Max) ShearX { get; }

    /// <summary>Range of the shear parallel to y, in degrees.</summary>
    public (double Min, double Max) ShearY { get; }

    /// <summary>How source pixels are sampled.</summary>
    public InterpolationMode Interpolation { get; }

    /// <summary>Value given to pixels mapped from outside the image.</summary>
    public Fill Fill => _fill;

    /// <summary>The centre of the transform in pixel coordinates; null: the image centre.</summary>
    public (double X, double Y)? Center { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        var b = new ImageBatch(batch, nameof(RandomAffine));
        _fill.Check(b.Channels, nameof(RandomAffine));
        var output = b.NewOutput();
        var draws = new RandomDraws(generator, b.Images, 6);
        var (cx, cy) = ImageFunctional.CentredCenter(Center, b);
        double maxDx = Translate.X * b.Width, maxDy = Translate.Y * b.Height;
        Span<double> m = stackalloc double[6];
        for (int n = 0; n < b.Images; n++)
        {
            double angle = draws.Uniform(n, 0, Degrees.Min, Degrees.Max);
            double tx = Math.Round(draws.Uniform(n, 1, -maxDx, maxDx)), ty = Math.Round(draws.Uniform(n, 2, -maxDy, maxDy)); // whole pixels, as torchvision
            double scale = draws.Uniform(n, 3, Scale.Min, Scale.Max);
            double sx = draws.Uniform(n, 4, ShearX.Min, ShearX.Max), sy = draws.Uniform(n, 5, ShearY.Min, ShearY.Max);
            ImageKernels.InverseAffine(m, cx, cy, angle, tx, ty, scale, sx, sy);
            ImageKernels.Affine(b.Image(n), b.OutputImage(output, n), b.Channels, b.Height, b.Width, m, Interpolation, _fill);
        }
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>torchvision-style description of the settings that differ from the identity.</summary>
    public override string ToString()
    {
        var s = $"RandomAffine(degrees={Ranges.Format(Degrees)}";
        if (Translate != (0, 0)) s += FormattableString.Invariant($", translate=({Translate.X}, {Translate.Y})");
        if (Scale != (1, 1)) s += $", scale={Ranges.Format(Scale)}";
        if (ShearX != (0, 0)) s += $", shearX={Ranges.Format(ShearX)}";
        if (ShearY != (0, 0)) s += $", shearY={Ranges.Format(ShearY)}";
        return s + $", {Interpolation}, fill={_fill})";
    }
}

/// <summary>Validation and formatting of (min, max) parameter ranges.</summary>
internal static class Ranges
{
    public static (double Min, double Max) Symmetric(double value, string op, string name) => value >= 0
        ? (-value, value)
        : throw new ArgumentOutOfRangeException(name, $"{op}: a single {name} value must be non-negative (it gives the range [-{name}, {name}]), got {value}");

    public static (double Min, double Max) Check((double Min, double Max) range, string op, string name) =>
        double.IsFinite(range.Min) && double.IsFinite(range.Max) && range.Min <= range.Max
            ? range
            : throw new ArgumentOutOfRangeException(name, $"{op}: {name} must be a finite range (min, max) with min <= max, got {Format(range)}");

    public static string Format((double Min, double Max) r) => FormattableString.Invariant($"({r.Min}, {r.Max})");

    public static string Format(double v) => v.ToString(CultureInfo.InvariantCulture);
}
