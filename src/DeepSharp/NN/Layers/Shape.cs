namespace DeepSharp.NN;

/// <summary>Returns its input unchanged (a placeholder, e.g. for a removed head).</summary>
public sealed class Identity : Module<Tensor, Tensor>
{
    /// <summary>Returns <paramref name="input"/> itself.</summary>
    public override Tensor Forward(Tensor input) => input;
}

/// <summary>Merges dims startDim..endDim (default: all but the batch dim), as nn.Flatten.</summary>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module<Tensor, Tensor>
{
    /// <summary>First dim merged (default 1, keeping the batch dim).</summary>
    public int StartDim { get; } = startDim;

    /// <summary>Last dim merged, inclusive (default -1, the last).</summary>
    public int EndDim { get; } = endDim;

    /// <summary>Merges dims <see cref="StartDim"/>..<see cref="EndDim"/>: [N, C, H, W] becomes [N, C*H*W] with the defaults.</summary>
    public override Tensor Forward(Tensor input) => input.Flatten(StartDim, EndDim);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"start_dim={StartDim}, end_dim={EndDim}";
}

/// <summary>Splits dim <paramref name="dim"/> into <paramref name="sizes"/>, as nn.Unflatten.</summary>
public sealed class Unflatten(int dim, params int[] sizes) : Module<Tensor, Tensor>
{
    private readonly int[] _sizes = (int[])sizes.Clone();

    /// <summary>The dim that is split.</summary>
    public int Dim { get; } = dim;

    /// <summary>The sizes it is split into; their product must equal the dim's size (one may be -1, inferred).</summary>
    public IReadOnlyList<int> Sizes => _sizes;

    /// <summary>Splits dim <see cref="Dim"/> into <see cref="Sizes"/>, e.g. [N, 784] into [N, 1, 28, 28] with dim 1 and sizes (1, 28, 28).</summary>
    public override Tensor Forward(Tensor input) => input.Unflatten(Dim, _sizes);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"dim={Dim}, unflattened_size=({string.Join(", ", _sizes)})";
}

/// <summary>
/// Inverted dropout (nn.Dropout): in training mode zeroes elements with probability P and scales
/// the rest by 1/(1-P); the identity in eval mode. Masks are drawn from <see cref="Generator"/>
/// (Generator.Default when null), so runs are reproducible with a seeded generator.
/// </summary>
public sealed class Dropout : Module<Tensor, Tensor>
{
    /// <summary>Dropout with probability <paramref name="p"/> (default 0.5).</summary>
    /// <exception cref="ArgumentException"><paramref name="p"/> is outside [0, 1].</exception>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"Dropout: probability has to be between 0 and 1, but got {p}");
        P = p;
        Generator = generator;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>Random source of the masks (Generator.Default when null).</summary>
    public Generator? Generator { get; set; }

    /// <summary>Drops elements in training mode; returns the input unchanged in eval mode. The output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => Functional.Dropout(input, P, Training, Generator);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"p={Num(P)}, inplace=False";
}
