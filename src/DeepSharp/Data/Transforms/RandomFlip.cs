using System.Globalization;

namespace DeepSharp.Data;

/// <summary>Mirrors each image left-right with probability <see cref="P"/> (torchvision's RandomHorizontalFlip).</summary>
public sealed class RandomHorizontalFlip : ITransform
{
    /// <summary>Flips each image with probability <paramref name="p"/> (default 0.5).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public RandomHorizontalFlip(double p = 0.5) => P = RandomFlip.CheckP(p, nameof(RandomHorizontalFlip));

    /// <summary>Probability that an image is flipped.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator) => RandomFlip.Apply(batch, generator, P, horizontal: true);

    /// <summary>torchvision-style description, e.g. <c>RandomHorizontalFlip(p=0.5)</c>.</summary>
    public override string ToString() => $"RandomHorizontalFlip(p={P.ToString(CultureInfo.InvariantCulture)})";
}

/// <summary>Mirrors each image top-bottom with probability <see cref="P"/> (torchvision's RandomVerticalFlip).</summary>
public sealed class RandomVerticalFlip : ITransform
{
    /// <summary>Flips each image with probability <paramref name="p"/> (default 0.5).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public RandomVerticalFlip(double p = 0.5) => P = RandomFlip.CheckP(p, nameof(RandomVerticalFlip));

    /// <summary>Probability that an image is flipped.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public Tensor Apply(Tensor batch, Generator generator) => RandomFlip.Apply(batch, generator, P, horizontal: false);

    /// <summary>torchvision-style description, e.g. <c>RandomVerticalFlip(p=0.5)</c>.</summary>
    public override string ToString() => $"RandomVerticalFlip(p={P.ToString(CultureInfo.InvariantCulture)})";
}

internal static class RandomFlip
{
    public static double CheckP(double p, string op) => p is >= 0 and <= 1
        ? p
        : throw new ArgumentOutOfRangeException(nameof(p), $"{op}: the probability p must be in [0, 1], got {p}");

    /// <summary>One draw per image: flipped when u &lt; p (torchvision: torch.rand(1) &lt; p).</summary>
    public static Tensor Apply(Tensor batch, Generator generator, double p, bool horizontal)
    {
        var b = new ImageBatch(batch, horizontal ? nameof(RandomHorizontalFlip) : nameof(RandomVerticalFlip));
        var draws = new RandomDraws(generator, b.Images, 1);
        var output = b.NewOutput();
        for (int n = 0; n < b.Images; n++)
        {
            var src = b.Image(n);
            var dst = b.OutputImage(output, n);
            if (!(draws.Uniform(n, 0) < p)) src.CopyTo(dst);
            else if (horizontal) ImageKernels.FlipHorizontal(src, dst, b.Channels * b.Height, b.Width);
            else ImageKernels.FlipVertical(src, dst, b.Channels, b.Height, b.Width);
        }
        Tensor.KeepAlive(b.Source);
        return output;
    }
}
