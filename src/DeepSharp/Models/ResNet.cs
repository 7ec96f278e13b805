using System.Globalization;
using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>
/// Residual block of ResNet-18/34 (He et al. 2015), torchvision's BasicBlock: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
/// where the shortcut is the identity, or <c>downsample</c> = Sequential(1x1 conv with the block's stride, BN) when
/// the stride or the width changes (keys downsample.0.weight, downsample.1.*).
/// </summary>
public sealed class BasicBlock : Module<Tensor, Tensor>, IOnnxExportable, IInferencePlannable
{
    /// <summary>A block from <paramref name="inPlanes"/> to <paramref name="planes"/> channels; a projection shortcut is added when the stride or the width changes.</summary>
    /// <param name="inPlanes">Input channels.</param>
    /// <param name="planes">Output channels.</param>
    /// <param name="stride">Stride of the first convolution (2 halves H and W).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights; null uses the default generator.</param>
    public BasicBlock(int inPlanes, int planes, int stride = 1, DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false, dtype: dtype, generator: generator));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(planes, dtype: dtype));
        Relu = RegisterModule("relu", new Relu());
        Conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, padding: 1, bias: false, dtype: dtype, generator: generator));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(planes, dtype: dtype));
        if (stride != 1 || inPlanes != planes)
            Downsample = RegisterModule("downsample", new Sequential(
                new Conv2d(inPlanes, planes, 1, stride: stride, bias: false, dtype: dtype, generator: generator),
                new BatchNorm2d(planes, dtype: dtype)));
    }

    /// <summary>First 3x3 convolution (with the block's stride).</summary>
    public Conv2d Conv1 { get; }

    /// <summary>Batch norm after conv1.</summary>
    public BatchNorm2d Bn1 { get; }

    /// <summary>The ReLU used after bn1 and after the sum.</summary>
    public Relu Relu { get; }

    /// <summary>Second 3x3 convolution.</summary>
    public Conv2d Conv2 { get; }

    /// <summary>Batch norm after conv2.</summary>
    public BatchNorm2d Bn2 { get; }

    /// <summary>The projection shortcut, or null for the identity.</summary>
    public Sequential? Downsample { get; }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) for x [N, C, H, W].</summary>
    public override Tensor Forward(Tensor input)
    {
        var residual = Bn2.Call(Conv2.Call(Bn1.CallThenRelu(Conv1.Call(input), Relu)));
        var shortcut = Downsample is null ? input : Downsample.Call(input);
        return Relu.Call(residual + shortcut);
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
    {
        var residual = graph.Module(Bn2, graph.Module(Conv2, graph.Module(Relu, graph.Module(Bn1, graph.Module(Conv1, input)))));
        var shortcut = Downsample is null ? input : graph.Module(Downsample, input);
        return graph.Module(Relu, graph.Add(residual, shortcut));
    }

    PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input)
    {
        var residual = plan.Call(Bn2, plan.Call(Conv2, plan.Call(Relu, plan.Call(Bn1, plan.Call(Conv1, input)))));
        var shortcut = Downsample is null ? input : plan.Call(Downsample, input);
        return plan.Call(Relu, plan.Add(residual, shortcut));
    }
}

/// <summary>
/// ResNet with basic blocks in torchvision's layout: conv1, bn1, relu, maxpool, layer1..layerN (Sequentials of
/// <see cref="BasicBlock"/>, every stage after the first starting with stride 2), avgpool, fc. ResNet-18 has
/// 11,689,512 parameters and ResNet-34 21,797,672 for 3x224x224 and 1000 classes; torchvision's weights load
/// unchanged. Initialisation as torchvision: conv kaiming_normal(fan_out, relu), BN weight 1 and bias 0, fc default.
/// Stem: 7x7 stride-2 conv and 3x3 stride-2 max-pool for images of 64 pixels and more; for small inputs a 3x3
/// stride-1 conv and no max-pool (Identity, keys unchanged), the usual CIFAR adaptation: 28 -> 28, 14, 7, 4.
/// </summary>
public sealed class ResNet : Module<Tensor, Tensor>, IOnnxExportable, IInferencePlannable
{
    private readonly List<Sequential> _stages = [];

