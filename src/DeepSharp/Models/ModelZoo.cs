using DeepSharp.NN;

namespace DeepSharp.Models;

/// <summary>Settings shared by the zoo's models; each model reads the ones it needs.</summary>
/// <param name="InputFeatures">Features per sample after flattening (784 for 28x28 images).</param>
/// <param name="NumClasses">Output classes of classifiers.</param>
/// <param name="PositiveClass">For "logreg": the class trained as 1 against all others (one-vs-rest).</param>
/// <param name="Generator">Random source for weight initialisation and dropout (Generator.Default when null).</param>
public sealed record ModelOptions(int InputFeatures = 784, int NumClasses = 10, int PositiveClass = 0,
    DType DType = DType.Float32, Generator? Generator = null);

/// <summary>
/// Models by name, for the CLI and experiments. An explicit switch (no reflection, AOT-safe): to add
/// a model, add its name to <see cref="Names"/> and a case to <see cref="Create"/>. Every model takes
/// images [N, 1, 28, 28] or flat [N, 784] and returns logits.
/// </summary>
public static class ModelZoo
{
    /// <summary>The available names with a one-line description each.</summary>
    public static IReadOnlyDictionary<string, string> Names { get; } = new Dictionary<string, string>
    {
        ["mlp"] = "multi-layer perceptron 784-256-128-10 with ReLU (keys 0.weight .. 4.bias, as nn.Sequential)",
        ["logreg"] = "binary logistic regression Linear(784, 1), one-vs-rest on ModelOptions.PositiveClass (BCEWithLogitsLoss)",
        ["softmax"] = "softmax regression: Flatten + Linear(784, 10) (CrossEntropyLoss)",
    };

    public static Module<Tensor, Tensor> Create(string name, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var o = options ?? new ModelOptions();
        return name switch
        {
            "mlp" => new Mlp(o.InputFeatures, [256, 128], o.NumClasses, dtype: o.DType, generator: o.Generator),
            "logreg" => new LogisticRegression(o.InputFeatures, o.PositiveClass, o.DType, o.Generator),
            "softmax" => new Sequential(new Flatten(), new Linear(o.InputFeatures, o.NumClasses, dtype: o.DType, generator: o.Generator)),
            _ => throw new ArgumentException($"ModelZoo: unknown model '{name}'; available: {string.Join(", ", Names.Keys)}"),
        };
    }
}
