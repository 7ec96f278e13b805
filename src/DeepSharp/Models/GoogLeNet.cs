using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>Conv (no bias) + BatchNorm2d(eps = 0.001) + ReLU, torchvision's BasicConv2d (keys conv.weight, bn.*).</summary>
public sealed class BasicConv2d : Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Conv2d(<paramref name="inChannels"/>, <paramref name="outChannels"/>, <paramref name="kernelSize"/>) without bias, then BatchNorm2d and ReLU.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel size.</param>
    /// <param name="stride">Stride (default 1).</param>
    /// <param name="padding">Zero padding (default none).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights; null uses the default generator.</param>
    public BasicConv2d(int inChannels, int outChannels, Size2d kernelSize, Size2d? stride = null, ConvPadding padding = default,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        Conv = RegisterModule("conv", new Conv2d(inChannels, outChannels, kernelSize, stride, padding, bias: false, dtype: dtype, generator: generator));
        Bn = RegisterModule("bn", new BatchNorm2d(outChannels, eps: 0.001, dtype: dtype));
    }

    /// <summary>The convolution (keys <c>conv.*</c>).</summary>
    public Conv2d Conv { get; }

    /// <summary>The batch norm (keys <c>bn.*</c>).</summary>
    public BatchNorm2d Bn { get; }

    /// <summary>relu(bn(conv(x))) for x [N, C, H, W].</summary>
    public override Tensor Forward(Tensor input) => Bn.Call(Conv.Call(input)).Relu();

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input) =>
        graph.Relu(graph.Module(Bn, graph.Module(Conv, input)));
}

/// <summary>
/// Inception module (GoogLeNet, Szegedy et al. 2014), torchvision's layout: four parallel branches
/// concatenated along channels: 1x1; 1x1 then 3x3; 1x1 then 3x3 (torchvision's known substitute for the
/// paper's 5x5, kept so its weights load); 3x3 max-pool (stride 1, ceil mode) then 1x1.
/// </summary>
public sealed class Inception : Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>An Inception module with the given branch widths (torchvision's argument order).</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="ch1x1">Output channels of the 1x1 branch.</param>
    /// <param name="ch3x3Reduce">1x1 reduction before the 3x3 branch.</param>
    /// <param name="ch3x3">Output channels of the 3x3 branch.</param>
    /// <param name="ch5x5Reduce">1x1 reduction before the "5x5" branch.</param>
    /// <param name="ch5x5">Output channels of the "5x5" branch (a 3x3 conv, as torchvision).</param>
    /// <param name="poolProj">Output channels of the 1x1 after the max-pool.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights; null uses the default generator.</param>
    public Inception(int inChannels, int ch1x1, int ch3x3Reduce, int ch3x3, int ch5x5Reduce, int ch5x5, int poolProj,
        DType dtype = DType.Float32, Generator? generator = null)
    {
        Branch1 = RegisterModule("branch1", new BasicConv2d(inChannels, ch1x1, 1, dtype: dtype, generator: generator));
        Branch2 = RegisterModule("branch2", new Sequential(
            new BasicConv2d(inChannels, ch3x3Reduce, 1, dtype: dtype, generator: generator),
            new BasicConv2d(ch3x3Reduce, ch3x3, 3, padding: 1, dtype: dtype, generator: generator)));
        Branch3 = RegisterModule("branch3", new Sequential(
            new BasicConv2d(inChannels, ch5x5Reduce, 1, dtype: dtype, generator: generator),
            new BasicConv2d(ch5x5Reduce, ch5x5, 3, padding: 1, dtype: dtype, generator: generator)));
        Branch4 = RegisterModule("branch4", new Sequential(
            new MaxPool2d(3, stride: 1, padding: 1, ceilMode: true),
            new BasicConv2d(inChannels, poolProj, 1, dtype: dtype, generator: generator)));
        OutChannels = ch1x1 + ch3x3 + ch5x5 + poolProj;
    }

    /// <summary>Channels of the output: the sum of the four branches' widths.</summary>
    public int OutChannels { get; }

    /// <summary>The 1x1 branch.</summary>
    public BasicConv2d Branch1 { get; }

    /// <summary>The 1x1 then 3x3 branch.</summary>
    public Sequential Branch2 { get; }

    /// <summary>The 1x1 then second 3x3 branch (the paper's 5x5).</summary>
    public Sequential Branch3 { get; }

    /// <summary>The 3x3 max-pool then 1x1 branch.</summary>
    public Sequential Branch4 { get; }

    /// <summary>The four branches concatenated along channels: [N, OutChannels, H, W] for [N, C, H, W].</summary>
    public override Tensor Forward(Tensor input) =>
        Tensor.Cat([Branch1.Call(input), Branch2.Call(input), Branch3.Call(input), Branch4.Call(input)], 1);

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input) =>
        graph.Concat([graph.Module(Branch1, input), graph.Module(Branch2, input), graph.Module(Branch3, input), graph.Module(Branch4, input)], 1);
}

