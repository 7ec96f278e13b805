using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>
/// Binary logistic regression: p(y = 1 | x) = sigmoid(w.x + b). Forward returns the logit [N, 1]
/// (train with BCEWithLogitsLoss, which applies the sigmoid stably; PredictProbability applies it).
/// On a multi-class dataset such as Fashion-MNIST it is trained one-vs-rest: the target is 1 for
/// images of <see cref="PositiveClass"/> and 0 for every other class (see <see cref="Targets"/>).
/// Inputs of rank &gt; 2 ([N, 1, 28, 28]) are flattened first. State dict: linear.weight, linear.bias.
/// </summary>
public sealed class LogisticRegression : Module<Tensor, Tensor>, IOnnxExportable, IInferencePlannable
{
    /// <summary>A single Linear(<paramref name="inputFeatures"/>, 1) giving one logit per example.</summary>
    /// <param name="inputFeatures">Features per example after flattening (default 784 for 28x28 images).</param>
    /// <param name="positiveClass">The class whose label becomes target 1.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights; null uses the default generator.</param>
    /// <exception cref="ArgumentException"><paramref name="positiveClass"/> is negative.</exception>
    public LogisticRegression(int inputFeatures = 784, int positiveClass = 0, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (positiveClass < 0) throw new ArgumentException($"LogisticRegression: positive class must be a non-negative class index, got {positiveClass}");
        PositiveClass = positiveClass;
        Linear = RegisterModule("linear", new Linear(inputFeatures, 1, dtype: dtype, generator: generator));
    }

    /// <summary>The class whose label becomes target 1 (all others become 0).</summary>
    public int PositiveClass { get; }

    /// <summary>The linear layer (keys <c>linear.weight</c>, <c>linear.bias</c>).</summary>
    public Linear Linear { get; }

    /// <summary>Logits [N, 1] for inputs [N, features] (inputs of higher rank are flattened from dim 1).</summary>
    public override Tensor Forward(Tensor input) => Linear.Call(input.Rank > 2 ? input.Flatten(1) : input);

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input) =>
        graph.Module(Linear, input.Rank > 2 ? graph.Flatten(input, 1) : input);

    PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input) => plan.Call(Linear, input.Rank > 2 ? plan.Flatten(input, 1) : input);

    /// <summary>sigmoid(logit): the probability of the positive class, [N, 1].</summary>
    public Tensor PredictProbability(Tensor input) => Call(input).Sigmoid();

    /// <summary>One-vs-rest targets for BCEWithLogitsLoss: int64 class labels [N] to float [N, 1], 1 where label == PositiveClass.</summary>
    public Tensor Targets(Tensor labels, DType dtype = DType.Float32) => OneVsRest(labels, PositiveClass, dtype);

    /// <summary>int64 labels [N] to float [N, 1] binary targets: 1 where label == <paramref name="positiveClass"/>, else 0.</summary>
    public static Tensor OneVsRest(Tensor labels, int positiveClass, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.DType != DType.Int64 || labels.Rank != 1)
            throw new ArgumentException($"OneVsRest: expected int64 labels of shape [N], got {labels.DType.Name()} {Shapes.Format(labels.ShapeArray)}");
        return labels.Eq(positiveClass).To(dtype).Unsqueeze(1);
    }
}
