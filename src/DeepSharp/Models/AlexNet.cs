using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>
/// AlexNet in torchvision's layout (features, avgpool, classifier; 61,100,840 parameters for 3x224x224
/// and 1000 classes), so torchvision's weights load unchanged, with PyTorch's default initialisation
/// as torchvision. Small inputs (under 64 pixels, e.g. 1x28x28) keep the layer list and names but start
/// with a 3x3 stride-1 convolution instead of 11x11 stride 4, pool to 2x2 instead of 6x6 and use 1024
/// hidden units instead of 4096: 28 -> 13 -> 6 -> 2 after the three max-pools.
/// </summary>
public sealed class AlexNet : Module<Tensor, Tensor>, IOnnxExportable, IInferencePlannable
{
    /// <summary>Builds AlexNet for <paramref name="options"/> (input channels, image size, classes, width).</summary>
    /// <param name="options">Input and output sizes, dtype and generator; defaults to <see cref="ModelOptions"/>' defaults.</param>
    /// <param name="dropout">Dropout probability before the two hidden linear layers (default 0.5, as torchvision).</param>
    /// <exception cref="ArgumentException">The options are invalid or the image is too small for the network.</exception>
    public AlexNet(ModelOptions? options = null, double dropout = 0.5)
    {
        var o = options ?? new ModelOptions();
        bool small = ImageModels.IsSmall(o);
        ImageModels.Validate("alexnet", o, minImageSize: small ? 15 : 63);
        InputChannels = o.InputChannels;
        var (dt, g) = (o.DType, o.Generator);
        int W(int c) => ImageModels.Width(o, c);
        int c1 = W(64), c2 = W(192), c3 = W(384), c4 = W(256), hidden = W(small ? 1024 : 4096);
        int pooled = small ? 2 : 6;
        Features = RegisterModule("features", new Sequential(
            small ? new Conv2d(o.InputChannels, c1, 3, padding: 1, dtype: dt, generator: g)
                  : new Conv2d(o.InputChannels, c1, 11, stride: 4, padding: 2, dtype: dt, generator: g),
            new Relu(),
            new MaxPool2d(3, stride: 2),
            new Conv2d(c1, c2, 5, padding: 2, dtype: dt, generator: g),
            new Relu(),
            new MaxPool2d(3, stride: 2),
            new Conv2d(c2, c3, 3, padding: 1, dtype: dt, generator: g),
            new Relu(),
            new Conv2d(c3, c4, 3, padding: 1, dtype: dt, generator: g),
            new Relu(),
            new Conv2d(c4, c4, 3, padding: 1, dtype: dt, generator: g),
            new Relu(),
            new MaxPool2d(3, stride: 2)));
        AvgPool = RegisterModule("avgpool", new AdaptiveAvgPool2d(pooled));
        Classifier = RegisterModule("classifier", new Sequential(
            ImageModels.Dropout(dropout, o),
            new Linear(c4 * pooled * pooled, hidden, dtype: dt, generator: g),
            new Relu(),
            ImageModels.Dropout(dropout, o),
            new Linear(hidden, hidden, dtype: dt, generator: g),
            new Relu(),
            new Linear(hidden, o.NumClasses, dtype: dt, generator: g)));
    }

    /// <summary>Channels C of the input images [N, C, H, W].</summary>
    public int InputChannels { get; }

    /// <summary>The convolution and max-pool stack (torchvision's <c>features</c>).</summary>
    public Sequential Features { get; }

    /// <summary>Adaptive average pool to 6x6 (2x2 for small inputs).</summary>
    public AdaptiveAvgPool2d AvgPool { get; }

    /// <summary>Dropout, the two hidden linear layers and the output layer (torchvision's <c>classifier</c>).</summary>
    public Sequential Classifier { get; }

    /// <summary>Class logits [N, classes] for images [N, C, H, W].</summary>
    /// <exception cref="ArgumentException">The input is not [N, <see cref="InputChannels"/>, H, W].</exception>
    public override Tensor Forward(Tensor input)
    {
        ImageModels.CheckInput("AlexNet", input, InputChannels);
        return Classifier.Call(AvgPool.Call(Features.Call(input)).Flatten(1));
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input) =>
        graph.Module(Classifier, graph.Flatten(graph.Module(AvgPool, graph.Module(Features, input)), 1));

    PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input) =>
        plan.Call(Classifier, plan.Flatten(plan.Call(AvgPool, plan.Call(Features, input)), 1));
}
