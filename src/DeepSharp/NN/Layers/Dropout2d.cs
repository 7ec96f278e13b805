namespace DeepSharp.NN;

/// <summary>
/// Channel dropout (nn.Dropout2d): in training, zeroes whole channels of [N, C, H, W] (or [C, H, W]) with
/// probability P and scales the others by 1/(1-P); the identity in eval mode. Neighbouring pixels of a
/// feature map are strongly correlated, so dropping single pixels regularises conv layers little; dropping
/// a channel does. Masks come from <see cref="Generator"/> (Generator.Default when null), one draw per (sample, channel).
/// </summary>
public sealed class Dropout2d : Module<Tensor, Tensor>
{
    /// <summary>Channel dropout with probability <paramref name="p"/> (default 0.5).</summary>
    /// <exception cref="ArgumentException"><paramref name="p"/> is outside [0, 1].</exception>
    public Dropout2d(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"Dropout2d: probability has to be between 0 and 1, but got {p}");
        P = p;
        Generator = generator;
    }

    /// <summary>Probability of zeroing a channel.</summary>
    public double P { get; }

    /// <summary>Random source of the masks (Generator.Default when null).</summary>
    public Generator? Generator { get; set; }

    /// <summary>Drops channels in training mode; returns the input unchanged in eval mode. The output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => Functional.Dropout2d(input, P, Training, Generator);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"p={PyRepr.Float(P)}, inplace=False";
}
