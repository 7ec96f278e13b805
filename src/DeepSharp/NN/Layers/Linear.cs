namespace DeepSharp.NN;

/// <summary>
/// Fully connected layer y = x W^T + b, weight [out, in], bias [out] (PyTorch's nn.Linear).
/// Default init as PyTorch: W ~ kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
/// and b ~ U(-1/sqrt(in), 1/sqrt(in)).
/// </summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    /// <summary>A layer mapping <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, with a bias unless <paramref name="bias"/> is false.</summary>
    /// <exception cref="ArgumentException">A feature count is negative.</exception>
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

    /// <summary>Input features (the last dim of the input).</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>The weight [out_features, in_features] (<c>weight</c>).</summary>
    public Tensor Weight { get; }

    /// <summary>The bias [out_features] (<c>bias</c>), or null when built with bias: false.</summary>
    public Tensor? Bias { get; }

    /// <summary>Re-draws the weights with PyTorch's default initialisation.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        Init.KaimingUniform(Weight, a: Math.Sqrt(5), generator: generator);
        if (Bias is not null)
        {
            double bound = InFeatures > 0 ? 1 / Math.Sqrt(InFeatures) : 0;
            Init.Uniform(Bias, -bound, bound, generator);
        }
    }

    /// <summary>x W^T + b for input [..., in_features]; returns [..., out_features].</summary>
    public override Tensor Forward(Tensor input) => Tensor.Linear(input, Weight, Bias);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"in_features={InFeatures}, out_features={OutFeatures}, bias={PyBool(Bias is not null)}";
}
