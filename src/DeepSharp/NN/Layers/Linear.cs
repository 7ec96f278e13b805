namespace DeepSharp.NN;

/// <summary>
/// Fully connected layer y = x W^T + b, weight [out, in], bias [out] (PyTorch's nn.Linear).
/// Default init as PyTorch: W ~ kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
/// and b ~ U(-1/sqrt(in), 1/sqrt(in)).
/// </summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    public Linear(int inFeatures, int outFeatures, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inFeatures < 0 || outFeatures < 0)
            throw new ArgumentException($"Linear: feature counts must be non-negative, got in={inFeatures}, out={outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Tensor.Zeros([outFeatures, inFeatures], dtype));
        if (bias) Bias = RegisterParameter("bias", Tensor.Zeros([outFeatures], dtype));
        ResetParameters(generator);
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    /// <summary>Re-draws the weights with PyTorch's default initialisation.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        Init.KaimingUniform_(Weight, a: Math.Sqrt(5), generator: generator);
        if (Bias is not null)
        {
            double bound = InFeatures > 0 ? 1 / Math.Sqrt(InFeatures) : 0;
            Init.Uniform_(Bias, -bound, bound, generator);
        }
    }

    public override Tensor Forward(Tensor input) => Tensor.Linear(input, Weight, Bias);

    protected override string ExtraRepr => $"in_features={InFeatures}, out_features={OutFeatures}, bias={PyBool(Bias is not null)}";
}
