namespace DeepSharp.NN;

/// <summary>Returns its input unchanged (a placeholder, e.g. for a removed head).</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    public override Tensor Forward(Tensor input) => input;
}

/// <summary>Merges dims startDim..endDim (default: all but the batch dim), as nn.Flatten.</summary>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module<Tensor, Tensor>
{
    public int StartDim { get; } = startDim;

    public int EndDim { get; } = endDim;

    public override Tensor Forward(Tensor input) => input.Flatten(StartDim, EndDim);

    protected override string ExtraRepr => $"start_dim={StartDim}, end_dim={EndDim}";
}

/// <summary>Splits dim <paramref name="dim"/> into <paramref name="sizes"/>, as nn.Unflatten.</summary>
public sealed class Unflatten(int dim, params int[] sizes) : Module<Tensor, Tensor>
{
    private readonly int[] _sizes = (int[])sizes.Clone();

    public int Dim { get; } = dim;

    public IReadOnlyList<int> Sizes => _sizes;

    public override Tensor Forward(Tensor input) => input.Unflatten(Dim, _sizes);

    protected override string ExtraRepr => $"dim={Dim}, unflattened_size=({string.Join(", ", _sizes)})";
}

/// <summary>
/// Inverted dropout (nn.Dropout): in training mode zeroes elements with probability P and scales
/// the rest by 1/(1-P); the identity in eval mode. Masks are drawn from <see cref="Generator"/>
/// (Generator.Default when null), so runs are reproducible with a seeded generator.
/// </summary>
public sealed class Dropout : Module<Tensor, Tensor>
{
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"Dropout: probability has to be between 0 and 1, but got {p}");
        P = p;
        Generator = generator;
    }

    public double P { get; }

    public Generator? Generator { get; set; }

    public override Tensor Forward(Tensor input) => Functional.Dropout(input, P, Training, Generator);

    protected override string ExtraRepr => $"p={Num(P)}, inplace=False";
}
