namespace DeepSharp.NN;

// Activation layers: thin modules over the differentiable ops in Autograd/Ops/Activations.cs and Softmax.cs.

/// <summary>Heaviside step: 1 where x &gt; 0, else 0 (the perceptron's activation; zero gradient).</summary>
public sealed class Step : Module<Tensor, Tensor>
{
    public override Tensor Forward(Tensor input) => input.Step();
}

/// <summary>1 / (1 + e^-x).</summary>
public sealed class Sigmoid : Module<Tensor, Tensor>
{
    public override Tensor Forward(Tensor input) => input.Sigmoid();
}

public sealed class Tanh : Module<Tensor, Tensor>
{
    public override Tensor Forward(Tensor input) => input.Tanh();
}

/// <summary>max(x, 0).</summary>
public sealed class ReLU : Module<Tensor, Tensor>
{
    public override Tensor Forward(Tensor input) => input.Relu();
}

/// <summary>x for x &gt; 0, negativeSlope * x otherwise.</summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module<Tensor, Tensor>
{
    public double NegativeSlope { get; } = negativeSlope;

    public override Tensor Forward(Tensor input) => input.LeakyRelu(NegativeSlope);

    protected override string ExtraRepr => $"negative_slope={Num(NegativeSlope)}";
}

/// <summary>x for x &gt; 0, alpha (e^x - 1) otherwise.</summary>
public sealed class ELU(double alpha = 1) : Module<Tensor, Tensor>
{
    public double Alpha { get; } = alpha;

    public override Tensor Forward(Tensor input) => input.Elu(Alpha);

    protected override string ExtraRepr => $"alpha={Num(Alpha)}";
}

/// <summary>x Phi(x); approximate "tanh" uses the tanh formula.</summary>
public sealed class GELU(string approximate = "none") : Module<Tensor, Tensor>
{
    public string Approximate { get; } = approximate is "none" or "tanh" ? approximate
        : throw new ArgumentException($"GELU: approximate must be \"none\" or \"tanh\", got \"{approximate}\"");

    public override Tensor Forward(Tensor input) => input.Gelu(Approximate);

    protected override string ExtraRepr => $"approximate='{Approximate}'";
}

/// <summary>log(1 + e^{beta x}) / beta, linear above threshold.</summary>
public sealed class Softplus(double beta = 1, double threshold = 20) : Module<Tensor, Tensor>
{
    public double Beta { get; } = beta;

    public double Threshold { get; } = threshold;

    public override Tensor Forward(Tensor input) => input.Softplus(Beta, Threshold);

    protected override string ExtraRepr => $"beta={Num(Beta)}, threshold={Num(Threshold)}";
}

/// <summary>Softmax along <paramref name="dim"/> (rows sum to 1).</summary>
public sealed class Softmax(int dim) : Module<Tensor, Tensor>
{
    public int Dim { get; } = dim;

    public override Tensor Forward(Tensor input) => input.Softmax(Dim);

    protected override string ExtraRepr => $"dim={Dim}";
}

/// <summary>Log of softmax along <paramref name="dim"/>, computed stably; pair with NLLLoss.</summary>
public sealed class LogSoftmax(int dim) : Module<Tensor, Tensor>
{
    public int Dim { get; } = dim;

    public override Tensor Forward(Tensor input) => input.LogSoftmax(Dim);

    protected override string ExtraRepr => $"dim={Dim}";
}
