namespace DeepSharp.NN;

// Activation layers: thin modules over the differentiable ops in Autograd/Ops/Activations.cs and Softmax.cs.

/// <summary>Heaviside step: 1 where x &gt; 0, else 0 (the perceptron's activation; zero gradient).</summary>
public sealed class Step : Module<Tensor, Tensor>
{
    /// <summary>Applies the step elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Step();
}

/// <summary>1 / (1 + e^-x).</summary>
public sealed class Sigmoid : Module<Tensor, Tensor>
{
    /// <summary>Applies the sigmoid elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

/// <summary>Hyperbolic tangent, elementwise (nn.Tanh); outputs lie in (-1, 1).</summary>
public sealed class Tanh : Module<Tensor, Tensor>
{
    /// <summary>Applies tanh elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>max(x, 0).</summary>
public sealed class Relu : Module<Tensor, Tensor>
{
    /// <summary>Prints as PyTorch's <c>ReLU</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "ReLU";

    /// <summary>Applies ReLU elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>x for x &gt; 0, negativeSlope * x otherwise.</summary>
public sealed class LeakyRelu(double negativeSlope = 0.01) : Module<Tensor, Tensor>
{
    /// <summary>Prints as PyTorch's <c>LeakyReLU</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "LeakyReLU";

    /// <summary>The slope for negative inputs (default 0.01).</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <summary>Applies leaky ReLU elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.LeakyRelu(NegativeSlope);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"negative_slope={Num(NegativeSlope)}";
}

/// <summary>x for x &gt; 0, alpha (e^x - 1) otherwise.</summary>
public sealed class Elu(double alpha = 1) : Module<Tensor, Tensor>
{
    /// <summary>Prints as PyTorch's <c>ELU</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "ELU";

    /// <summary>Scale of the negative part: outputs approach -alpha for very negative x (default 1).</summary>
    public double Alpha { get; } = alpha;

    /// <summary>Applies ELU elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Elu(Alpha);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"alpha={Num(Alpha)}";
}

/// <summary>x Phi(x); <see cref="GeluApproximation.Tanh"/> uses the tanh formula (nn.GELU).</summary>
public sealed class Gelu(GeluApproximation approximate = GeluApproximation.None) : Module<Tensor, Tensor>
{
    /// <summary>Prints as PyTorch's <c>GELU</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "GELU";

    /// <summary>None (exact, with the normal CDF) or Tanh (the tanh approximation).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Thrown by the constructor for a value outside the enum.</exception>
    public GeluApproximation Approximate { get; } = approximate is GeluApproximation.None or GeluApproximation.Tanh ? approximate
        : throw GeluApproximationNames.Unknown("Gelu", approximate);

    /// <summary>Applies GELU elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Gelu(Approximate);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"approximate='{Approximate.ToName()}'";
}

/// <summary>log(1 + e^{beta x}) / beta, linear above threshold.</summary>
public sealed class Softplus(double beta = 1, double threshold = 20) : Module<Tensor, Tensor>
{
    /// <summary>Sharpness beta (default 1); larger values approach ReLU.</summary>
    public double Beta { get; } = beta;

    /// <summary>Above beta x &gt; threshold (default 20) the output is x itself, for numerical stability.</summary>
    public double Threshold { get; } = threshold;

    /// <summary>Applies softplus elementwise; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Softplus(Beta, Threshold);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"beta={Num(Beta)}, threshold={Num(Threshold)}";
}

/// <summary>Softmax along <paramref name="dim"/> (rows sum to 1).</summary>
public sealed class Softmax(int dim) : Module<Tensor, Tensor>
{
    /// <summary>The dim normalised over (negative counts from the end).</summary>
    public int Dim { get; } = dim;

    /// <summary>Softmax along <see cref="Dim"/>; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.Softmax(Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"dim={Dim}";
}

/// <summary>Log of softmax along <paramref name="dim"/>, computed stably; pair with NLLLoss.</summary>
public sealed class LogSoftmax(int dim) : Module<Tensor, Tensor>
{
    /// <summary>The dim normalised over (negative counts from the end).</summary>
    public int Dim { get; } = dim;

    /// <summary>Log-softmax along <see cref="Dim"/>; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => input.LogSoftmax(Dim);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"dim={Dim}";
}
