using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>
/// One layer l of <see cref="BackpropExplanation"/>: its parameters, forward values z^l = W^l a^{l-1} + b^l
/// and a^l = σ(z^l), the error δ^l, and the gradients ∂C/∂W^l and ∂C/∂b^l three ways: from the
/// backpropagation formulas, from autograd, and from central differences.
/// </summary>
public sealed record BackpropLayer(
    int Index,
    double[][] Weight,
    double[] Bias,
    double[] Z,
    double[] A,
    double[] Delta,
    double[][] WeightGradFormula,
    double[] BiasGradFormula,
    double[][] WeightGradAutograd,
    double[] BiasGradAutograd,
    double[][] WeightGradNumeric,
    double[] BiasGradNumeric);

/// <summary>
/// The whole worked example: input, target, loss C = mean((a^L - y)^2), the layers, and the largest
/// absolute differences between the formula gradients and autograd's, and between the formula
/// gradients and the numerical ones (<see cref="Agrees"/> when both are below the tolerance).
/// </summary>
public sealed record BackpropExplanation(
    int[] Sizes,
    double[] Input,
    double[] Target,
    double Loss,
    IReadOnlyList<BackpropLayer> Layers,
    double MaxDiffAutograd,
    double MaxDiffNumeric,
    double MaxDiffForward,
    double Epsilon,
    double Tolerance)
{
    /// <summary>Whether the formula gradients match autograd and the numerical gradients, and the forward values match the model's, all within <see cref="Tolerance"/>.</summary>
    public bool Agrees => MaxDiffAutograd <= Tolerance && MaxDiffNumeric <= Tolerance && MaxDiffForward <= Tolerance;
}

/// <summary>
/// Backpropagation worked by hand on a tiny sigmoid MLP in float64 and checked two ways:
/// δ^L = ∇_a C ⊙ σ'(z^L) with ∇_a C = (2/n)(a^L - y) for the mean squared error over n outputs,
/// δ^l = (W^{l+1})^T δ^{l+1} ⊙ σ'(z^l), ∂C/∂W^l = δ^l (a^{l-1})^T, ∂C/∂b^l = δ^l, with σ'(z) = σ(z)(1 - σ(z)).
/// </summary>
public static class BackpropExplainer
{
    /// <summary>Builds a sigmoid MLP with the given layer widths (float64, seeded), runs one input through it and backpropagates the mean squared error by hand, by autograd and numerically.</summary>
    /// <param name="sizes">Layer widths from input to output (default [2, 3, 2]).</param>
    /// <param name="seed">Seed of the weights, the input and the target.</param>
    /// <param name="epsilon">Step of the central differences.</param>
    /// <param name="tolerance">Largest absolute difference for <see cref="BackpropExplanation.Agrees"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="sizes"/> has fewer than two entries or a width below 1.</exception>
    public static BackpropExplanation Run(int[]? sizes = null, ulong seed = 0, double epsilon = 1e-6, double tolerance = 1e-6)
    {
        sizes ??= [2, 3, 2];
        if (sizes.Length < 2 || sizes.Any(s => s < 1)) throw new ArgumentException($"explain-backprop: sizes must list at least two positive layer widths, got [{string.Join(", ", sizes)}]");
        var generator = new Generator(seed);
        var model = new Sequential();
        for (int l = 1; l < sizes.Length; l++)
        {
            model.Add(new Linear(sizes[l - 1], sizes[l], dtype: DType.Float64, generator: generator));
            model.Add(new Sigmoid());
        }
        var x = Tensor.Uniform([1, sizes[0]], -1, 1, generator, DType.Float64);
        var y = Tensor.Uniform([1, sizes[^1]], 0, 1, generator, DType.Float64);
        var linears = model.OfType<Linear>().ToList();
        var weights = linears.Select(l => Matrix(l.Weight)).ToList();
        var biases = linears.Select(l => l.Bias!.ToDoubleArray()).ToList();

        // 1. By hand: forward, then the deltas from the last layer back.
        int layers = linears.Count;
        var a = new double[layers + 1][];
        var z = new double[layers + 1][];
        a[0] = x.ToDoubleArray();
        for (int l = 1; l <= layers; l++)
        {
            z[l] = Add(MatVec(weights[l - 1], a[l - 1]), biases[l - 1]);
            a[l] = z[l].Select(Sigmoid).ToArray();
        }
        var target = y.ToDoubleArray();
        int n = target.Length;
        double loss = 0;
        for (int i = 0; i < n; i++) loss += (a[layers][i] - target[i]) * (a[layers][i] - target[i]) / n;
        var delta = new double[layers + 1][];
        delta[layers] = new double[n];
        for (int i = 0; i < n; i++) delta[layers][i] = 2.0 / n * (a[layers][i] - target[i]) * SigmoidPrime(z[layers][i]);
        for (int l = layers - 1; l >= 1; l--)
        {
            var back = MatTVec(weights[l], delta[l + 1]);
            delta[l] = new double[back.Length];
            for (int i = 0; i < back.Length; i++) delta[l][i] = back[i] * SigmoidPrime(z[l][i]);
        }

        // 2. Autograd.
        var output = model.Call(x);
        var autogradLoss = Functional.MseLoss(output, y);
        autogradLoss.Backward();
        double forwardDiff = Math.Abs(autogradLoss.ToDouble() - loss);
        var outputValues = output.ToDoubleArray();
        for (int i = 0; i < n; i++) forwardDiff = Math.Max(forwardDiff, Math.Abs(outputValues[i] - a[layers][i]));

        // 3. Central differences on every weight and bias.
        double Loss()
        {
            using var _ = Autograd.NoGrad();
            return Functional.MseLoss(model.Call(x), y).ToDouble();
        }

        double maxAutograd = 0, maxNumeric = 0;
        var result = new List<BackpropLayer>();
        for (int l = 1; l <= layers; l++)
        {
            var linear = linears[l - 1];
            var gradW = Outer(delta[l], a[l - 1]);
            var gradB = delta[l];
            var autoW = Matrix(linear.Weight.Grad!);
            var autoB = linear.Bias!.Grad!.ToDoubleArray();
            var numW = Numeric(linear.Weight, epsilon, Loss);
            var numB = Numeric(linear.Bias!, epsilon, Loss);
            var numWMatrix = Enumerable.Range(0, gradW.Length).Select(r => numW.AsSpan(r * gradW[0].Length, gradW[0].Length).ToArray()).ToArray();
            maxAutograd = Math.Max(maxAutograd, Math.Max(MaxDiff(gradW, autoW), MaxDiff(gradB, autoB)));
            maxNumeric = Math.Max(maxNumeric, Math.Max(MaxDiff(gradW, numWMatrix), MaxDiff(gradB, numB)));
            result.Add(new BackpropLayer(l, weights[l - 1], biases[l - 1], z[l], a[l], delta[l], gradW, gradB, autoW, autoB, numWMatrix, numB));
        }
        return new BackpropExplanation(sizes, a[0], target, loss, result, maxAutograd, maxNumeric, forwardDiff, epsilon, tolerance);
    }

