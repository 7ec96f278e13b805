using DeepSharp.NN;

namespace DeepSharp.Models;

/// <summary>
/// What the image classifiers of the zoo share: the choice between the canonical (ImageNet-sized) layout
/// and the small-input layout, width scaling, input checks and torchvision's weight initialisations.
/// </summary>
internal static class ImageModels
{
    /// <summary>
    /// Images smaller than this use the small-input layout (no early downsampling), which keeps 28x28
    /// (Fashion-MNIST) and 32x32 (CIFAR) inputs from shrinking to nothing; larger images use torchvision's layout.
    /// </summary>
    public const int SmallInputLimit = ModelOptions.SmallImageLimit;

    public static bool IsSmall(ModelOptions o) => o.ImageSize < SmallInputLimit;

    /// <summary>Channel count scaled by ModelOptions.WidthMultiplier, rounded half up, at least 1.</summary>
    public static int Width(ModelOptions o, int channels) => Math.Max(1, (int)(channels * o.WidthMultiplier + 0.5));

    public static void Validate(string model, ModelOptions o, int minImageSize)
    {
        if (o.InputChannels <= 0 || o.NumClasses <= 0)
            throw new ArgumentException($"{model}: InputChannels ({o.InputChannels}) and NumClasses ({o.NumClasses}) must be positive");
        if (!(o.WidthMultiplier > 0)) throw new ArgumentException($"{model}: WidthMultiplier must be positive, got {o.WidthMultiplier}");
        if (o.ImageSize < minImageSize)
            throw new ArgumentException($"{model}: ImageSize {o.ImageSize} is too small; this model needs images of at least {minImageSize}x{minImageSize}");
    }

    /// <summary>Throws unless <paramref name="input"/> is [N, channels, H, W].</summary>
    public static void CheckInput(string model, Tensor input, int channels)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.ShapeArray[1] != channels)
            throw new ArgumentException($"{model}: expected images [N, {channels}, H, W], got {Shapes.Format(input.ShapeArray)}");
    }

    /// <summary>
    /// torchvision's ResNet/VGG initialisation: conv weights kaiming_normal(fan_out, relu) with bias 0,
    /// batch-norm weight 1 and bias 0; linear layers N(0, <paramref name="linearStd"/>) with bias 0 when
    /// given, else left at PyTorch's default (ResNet keeps its fc default).
    /// </summary>
    public static void KaimingInit(Module model, Generator? generator, double? linearStd)
    {
        foreach (var m in model.Modules())
        {
            switch (m)
            {
                case Conv2d conv:
                    Init.KaimingNormal(conv.Weight, mode: FanMode.FanOut, nonlinearity: Nonlinearity.Relu, generator: generator);
                    if (conv.Bias is not null) Init.Zeros(conv.Bias);
                    break;
                case BatchNormBase bn:
                    bn.ResetParameters();
                    break;
                case Linear linear when linearStd is { } std:
                    Init.Normal(linear.Weight, 0, std, generator);
                    if (linear.Bias is not null) Init.Zeros(linear.Bias);
                    break;
            }
        }
    }

    /// <summary>A dropout layer drawing its masks from the options' generator, so a seeded model trains reproducibly.</summary>
    public static Dropout Dropout(double p, ModelOptions o) => new(p, o.Generator);
}
