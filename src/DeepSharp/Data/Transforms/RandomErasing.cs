using System.Globalization;

namespace DeepSharp.Data;

/// <summary>
/// torchvision's RandomErasing (Zhong et al. 2017): with probability <see cref="P"/>, up to 10
/// attempts draw an area fraction uniform in <see cref="Scale"/> and a log-uniform aspect ratio
/// (height / width) in <see cref="Ratio"/>; the first rectangle strictly smaller than the image is
/// placed uniformly and set to <see cref="Value"/> (per channel) or, with <see cref="RandomValues"/>,
/// to standard normal noise. When no attempt fits, the image is left as it is.
/// </summary>
public sealed class RandomErasing : ITransform
{
    private const int Attempts = 10;
    private const int DrawsPerAttempt = 4; // area, log-ratio, top, left
    private const int Draws = 2 + Attempts * DrawsPerAttempt; // + the coin and the noise seed

    private readonly Fill _value;

    /// <summary>Random erasing with torchvision's defaults.</summary>
    /// <param name="p">Probability that an image is erased (default 0.5).</param>
    /// <param name="scale">Range of the erased area as a fraction of the image's (default (0.02, 0.33)).</param>
    /// <param name="ratio">Range of the rectangle's height / width (default (0.3, 3.3)).</param>
    /// <param name="value">Value of the erased pixels (default 0).</param>
    /// <param name="randomValues">Erase with standard normal noise instead of <paramref name="value"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">p or scale is outside [0, 1], or the ratio is not positive.</exception>
    public RandomErasing(double p = 0.5, (double Min, double Max)? scale = null, (double Min, double Max)? ratio = null, Fill value = default,
        bool randomValues = false)
    {
        P = RandomFlip.CheckP(p, nameof(RandomErasing));
        Scale = Ranges.Check(scale ?? (0.02, 0.33), nameof(RandomErasing), "scale");
        Ratio = Ranges.Check(ratio ?? (0.3, 3.3), nameof(RandomErasing), "ratio");
        if (Scale.Min < 0 || Scale.Max > 1) throw new ArgumentOutOfRangeException(nameof(scale), $"RandomErasing: scale must lie in [0, 1], got {Ranges.Format(Scale)}");
        if (!(Ratio.Min > 0)) throw new ArgumentOutOfRangeException(nameof(ratio), $"RandomErasing: ratio must be positive, got {Ranges.Format(Ratio)}");
        _value = value;
        RandomValues = randomValues;
    }

    /// <summary>Probability that an image is erased.</summary>
    public double P { get; }

    /// <summary>Range of the erased area as a fraction of the image's.</summary>
    public (double Min, double Max) Scale { get; }

    /// <summary>Range of the erased rectangle's height / width.</summary>
    public (double Min, double Max) Ratio { get; }

    /// <summary>Value of the erased pixels (unless <see cref="RandomValues"/>).</summary>
    public Fill Value => _value;

    /// <summary>Erase with N(0, 1) noise instead of <see cref="Value"/> (torchvision's value="random").</summary>
    public bool RandomValues { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        var b = new ImageBatch(batch, nameof(RandomErasing));
        if (!RandomValues) _value.Check(b.Channels, nameof(RandomErasing));
        var output = b.NewOutput();
        b.Source.ReadSpan<float>().CopyTo(output.Span<float>());
        var draws = new RandomDraws(generator, b.Images, Draws);
        int size = b.Channels * b.Plane;
        var data = output.Span<float>();
        for (int n = 0; n < b.Images; n++)
        {
            if (!(draws.Uniform(n, 0) < P)) continue;
            if (Rectangle(draws, n, b.Height, b.Width) is not { } r) continue;
            var image = data.Slice(n * size, size);
            if (!RandomValues)
            {
                ImageKernels.FillRect(image, b.Channels, b.Height, b.Width, r.Top, r.Left, r.Height, r.Width, _value);
                continue;
            }
            var noise = new Generator(draws.Seed(n, 1));
            for (int c = 0; c < b.Channels; c++)
                for (int y = r.Top; y < r.Top + r.Height; y++)
                    noise.FillNormal(image.Slice((c * b.Height + y) * b.Width + r.Left, r.Width), 0, 1);
        }
        Tensor.KeepAlive(b.Source);
        return output;
    }

    /// <summary>torchvision's get_params: the rectangle for image n, or null when none of the attempts fits.</summary>
    internal (int Top, int Left, int Height, int Width)? Rectangle(in RandomDraws draws, int n, int height, int width)
    {
        double area = (double)height * width;
        double logMin = Math.Log(Ratio.Min), logMax = Math.Log(Ratio.Max);
        for (int a = 0; a < Attempts; a++)
        {
            int k = 2 + a * DrawsPerAttempt;
            double erase = area * draws.Uniform(n, k, Scale.Min, Scale.Max);
            double aspect = Math.Exp(draws.Uniform(n, k + 1, logMin, logMax));
            int h = (int)Math.Round(Math.Sqrt(erase * aspect)), w = (int)Math.Round(Math.Sqrt(erase / aspect));
            if (!(h < height && w < width)) continue;
            return (draws.Integer(n, k + 2, 0, height - h + 1), draws.Integer(n, k + 3, 0, width - w + 1), h, w);
        }
        return null;
    }

    /// <summary>torchvision-style description of the settings.</summary>
    public override string ToString() =>
        $"RandomErasing(p={P.ToString(CultureInfo.InvariantCulture)}, scale={Ranges.Format(Scale)}, ratio={Ranges.Format(Ratio)}, value={(RandomValues ? "random" : _value.ToString())})";
}
