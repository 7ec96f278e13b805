namespace DeepSharp.NN;

/// <summary>
/// A lookup table of <see cref="NumEmbeddings"/> learned vectors of size <see cref="EmbeddingDim"/>
/// (nn.Embedding): int64 indices of any shape [...] become [..., dim]. Weight [num, dim] starts as N(0, 1);
/// the <see cref="PaddingIdx"/> row starts at zero and never receives a gradient, so it stays a constant
/// "no token" vector while training.
/// </summary>
public sealed class Embedding : Module<Tensor, Tensor>
{
    /// <summary>A table of <paramref name="numEmbeddings"/> vectors of <paramref name="embeddingDim"/> features, drawn from N(0, 1).</summary>
    /// <param name="numEmbeddings">Number of rows (vocabulary size).</param>
    /// <param name="embeddingDim">Size of each vector.</param>
    /// <param name="paddingIdx">Row kept at zero and given no gradient; negative values count from the end.</param>
    /// <param name="dtype">Element type of the table.</param>
    /// <param name="generator">Random source of the initialisation (Generator.Default when null).</param>
    /// <exception cref="ArgumentException">A size is negative.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="paddingIdx"/> is outside [-numEmbeddings, numEmbeddings).</exception>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIdx = null, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (numEmbeddings < 0 || embeddingDim < 0)
            throw new ArgumentException($"Embedding: num_embeddings and embedding_dim must be non-negative, got {numEmbeddings} and {embeddingDim}");
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        PaddingIdx = Functional.NormalizePaddingIdx("Embedding", paddingIdx, numEmbeddings);
        Weight = RegisterParameter("weight", Tensor.Zeros([numEmbeddings, embeddingDim], dtype));
        ResetParameters(generator);
    }

    /// <summary>
    /// An embedding holding a copy of <paramref name="embeddings"/> [num, dim] (nn.Embedding.from_pretrained);
    /// frozen (RequiresGrad = false) unless <paramref name="freeze"/> is false. The padding row is kept as given.
    /// </summary>
    public static Embedding FromPretrained(Tensor embeddings, bool freeze = true, int? paddingIdx = null)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        if (embeddings.Rank != 2 || !embeddings.IsFloatingPoint)
            throw new ArgumentException($"Embedding.FromPretrained: embeddings must be a 2-D floating-point tensor [num, dim], got {embeddings.Describe()}");
        var e = new Embedding(embeddings.ShapeArray[0], embeddings.ShapeArray[1], paddingIdx, embeddings.DType);
        using (Autograd.NoGrad()) e.Weight.CopyFrom(embeddings);
        e.Weight.RequiresGrad = !freeze;
        return e;
    }

    /// <summary>Number of rows (vocabulary size).</summary>
    public int NumEmbeddings { get; }

    /// <summary>Size of each vector.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The row that gets no gradient (normalised to [0, num); null when there is none).</summary>
    public int? PaddingIdx { get; }

    /// <summary>The table [num_embeddings, embedding_dim] (<c>weight</c>).</summary>
    public Tensor Weight { get; }

    /// <summary>Re-draws the table from N(0, 1) and zeroes the padding row, as PyTorch.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        Init.Normal(Weight, 0, 1, generator);
        if (PaddingIdx is int p)
            using (Autograd.NoGrad()) Weight.Select(0, p).Fill(0);
    }

    /// <summary>Looks up int64 indices of any shape [...] and returns [..., embedding_dim].</summary>
    public override Tensor Forward(Tensor input) => Functional.Embedding(input, Weight, PaddingIdx);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"{NumEmbeddings}, {EmbeddingDim}" + (PaddingIdx is int p ? $", padding_idx={p}" : "");
}