/// <summary>
/// GoogLeNet (Inception v1) in torchvision's layout without the auxiliary classifiers (aux_logits=False):
/// 6,624,904 parameters for 3x224x224 and 1000 classes, keys conv1.conv.weight, inception3a.branch1.bn.running_mean,
/// ..., fc.weight. Conv and linear weights ~ trunc_normal(0, 0.01, [-2, 2]) as torchvision (the fc bias keeps
/// PyTorch's default). torchvision's pretrained checkpoint also holds aux1/aux2: load it with strict: false.
/// Small inputs (under 64 pixels) start with a 3x3 stride-1 conv1 and replace maxpool1 with Identity
/// (keys unchanged): 28 -> 14 -> 7 -> 4 after maxpool2..4.
/// </summary>
public sealed class GoogLeNet : Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Builds GoogLeNet for <paramref name="options"/> (input channels, image size, classes, width).</summary>
    /// <param name="options">Input and output sizes, dtype and generator; defaults to <see cref="ModelOptions"/>' defaults.</param>
    /// <param name="dropout">Dropout probability before the final linear layer (default 0.2).</param>
    /// <param name="transformInput">See <see cref="TransformInput"/>; needs 3 input channels.</param>
    /// <exception cref="ArgumentException">The options are invalid, the image is too small, or transformInput is set without 3 channels.</exception>
    public GoogLeNet(ModelOptions? options = null, double dropout = 0.2, bool transformInput = false)
    {
        var o = options ?? new ModelOptions();
        bool small = ImageModels.IsSmall(o);
        ImageModels.Validate("googlenet", o, minImageSize: small ? 8 : 15);
        if (transformInput && o.InputChannels != 3) throw new ArgumentException($"googlenet: transformInput needs 3 input channels, got {o.InputChannels}");
        InputChannels = o.InputChannels;
        TransformInput = transformInput;
        var (dt, g) = (o.DType, o.Generator);
        int W(int c) => ImageModels.Width(o, c);
        Inception Block(int inCh, int a, int b, int c, int d, int e, int f) =>
            new(inCh, W(a), W(b), W(c), W(d), W(e), W(f), dt, g);

        Conv1 = RegisterModule("conv1", small
            ? new BasicConv2d(o.InputChannels, W(64), 3, padding: 1, dtype: dt, generator: g)
            : new BasicConv2d(o.InputChannels, W(64), 7, stride: 2, padding: 3, dtype: dt, generator: g));
        MaxPool1 = RegisterModule<Module<Tensor, Tensor>>("maxpool1", small ? new Identity() : new MaxPool2d(3, stride: 2, ceilMode: true));
        Conv2 = RegisterModule("conv2", new BasicConv2d(W(64), W(64), 1, dtype: dt, generator: g));
        Conv3 = RegisterModule("conv3", new BasicConv2d(W(64), W(192), 3, padding: 1, dtype: dt, generator: g));
        MaxPool2 = RegisterModule("maxpool2", new MaxPool2d(3, stride: 2, ceilMode: true));
        Inception3a = RegisterModule("inception3a", Block(W(192), 64, 96, 128, 16, 32, 32));
        Inception3b = RegisterModule("inception3b", Block(Inception3a.OutChannels, 128, 128, 192, 32, 96, 64));
        MaxPool3 = RegisterModule("maxpool3", new MaxPool2d(3, stride: 2, ceilMode: true));
        Inception4a = RegisterModule("inception4a", Block(Inception3b.OutChannels, 192, 96, 208, 16, 48, 64));
        Inception4b = RegisterModule("inception4b", Block(Inception4a.OutChannels, 160, 112, 224, 24, 64, 64));
        Inception4c = RegisterModule("inception4c", Block(Inception4b.OutChannels, 128, 128, 256, 24, 64, 64));
        Inception4d = RegisterModule("inception4d", Block(Inception4c.OutChannels, 112, 144, 288, 32, 64, 64));
        Inception4e = RegisterModule("inception4e", Block(Inception4d.OutChannels, 256, 160, 320, 32, 128, 128));
        MaxPool4 = RegisterModule("maxpool4", new MaxPool2d(2, stride: 2, ceilMode: true));
        Inception5a = RegisterModule("inception5a", Block(Inception4e.OutChannels, 256, 160, 320, 32, 128, 128));
        Inception5b = RegisterModule("inception5b", Block(Inception5a.OutChannels, 384, 192, 384, 48, 128, 128));
        AvgPool = RegisterModule("avgpool", new AdaptiveAvgPool2d(1));
        Dropout = RegisterModule("dropout", ImageModels.Dropout(dropout, o));
        Fc = RegisterModule("fc", new Linear(Inception5b.OutChannels, o.NumClasses, dtype: dt, generator: g));

        if (o.InitWeights) TruncNormalInit(g);
    }

    /// <summary>Channels C of the input images [N, C, H, W].</summary>
    public int InputChannels { get; }

    /// <summary>Re-normalises ImageNet-normalised input to the [-1, 1] scaling the original weights were trained with (torchvision's transform_input).</summary>
    public bool TransformInput { get; }

    /// <summary>The stem convolution: 7x7 stride 2 (3x3 stride 1 for small inputs).</summary>
    public BasicConv2d Conv1 { get; }

    /// <summary>3x3 stride-2 max-pool after conv1 (Identity for small inputs).</summary>
    public Module<Tensor, Tensor> MaxPool1 { get; }

    /// <summary>1x1 convolution of the stem.</summary>
    public BasicConv2d Conv2 { get; }

    /// <summary>3x3 convolution of the stem (64 to 192 channels at width 1).</summary>
    public BasicConv2d Conv3 { get; }

    /// <summary>Max-pool before inception3a.</summary>
    public MaxPool2d MaxPool2 { get; }

    /// <summary>Inception block 3a.</summary>
    public Inception Inception3a { get; }

    /// <summary>Inception block 3b.</summary>
    public Inception Inception3b { get; }

    /// <summary>Max-pool before inception4a.</summary>
    public MaxPool2d MaxPool3 { get; }

    /// <summary>Inception block 4a.</summary>
    public Inception Inception4a { get; }

    /// <summary>Inception block 4b.</summary>
    public Inception Inception4b { get; }

    /// <summary>Inception block 4c.</summary>
    public Inception Inception4c { get; }

    /// <summary>Inception block 4d.</summary>
    public Inception Inception4d { get; }

    /// <summary>Inception block 4e.</summary>
    public Inception Inception4e { get; }

    /// <summary>Max-pool before inception5a.</summary>
    public MaxPool2d MaxPool4 { get; }

    /// <summary>Inception block 5a.</summary>
    public Inception Inception5a { get; }

    /// <summary>Inception block 5b.</summary>
    public Inception Inception5b { get; }

    /// <summary>Global average pool to 1x1.</summary>
    public AdaptiveAvgPool2d AvgPool { get; }

    /// <summary>Dropout before the classifier.</summary>
    public Dropout Dropout { get; }

    /// <summary>The classifier, Linear(1024, classes) at width 1.</summary>
    public Linear Fc { get; }

    /// <summary>Class logits [N, classes] for images [N, C, H, W].</summary>
    /// <exception cref="ArgumentException">The input is not [N, <see cref="InputChannels"/>, H, W].</exception>
    public override Tensor Forward(Tensor input)
    {
        ImageModels.CheckInput("GoogLeNet", input, InputChannels);
        var x = TransformInput ? Transform(input) : input;
        x = MaxPool2.Call(Conv3.Call(Conv2.Call(MaxPool1.Call(Conv1.Call(x)))));
        x = MaxPool3.Call(Inception3b.Call(Inception3a.Call(x)));
        x = Inception4a.Call(x);
        x = Inception4b.Call(x);
        x = Inception4c.Call(x);
        x = Inception4d.Call(x);
        x = MaxPool4.Call(Inception4e.Call(x));
        x = Inception5b.Call(Inception5a.Call(x));
        return Fc.Call(Dropout.Call(AvgPool.Call(x).Flatten(1)));
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
    {
        if (TransformInput) throw new NotSupportedException("ONNX export: GoogLeNet with transformInput is not supported; normalise the input before the model instead");
        Module<Tensor, Tensor>[] layers = [Conv1, MaxPool1, Conv2, Conv3, MaxPool2, Inception3a, Inception3b, MaxPool3, Inception4a, Inception4b,
            Inception4c, Inception4d, Inception4e, MaxPool4, Inception5a, Inception5b, AvgPool];
        var x = layers.Aggregate(input, (v, layer) => graph.Module(layer, v));
        return graph.Module(Fc, graph.Module(Dropout, graph.Flatten(x, 1)));
    }

    private static Tensor Transform(Tensor x)
    {
        var c0 = x.Narrow(1, 0, 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5;
        var c1 = x.Narrow(1, 1, 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5;
        var c2 = x.Narrow(1, 2, 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5;
        return Tensor.Cat([c0, c1, c2], 1);
    }

    /// <summary>torchvision's initialisation: conv and linear weights ~ trunc_normal(0, 0.01, [-2, 2]); BN weight 1, bias 0.</summary>
    private void TruncNormalInit(Generator? generator)
    {
        foreach (var m in Modules())
        {
            if (m is Conv2d conv) InitExtra.TruncNormal(conv.Weight, 0, 0.01, -2, 2, generator);
            else if (m is Linear linear) InitExtra.TruncNormal(linear.Weight, 0, 0.01, -2, 2, generator);
        }
    }
}
