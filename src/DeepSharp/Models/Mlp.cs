using System.Globalization;
using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>
/// Multi-layer perceptron: Linear, activation, ..., Linear. Children are named "0", "1", ... like
/// PyTorch's nn.Sequential, so the default network (784-256-128-10 with ReLU) has exactly the state
/// dict keys of <c>nn.Sequential(Linear(784,256), Relu(), Linear(256,128), Relu(), Linear(128,10))</c>:
/// 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias. Inputs of rank &gt; 2 ([N, 1, 28, 28])
/// are flattened to [N, features] first. Outputs are logits (use CrossEntropyLoss).
/// </summary>
public sealed class Mlp : Module<Tensor, Tensor>, IOnnxExportable, IInferencePlannable
{
    private readonly List<Module<Tensor, Tensor>> _layers = [];

    /// <summary>Builds Linear, activation, ..., Linear.</summary>
    /// <param name="inputFeatures">Features per example after flattening (default 784).</param>
    /// <param name="hidden">Width of each hidden layer (default [256, 128]).</param>
    /// <param name="outputs">Output logits per example (default 10).</param>
    /// <param name="activation">Creates the activation after each hidden layer (default ReLU).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights; null uses the default generator.</param>
    public Mlp(int inputFeatures = 784, int[]? hidden = null, int outputs = 10, Func<Module<Tensor, Tensor>>? activation = null,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        hidden ??= [256, 128];
        activation ??= static () => new Relu();
        int width = inputFeatures;
        foreach (int h in hidden)
        {
            Add(new Linear(width, h, dtype: dtype, generator: generator));
            Add(activation());
            width = h;
        }
        Add(new Linear(width, outputs, dtype: dtype, generator: generator));
        InputFeatures = inputFeatures;
        Outputs = outputs;
    }

    /// <summary>Features per example the first layer expects.</summary>
    public int InputFeatures { get; }

    /// <summary>Logits per example the last layer produces.</summary>
    public int Outputs { get; }

    /// <summary>The layers in order (Linear and activation modules).</summary>
    public IReadOnlyList<Module<Tensor, Tensor>> Layers => _layers;

    private void Add(Module<Tensor, Tensor> layer) =>
        _layers.Add(RegisterModule(_layers.Count.ToString(CultureInfo.InvariantCulture), layer));

    /// <summary>Logits [N, outputs] for inputs [N, features] (inputs of higher rank are flattened from dim 1).</summary>
    public override Tensor Forward(Tensor input)
    {
        var x = input.Rank > 2 ? input.Flatten(1) : input;
        foreach (var layer in _layers) x = layer.Call(x);
        return x;
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
    {
        var x = input.Rank > 2 ? graph.Flatten(input, 1) : input;
        foreach (var layer in _layers) x = graph.Module(layer, x);
        return x;
    }

    PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input)
    {
        var x = input.Rank > 2 ? plan.Flatten(input, 1) : input;
        foreach (var layer in _layers) x = plan.Call(layer, x);
        return x;
    }
}
