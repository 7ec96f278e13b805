namespace DeepSharp.NN;

/// <summary>
/// Channel dropout (nn.Dropout2d): in training, zeroes whole channels of [N, C, H, W] (or [C, H, W]) with
/// probability P and scales the others by 1/(1-P); the identity in eval mode. Neighbouring pixels of a
/// feature map are strongly correlated, so dropping single pixels regularises conv layers little; dropping
/// a channel does. Masks come from <see cref="Generator"/> (Generator.Default when null), one draw per (sample, channel).
/// </summary>
public sealed class Dropout2d : Module<Tensor, Tensor>
{
    public Dropout2d(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"Dropout2d: probability has to be between 0 and 1, but got {p}");
        P = p;
        Generator = generator;
    }

    public double P { get; }

    public Generator? Generator { get; set; }

    public override Tensor Forward(Tensor input) => Functional.Dropout2d(input, P, Training, Generator);

    protected override string ExtraRepr => $"p={PyRepr.Float(P)}, inplace=False";
}