    /// <summary>A ResNet with <paramref name="blocks"/>.Count stages of basic blocks.</summary>
    /// <param name="blocks">Basic blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18.</param>
    /// <param name="options">Input and output sizes, dtype and generator; defaults to <see cref="ModelOptions"/>' defaults.</param>
    /// <param name="widths">Channels per stage, e.g. [64, 128, 256, 512] (scaled by ModelOptions.WidthMultiplier); the stem has widths[0].</param>
    /// <param name="smallStem">3x3 stride-1 stem without max-pool; null chooses it for images under 64 pixels.</param>
    /// <param name="zeroInitResidual">Start each block's last BN weight at 0, so every block starts as the identity (torchvision's option).</param>
    public ResNet(IReadOnlyList<int> blocks, IReadOnlyList<int> widths, ModelOptions? options = null, bool? smallStem = null, bool zeroInitResidual = false)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(widths);
        if (blocks.Count == 0 || blocks.Count != widths.Count || blocks.Any(b => b <= 0))
            throw new ArgumentException($"ResNet: expected one positive block count per stage width, got blocks [{string.Join(", ", blocks)}] and widths [{string.Join(", ", widths)}]");
        var o = options ?? new ModelOptions();
        bool small = smallStem ?? ImageModels.IsSmall(o);
        ImageModels.Validate("resnet", o, minImageSize: 1);
        InputChannels = o.InputChannels;
        var (dt, g) = (o.DType, o.Generator);
        int inPlanes = ImageModels.Width(o, widths[0]);
        Conv1 = RegisterModule("conv1", small
            ? new Conv2d(o.InputChannels, inPlanes, 3, padding: 1, bias: false, dtype: dt, generator: g)
            : new Conv2d(o.InputChannels, inPlanes, 7, stride: 2, padding: 3, bias: false, dtype: dt, generator: g));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(inPlanes, dtype: dt));
        Relu = RegisterModule("relu", new Relu());
        MaxPool = RegisterModule<Module<Tensor, Tensor>>("maxpool", small ? new Identity() : new MaxPool2d(3, stride: 2, padding: 1));
        for (int s = 0; s < blocks.Count; s++)
        {
            int planes = ImageModels.Width(o, widths[s]);
            var stage = new Sequential();
            for (int b = 0; b < blocks[s]; b++)
            {
                stage.Add(new BasicBlock(inPlanes, planes, b == 0 && s > 0 ? 2 : 1, dt, g));
                inPlanes = planes;
            }
            _stages.Add(RegisterModule("layer" + (s + 1).ToString(CultureInfo.InvariantCulture), stage));
        }
        AvgPool = RegisterModule("avgpool", new AdaptiveAvgPool2d(1));
        Fc = RegisterModule("fc", new Linear(inPlanes, o.NumClasses, dtype: dt, generator: g));

        if (o.InitWeights) ImageModels.KaimingInit(this, g, linearStd: null);
        if (zeroInitResidual)
            foreach (var m in Modules())
                if (m is BasicBlock block) Init.Zeros(block.Bn2.Weight!);
    }

    /// <summary>ResNet-18: [2, 2, 2, 2] blocks of [64, 128, 256, 512] channels.</summary>
    public static ResNet ResNet18(ModelOptions? options = null) => new([2, 2, 2, 2], [64, 128, 256, 512], options);

    /// <summary>ResNet-34: [3, 4, 6, 3] blocks of [64, 128, 256, 512] channels.</summary>
    public static ResNet ResNet34(ModelOptions? options = null) => new([3, 4, 6, 3], [64, 128, 256, 512], options);

    /// <summary>
    /// ResNet-20 for 32x32 CIFAR-style images (He et al. 2015, section 4.2): 3x3 stem, 3 stages of 3 blocks with
    /// 16/32/64 channels, global average pool, fc (272,474 parameters for 3x32x32 and 10 classes). The paper's
    /// option A (zero-padded identity shortcuts) has no weights and no torchvision counterpart; we use option B,
    /// a 1x1 conv + BN projection where the stage changes, the shortcut torchvision uses, so the blocks are
    /// torchvision BasicBlocks.
    /// </summary>
    public static ResNet ResNet20(ModelOptions? options = null) => new([3, 3, 3], [16, 32, 64], options, smallStem: true);

    /// <summary>Channels C of the input images [N, C, H, W].</summary>
    public int InputChannels { get; }

    /// <summary>The stem convolution: 7x7 stride 2, or 3x3 stride 1 for the small stem.</summary>
    public Conv2d Conv1 { get; }

    /// <summary>Batch norm after conv1.</summary>
    public BatchNorm2d Bn1 { get; }

    /// <summary>ReLU after bn1.</summary>
    public Relu Relu { get; }

    /// <summary>3x3 stride-2 max-pool of the stem (Identity for the small stem).</summary>
    public Module<Tensor, Tensor> MaxPool { get; }

    /// <summary>layer1, layer2, ...</summary>
    public IReadOnlyList<Sequential> Stages => _stages;

    /// <summary>Global average pool to 1x1.</summary>
    public AdaptiveAvgPool2d AvgPool { get; }

    /// <summary>The classifier, Linear(last width, classes).</summary>
    public Linear Fc { get; }

    /// <summary>Class logits [N, classes] for images [N, C, H, W].</summary>
    /// <exception cref="ArgumentException">The input is not [N, <see cref="InputChannels"/>, H, W].</exception>
    public override Tensor Forward(Tensor input)
    {
        ImageModels.CheckInput("ResNet", input, InputChannels);
        var x = MaxPool.Call(Relu.Call(Bn1.Call(Conv1.Call(input))));
        foreach (var stage in _stages) x = stage.Call(x);
        return Fc.Call(AvgPool.Call(x).Flatten(1));
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
    {
        var x = graph.Module(MaxPool, graph.Module(Relu, graph.Module(Bn1, graph.Module(Conv1, input))));
        foreach (var stage in _stages) x = graph.Module(stage, x);
        return graph.Module(Fc, graph.Flatten(graph.Module(AvgPool, x), 1));
    }

    PlanValue IInferencePlannable.Plan(PlanBuilder plan, PlanValue input)
    {
        var x = plan.Call(MaxPool, plan.Call(Relu, plan.Call(Bn1, plan.Call(Conv1, input))));
        foreach (var stage in _stages) x = plan.Call(stage, x);
        return plan.Call(Fc, plan.Flatten(plan.Call(AvgPool, x), 1));
    }
}