    /// <summary>σ(v) = 1 / (1 + e^(-v)).</summary>
    public static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>σ'(v) = σ(v) (1 - σ(v)).</summary>
    public static double SigmoidPrime(double v) => Sigmoid(v) * (1 - Sigmoid(v));

    /// <summary>(C(p + ε) - C(p - ε)) / 2ε for every element of <paramref name="parameter"/>, restoring it afterwards.</summary>
    private static double[] Numeric(Tensor parameter, double epsilon, Func<double> loss)
    {
        var values = parameter.ToDoubleArray();
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            Set(parameter, values, i, values[i] + epsilon);
            double plus = loss();
            Set(parameter, values, i, values[i] - epsilon);
            double minus = loss();
            Set(parameter, values, i, values[i]);
            result[i] = (plus - minus) / (2 * epsilon);
        }
        return result;
    }

    private static void Set(Tensor parameter, double[] values, int index, double value)
    {
        var copy = (double[])values.Clone();
        copy[index] = value;
        using var _ = Autograd.NoGrad();
        parameter.CopyFrom(Tensor.From(copy, parameter.ShapeArray));
    }

    private static double[][] Matrix(Tensor t)
    {
        var v = t.ToDoubleArray();
        int rows = t.Size(0), cols = t.Size(1);
        return Enumerable.Range(0, rows).Select(r => v.AsSpan(r * cols, cols).ToArray()).ToArray();
    }

    private static double[] MatVec(double[][] m, double[] v) => m.Select(row => row.Select((w, j) => w * v[j]).Sum()).ToArray();

    private static double[] MatTVec(double[][] m, double[] v)
    {
        var result = new double[m[0].Length];
        for (int i = 0; i < m.Length; i++)
            for (int j = 0; j < result.Length; j++) result[j] += m[i][j] * v[i];
        return result;
    }

    private static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    private static double[][] Outer(double[] a, double[] b) => a.Select(ai => b.Select(bj => ai * bj).ToArray()).ToArray();

    private static double MaxDiff(double[][] a, double[][] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, MaxDiff(a[i], b[i]));
        return m;
    }

    private static double MaxDiff(double[] a, double[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
