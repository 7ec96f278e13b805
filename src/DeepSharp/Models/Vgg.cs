using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>
/// VGG (Simonyan and Zisserman 2014) in torchvision's layout: features (3x3 convs, optional batch norm,
/// max-pools), avgpool, classifier; VGG-16 has 138,357,544 parameters for 3x224x224 and 1000 classes.
/// torchvision's initialisation: conv kaiming_normal(fan_out, relu) with zero bias, BN 1/0, linear N(0, 0.01)
/// with zero bias. Small inputs (under 64 pixels) keep every layer and index (so the keys are the same) but
/// the last two max-pools become Identity (28 -> 14 -> 7 -> 3, blocks 4 and 5 run at 3x3), the average
/// pool is global (1x1) and the classifier has 512 hidden units instead of 4096.
/// </summary>
public sealed class Vgg : Module<Tensor, Tensor>, IOnnxExportable, IInferencePlannable
{
    /// <summary>Marks a 2x2 max-pool in a configuration; other entries are the output channels of a 3x3 conv.</summary>
    public const int M = 0;

    /// <summary>VGG-11 (configuration "A").</summary>
    public static IReadOnlyList<int> Vgg11Config { get; } = [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];

    /// <summary>VGG-13 (configuration "B").</summary>
    public static IReadOnlyList<int> Vgg13Config { get; } = [64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];

    /// <summary>VGG-16 (configuration "D").</summary>
    public static IReadOnlyList<int> Vgg16Config { get; } = [64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M];

    /// <summary>VGG-19 (configuration "E").</summary>
    public static IReadOnlyList<int> Vgg19Config { get; } = [64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M];

    /// <summary>Builds a VGG network from a layer configuration.</summary>
    /// <param name="config">Output channels of each 3x3 conv, with <see cref="M"/> for a max-pool (e.g. <see cref="Vgg16Config"/>).</param>
    /// <param name="batchNorm">Put BatchNorm2d after every convolution (torchvision's vgg*_bn).</param>
    /// <param name="options">Input and output sizes, dtype and generator; defaults to <see cref="ModelOptions"/>' defaults.</param>
    /// <param name="dropout">Dropout probability in the classifier (default 0.5).</param>
    /// <exception cref="ArgumentException">The options are invalid or the image is too small for the max-pools.</exception>
    public Vgg(IReadOnlyList<int> config, bool batchNorm, ModelOptions? options = null, double dropout = 0.5)
    {
        ArgumentNullException.ThrowIfNull(config);
        var o = options ?? new ModelOptions();
        bool small = ImageModels.IsSmall(o);
        int pools = config.Count(v => v == M);
        ImageModels.Validate("vgg", o, minImageSize: 1 << Math.Max(small ? pools - 2 : pools, 0));
        InputChannels = o.InputChannels;
        var (dt, g) = (o.DType, o.Generator);
        var features = new Sequential();
        int channels = o.InputChannels, poolsSeen = 0;
        foreach (int v in config)
        {
            if (v == M)
            {
                // Small inputs: the last two pools would shrink 3x3 maps to nothing.
                bool keep = !small || ++poolsSeen <= pools - 2;
                features.Add(keep ? new MaxPool2d(2, stride: 2) : new Identity());
                continue;
            }
            int width = ImageModels.Width(o, v);
            features.Add(new Conv2d(channels, width, 3, padding: 1, dtype: dt, generator: g));
            if (batchNorm) features.Add(new BatchNorm2d(width, dtype: dt));
            features.Add(new Relu());
            channels = width;
        }
        int pooled = small ? 1 : 7, hidden = ImageModels.Width(o, small ? 512 : 4096);
        Features = RegisterModule("features", features);
        AvgPool = RegisterModule("avgpool", new AdaptiveAvgPool2d(pooled));
        Classifier = RegisterModule("classifier", new Sequential(
            new Linear(channels * pooled * pooled, hidden, dtype: dt, generator: g),
            new Relu(),
            ImageModels.Dropout(dropout, o),
            new Linear(hidden, hidden, dtype: dt, generator: g),
            new Relu(),
            ImageModels.Dropout(dropout, o),
            new Linear(hidden, o.NumClasses, dtype: dt, generator: g)));
        if (o.InitWeights) ImageModels.KaimingInit(this, g, linearStd: 0.01);
    }

    /// <summary>Channels C of the input images [N, C, H, W].</summary>
    public int InputChannels { get; }

    /// <summary>The convolution, (batch norm,) ReLU and max-pool stack (torchvision's <c>features</c>).</summary>
    public Sequential Features { get; }

    /// <summary>Adaptive average pool to 7x7 (1x1 for small inputs).</summary>
    public AdaptiveAvgPool2d AvgPool { get; }

    /// <summary>Dropout, hidden linear layers and the output layer (torchvision's <c>classifier</c>).</summary>
    public Sequential Classifier { get; }

    /// <summary>Class logits [N, classes] for images [N, C, H, W].</summary>
    /// <exception cref="ArgumentException">The input is not [N, <see cref="InputChannels"/>, H, W].</exception>
    public override Tensor Forward(Tensor input)
    {
        ImageModels.CheckInput("VGG", input, InputChannels);
        return Classifier.Call(AvgPool.Call(Features.Call(input)).Flatten(1));
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input) =>
        graph.Module(Classifier, graph.Flatten(graph.Module(AvgPool, graph.Module(Features, input)), 1));

    PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input) =>
        plan.Call(Classifier, plan.Flatten(plan.Call(AvgPool, plan.Call(Features, input)), 1));
}
