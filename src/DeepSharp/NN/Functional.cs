namespace DeepSharp.NN;

/// <summary>
/// Stateless forms of the layers and losses (PyTorch's torch.nn.functional), in .NET casing:
/// F.relu is <c>Functional.Relu</c>, F.cross_entropy is <c>Functional.CrossEntropy</c>.
/// Tip: <c>using F = DeepSharp.NN.Functional;</c>. Losses are in the NN/Losses files.
/// </summary>
public static partial class Functional
{
    /// <summary>x W^T + b (weight [out, in], bias [out]).</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => Tensor.Linear(input, weight, bias);

    public static Tensor Step(Tensor input) => input.Step();

    public static Tensor Sigmoid(Tensor input) => input.Sigmoid();

    public static Tensor Tanh(Tensor input) => input.Tanh();

    public static Tensor Relu(Tensor input) => input.Relu();

    public static Tensor LeakyRelu(Tensor input, double negativeSlope = 0.01) => input.LeakyRelu(negativeSlope);

    public static Tensor Elu(Tensor input, double alpha = 1) => input.Elu(alpha);

    public static Tensor Gelu(Tensor input, string approximate = "none") => input.Gelu(approximate);

    public static Tensor Softplus(Tensor input, double beta = 1, double threshold = 20) => input.Softplus(beta, threshold);

    public static Tensor Softmax(Tensor input, int dim) => input.Softmax(dim);

    public static Tensor LogSoftmax(Tensor input, int dim) => input.LogSoftmax(dim);

    /// <summary>
    /// Inverted dropout: in training, zeroes each element with probability <paramref name="p"/> and
    /// scales the survivors by 1/(1-p), so eval needs no rescaling; otherwise (or with p = 0) returns
    /// the input itself. The mask comes from <paramref name="generator"/> (default Generator.Default).
    /// </summary>
    public static Tensor Dropout(Tensor input, double p = 0.5, bool training = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"dropout: probability has to be between 0 and 1, but got {p}");
        if (!training || p == 0) return input;
        input.RequireFloat("dropout");
        if (p == 1) return input * 0.0;
        // mask = 1/(1-p) where u >= p, else 0; the gradient flows through the same mask (MulBackward).
        var mask = Tensor.Rand(input.ShapeArray, generator, input.DType);
        double scale = 1 / (1 - p);
        if (mask.DType == DType.Float32)
        {
            var m = mask.Span<float>();
            float pf = (float)p, sf = (float)scale;
            for (int i = 0; i < m.Length; i++) m[i] = m[i] < pf ? 0f : sf;
        }
        else
        {
            var m = mask.Span<double>();
            for (int i = 0; i < m.Length; i++) m[i] = m[i] < p ? 0 : scale;
        }
        return input * mask;
    }
}
