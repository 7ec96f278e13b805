using System.Globalization;

namespace DeepSharp.Data;

/// <summary>
/// Builds an augmentation pipeline from a comma-separated list of names, as the CLI's --augment
/// takes it: <c>"flip,crop,rotate"</c>, each optionally with one value (<c>"rotate:15,erase:0.5"</c>).
/// Defaults suit small square images such as 28x28 Fashion-MNIST. Whatever the order written, the
/// steps run in a fixed order: resizedcrop, crop, flip, vflip, rotate, affine, erase (geometry first,
/// erasing last, as in the Random Erasing paper).
/// </summary>
public static class AugmentationParser
{
    private static readonly (string Name, string Help)[] s_entries =
    [
        ("resizedcrop", "resizedcrop[:minScale]  random-resized crop back to the image size, area scale (minScale, 1), default 0.5"),
        ("crop", "crop[:padding]          random crop of the image size after padding with the fill, default 2 (4 from 32 px)"),
        ("flip", "flip[:p]                horizontal flip with probability p, default 0.5"),
        ("vflip", "vflip[:p]               vertical flip with probability p, default 0.5"),
        ("rotate", "rotate[:degrees]        rotation uniform in +-degrees (bilinear), default 10"),
        ("affine", "affine[:t]              translation up to t of the size and scale in (1-t, 1+t), default 0.1"),
        ("erase", "erase[:p]               random erasing with probability p, area (0.02, 0.33), default 0.25"),
    ];

    /// <summary>The valid names, in the order the steps run.</summary>
    public static IReadOnlyList<string> Names { get; } = s_entries.Select(e => e.Name).ToArray();

    /// <summary>One line per name with its optional value and default, for --help.</summary>
    public static string Help => string.Join(Environment.NewLine, s_entries.Select(e => e.Help));

    /// <summary>
    /// The pipeline for <paramref name="spec"/> (empty or "none": no augmentation) on images of
    /// <paramref name="imageSize"/> x <paramref name="imageSize"/> with <paramref name="channels"/>
    /// channels. <paramref name="fill"/> is the background value in the inputs' scale (0 for raw
    /// [0, 1] pixels; -mean/std after normalisation), used for padding, uncovered corners and erased patches.
    /// </summary>
    public static Compose Parse(string? spec, int imageSize, int channels, float fill = 0)
    {
        if (imageSize <= 0) throw new ArgumentOutOfRangeException(nameof(imageSize), $"augment: the image size must be positive, got {imageSize}");
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), $"augment: the channel count must be positive, got {channels}");
        var values = new double?[s_entries.Length];
        var seen = new bool[s_entries.Length];
        foreach (var raw in (spec ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (raw.Equals("none", StringComparison.OrdinalIgnoreCase)) continue;
            int sep = raw.IndexOfAny([':', '=']);
            string name = (sep < 0 ? raw : raw[..sep]).Trim().ToLowerInvariant();
            int index = Array.FindIndex(s_entries, e => e.Name == name);
            if (index < 0)
                throw new ArgumentException($"augment: unknown augmentation '{name}' in \"{spec}\"; valid names: {string.Join(", ", Names)} (each optionally name:value, e.g. rotate:15)");
            if (seen[index]) throw new ArgumentException($"augment: '{name}' is given twice in \"{spec}\"");
            seen[index] = true;
            if (sep >= 0) values[index] = Value(raw[(sep + 1)..].Trim(), name);
        }
        Fill background = fill;
        var steps = new List<ITransform>();
        for (int i = 0; i < s_entries.Length; i++)
        {
            if (!seen[i]) continue;
            double? v = values[i];
            steps.Add(s_entries[i].Name switch
            {
                "resizedcrop" => new RandomResizedCrop(imageSize, scale: (Fraction(v ?? 0.5, "resizedcrop", "minScale", openAtZero: true), 1.0)),
                "crop" => new RandomCrop(imageSize, padding: Whole(v ?? (imageSize >= 32 ? 4 : 2), "crop", "padding"), fill: background),
                "flip" => new RandomHorizontalFlip(Fraction(v ?? 0.5, "flip", "p", openAtZero: false)),
                "vflip" => new RandomVerticalFlip(Fraction(v ?? 0.5, "vflip", "p", openAtZero: false)),
                "rotate" => new RandomRotation(NonNegative(v ?? 10, "rotate", "degrees"), fill: background),
                "affine" => Affine(Fraction(v ?? 0.1, "affine", "t", openAtZero: false), background),
                _ => new RandomErasing(Fraction(v ?? 0.25, "erase", "p", openAtZero: false), value: background),
            });
        }
        return new Compose([.. steps]);
    }

    private static RandomAffine Affine(double t, Fill fill)
    {
        if (t >= 1) throw new ArgumentException($"augment: affine:t must be below 1 (scale range (1-t, 1+t)), got {t}");
        return new RandomAffine(0, translate: (t, t), scale: (1 - t, 1 + t), fill: fill);
    }

    private static double Value(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v
            : throw new ArgumentException($"augment: '{name}' takes a number after ':', got '{text}'");

    private static double Fraction(double v, string name, string what, bool openAtZero) =>
        (openAtZero ? v > 0 : v >= 0) && v <= 1 ? v : throw new ArgumentException($"augment: {name}:{what} must be in {(openAtZero ? "(0" : "[0")}, 1], got {v}");

    private static double NonNegative(double v, string name, string what) =>
        v >= 0 ? v : throw new ArgumentException($"augment: {name}:{what} must be non-negative, got {v}");

    private static int Whole(double v, string name, string what) =>
        v >= 0 && v == Math.Floor(v) && v <= 1 << 16 ? (int)v : throw new ArgumentException($"augment: {name}:{what} must be a whole number of pixels, got {v}");
}
