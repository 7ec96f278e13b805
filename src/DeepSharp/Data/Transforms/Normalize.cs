using System.Globalization;
using System.Numerics.Tensors;

namespace DeepSharp.Data;

/// <summary>
/// x' = (x - mean[c]) / std[c] per channel of [..., C, H, W] float32 images, as torchvision's
/// Normalize. One mean/std value applies to every channel. Deterministic; returns a new tensor.
/// </summary>
public sealed class Normalize : ITransform
{
    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>Per-channel statistics (one value of each applies to all channels).</summary>
    /// <exception cref="ArgumentException">The arrays are empty or differ in length, a value is not finite, or a std is zero.</exception>
    public Normalize(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"Normalize: give one mean and one std per channel (or one of each), got {mean.Length} means and {std.Length} stds");
        for (int i = 0; i < std.Length; i++)
            if (!float.IsFinite(mean[i]) || !float.IsFinite(std[i]) || std[i] == 0)
                throw new ArgumentException($"Normalize: channel {i} needs a finite mean and a finite non-zero std, got mean {mean[i]}, std {std[i]}");
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
    }

    /// <summary>The same mean and std for every channel.</summary>
    public Normalize(float mean, float std) : this([mean], [std]) { }

    /// <summary>Per-channel means (or one for all channels).</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Per-channel standard deviations (or one for all channels).</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>(x - mean[c]) / std[c] over float32 images [C, H, W] or batches [N, C, H, W]; returns a new tensor.</summary>
    /// <exception cref="ArgumentException">The number of means is neither 1 nor the image's channel count.</exception>
    public Tensor Apply(Tensor image)
    {
        var b = new ImageBatch(image, "Normalize");
        if (_mean.Length != 1 && _mean.Length != b.Channels)
            throw new ArgumentException($"Normalize: {_mean.Length} means/stds but the images {b.Describe()} have {b.Channels} channels");
        var output = b.NewOutput();
        var src = b.Source.ReadSpan<float>();
        var dst = output.Span<float>();
        int plane = b.Plane;
        for (int n = 0; n < b.Images; n++)
            for (int c = 0; c < b.Channels; c++)
            {
                int k = _mean.Length == 1 ? 0 : c;
                var d = dst.Slice((n * b.Channels + c) * plane, plane);
                TensorPrimitives.Subtract(src.Slice((n * b.Channels + c) * plane, plane), _mean[k], d);
                TensorPrimitives.Divide(d, _std[k], d);
            }
        Tensor.KeepAlive(b.Source);
        return output;
    }

    Tensor ITransform.Apply(Tensor batch, Generator generator) => Apply(batch);

    /// <summary>torchvision-style description, e.g. <c>Normalize(mean=0.5, std=0.25)</c>.</summary>
    public override string ToString() => $"Normalize(mean={Format(_mean)}, std={Format(_std)})";

    private static string Format(float[] v) =>
        v.Length == 1 ? v[0].ToString(CultureInfo.InvariantCulture) : "[" + string.Join(", ", v.Select(x => x.ToString(CultureInfo.InvariantCulture))) + "]";
}
