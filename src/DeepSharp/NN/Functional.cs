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

    /// <summary>Heaviside step: 1 where x &gt; 0, else 0 (the perceptron's activation); its gradient is zero.</summary>
    public static Tensor Step(Tensor input) => input.Step();

    /// <summary>1 / (1 + e^-x), elementwise (F.sigmoid).</summary>
    public static Tensor Sigmoid(Tensor input) => input.Sigmoid();

    /// <summary>tanh x, elementwise (F.tanh).</summary>
    public static Tensor Tanh(Tensor input) => input.Tanh();

    /// <summary>max(x, 0), elementwise (F.relu).</summary>
    public static Tensor Relu(Tensor input) => input.Relu();

    /// <summary>x where x &gt; 0, negativeSlope * x elsewhere (F.leaky_relu).</summary>
    public static Tensor LeakyRelu(Tensor input, double negativeSlope = 0.01) => input.LeakyRelu(negativeSlope);

    /// <summary>x where x &gt; 0, alpha (e^x - 1) elsewhere (F.elu).</summary>
    public static Tensor Elu(Tensor input, double alpha = 1) => input.Elu(alpha);

    /// <summary>GELU x * Phi(x) (F.gelu): <paramref name="approximate"/> None is exact, Tanh the tanh approximation.</summary>
    public static Tensor Gelu(Tensor input, GeluApproximation approximate = GeluApproximation.None) => input.Gelu(approximate);

    /// <summary>log(1 + e^(beta x)) / beta, elementwise, and x itself where beta x &gt; threshold (F.softplus).</summary>
    public static Tensor Softplus(Tensor input, double beta = 1, double threshold = 20) => input.Softplus(beta, threshold);

    /// <summary>Softmax along <paramref name="dim"/>: the values along it become positive and sum to 1 (F.softmax).</summary>
    public static Tensor Softmax(Tensor input, int dim) => input.Softmax(dim);

    /// <summary>log(softmax(x)) along <paramref name="dim"/>, computed stably (F.log_softmax).</summary>
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
        var mask = DropoutMask(input.ShapeArray, p, input.DType, generator);
        return input * mask;
    }

    /// <summary>An inverted-dropout mask of the given shape: 0 with probability p, else 1 / (1 - p), one uniform draw per element.</summary>
    internal static Tensor DropoutMask(int[] shape, double p, DType dtype, Generator? generator)
    {
        var mask = Tensor.Empty((int[])shape.Clone(), dtype);
        var g = generator ?? Generator.Default;
        double scale = 1 / (1 - p);
        if (dtype == DType.Float32) g.FillDropoutMask(mask.Span<float>(), p, scale);
        else g.FillDropoutMask(mask.Span<double>(), p, scale);
        return mask;
    }
}
