using DeepSharp.NN;

namespace DeepSharp.Models;

/// <summary>Settings shared by the zoo's models; each model reads the ones it needs.</summary>
/// <param name="InputFeatures">Features per sample after flattening (784 for 28x28 images), for the MLP and regressions.</param>
/// <param name="NumClasses">Output classes of classifiers.</param>
/// <param name="PositiveClass">For "logreg": the class trained as 1 against all others (one-vs-rest).</param>
/// <param name="DType">Parameter dtype (default float32).</param>
/// <param name="Generator">Random source for weight initialisation and dropout (Generator.Default when null).</param>
/// <param name="InputChannels">Channels of the images the conv nets take (1 for Fashion-MNIST, 3 for RGB).</param>
/// <param name="ImageSize">Side of the square input images. Conv nets use torchvision's layout from 64 pixels up
/// and a small-input layout (less early downsampling) below; LeNet-5 and "cnn" size their first linear layer from it.</param>
/// <param name="WidthMultiplier">Scales the channel and hidden widths of the conv nets (1 = the published widths), e.g. 0.25 for a quick experiment.</param>
/// <param name="InitWeights">Apply the model's own initialisation (torchvision's for VGG, ResNet, GoogLeNet); false keeps each
/// layer's PyTorch default, as torchvision's init_weights=False: quicker when pretrained weights are loaded right after.</param>
public sealed record ModelOptions(int InputFeatures = 784, int NumClasses = 10, int PositiveClass = 0,
    DType DType = DType.Float32, Generator? Generator = null, int InputChannels = 1, int ImageSize = 28, double WidthMultiplier = 1,
    bool InitWeights = true)
{
    /// <summary>
    /// Conv nets take torchvision's (ImageNet) layout for images of at least this many pixels a side, and a
    /// small-input layout with less early downsampling below (e.g. ResNet-18/34: a 3x3 stride-1 stem without max-pool).
    /// </summary>
    public const int SmallImageLimit = 64;

    /// <summary>torchvision's canonical configuration: 3x224x224 images and 1000 (ImageNet) classes.</summary>
    public static ModelOptions ImageNet => new(NumClasses: 1000, InputChannels: 3, ImageSize: 224);

    /// <summary>3x32x32 images and 10 classes (CIFAR-10), ResNet-20's canonical configuration.</summary>
    public static ModelOptions Cifar10 => new(NumClasses: 10, InputChannels: 3, ImageSize: 32);
}

/// <summary>
/// Models by name, for the CLI and experiments. An explicit switch (no reflection, AOT-safe): to add
/// a model, add its name to <see cref="Names"/> and a case to <see cref="Create"/>. Every model returns logits.
/// "mlp", "logreg" and "softmax" take images or flat [N, features]; the conv nets take images
/// [N, InputChannels, ImageSize, ImageSize] (default 1x28x28, Fashion-MNIST).
/// </summary>
public static class ModelZoo
{
    /// <summary>The available names with a one-line description each.</summary>
    public static IReadOnlyDictionary<string, string> Names { get; } = new Dictionary<string, string>
    {
        ["mlp"] = "multi-layer perceptron 784-256-128-10 with ReLU (keys 0.weight .. 4.bias, as nn.Sequential)",
        ["logreg"] = "binary logistic regression Linear(784, 1), one-vs-rest on ModelOptions.PositiveClass (BCEWithLogitsLoss)",
        ["softmax"] = "softmax regression: Flatten + Linear(784, 10) (CrossEntropyLoss)",
        ["lenet5"] = "LeNet-5: conv5x5(6)-pool-conv5x5(16)-pool-120-84-10 with ReLU (keys 0.weight .. 11.bias, as nn.Sequential)",
        ["cnn"] = "compact conv net for Fashion-MNIST: 2x[conv3x3-BN-ReLU]x2 with max-pool and dropout (32, 64 ch), FC 256-BN-dropout, 10",
        ["alexnet"] = "AlexNet, torchvision layout (61.1M params at 3x224x224/1000); small inputs: 3x3 stem, 2x2 pool, 1024 hidden",
        ["vgg11"] = "VGG-11, torchvision layout (132.9M params at 3x224x224/1000); small inputs: 3 pools, global pool, 512 hidden",
        ["vgg11_bn"] = "VGG-11 with batch norm, torchvision layout (132.9M params at 3x224x224/1000)",
        ["vgg16"] = "VGG-16, torchvision layout (138.4M params at 3x224x224/1000); small inputs: 3 pools, global pool, 512 hidden",
        ["vgg16_bn"] = "VGG-16 with batch norm, torchvision layout (138.4M params at 3x224x224/1000)",
        ["googlenet"] = "GoogLeNet (Inception v1) without aux heads, torchvision layout (6.6M params at 3x224x224/1000); small inputs: 3x3 stem",
        ["resnet18"] = "ResNet-18, torchvision layout (11.7M params at 3x224x224/1000); small inputs: 3x3 stride-1 stem, no max-pool",
        ["resnet34"] = "ResNet-34, torchvision layout (21.8M params at 3x224x224/1000); small inputs: 3x3 stride-1 stem, no max-pool",
        ["resnet20"] = "ResNet-20 for CIFAR-sized images: 3 stages x 3 basic blocks, 16/32/64 ch, 1x1-conv+BN projection shortcuts (272K params)",
        ["seq-gru"] = "sequence classifier: a GRU (128 units) reads the image row by row (28 steps of 28 pixels), Linear(128, 10) on its last state",
    };

    /// <summary>
    /// The language models by name (trained by the language-model constructors of <see cref="Training.Trainer"/>, not classifiers): tokens [B, T]
    /// in, next-token logits [B, T, V] out; <see cref="CreateLanguageModel"/> builds them.
    /// </summary>
    public static IReadOnlyDictionary<string, string> LanguageModelNames { get; } = new Dictionary<string, string>
    {
        ["char-lstm"] = "character LSTM: embedding 64, 1x512 LSTM, linear head (char-rnn; truncated BPTT)",
        ["char-gru"] = "character GRU: embedding 64, 1x512 GRU, linear head (char-rnn; truncated BPTT)",
        ["gpt"] = "GPT (nanoGPT layout): 4 pre-LayerNorm blocks, 4 heads, width 128, context 128, GELU MLP, lm_head tied to the token embedding",
    };

    /// <summary>A language model by name with its default sizes for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public static Module<Tensor, Tensor> CreateLanguageModel(string name, int vocabSize, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name switch
        {
            "char-lstm" or "char-gru" => CharRnn.Create(name, vocabSize, dtype, generator),
            "gpt" => new Gpt(new GptConfig(vocabSize), dtype, generator),
            _ => throw new ArgumentException($"ModelZoo: unknown language model '{name}'; available: {string.Join(", ", LanguageModelNames.Keys)}"),
        };
    }

    /// <summary>A classifier by zoo name (see <see cref="Names"/>), e.g. "mlp", "lenet5", "resnet18", built for <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">The name is unknown or the options do not suit the model.</exception>
    public static Module<Tensor, Tensor> Create(string name, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var o = options ?? new ModelOptions();
        return name switch
        {
            "mlp" => new Mlp(o.InputFeatures, [256, 128], o.NumClasses, dtype: o.DType, generator: o.Generator),
            "logreg" => new LogisticRegression(o.InputFeatures, o.PositiveClass, o.DType, o.Generator),
            "softmax" => new Sequential(new Flatten(), new Linear(o.InputFeatures, o.NumClasses, dtype: o.DType, generator: o.Generator)),
            "lenet5" => LeNet5.Create(o),
            "cnn" => FashionCnn.Create(o),
            "alexnet" => new AlexNet(o),
            "vgg11" => new Vgg(Vgg.Vgg11Config, batchNorm: false, o),
            "vgg11_bn" => new Vgg(Vgg.Vgg11Config, batchNorm: true, o),
            "vgg16" => new Vgg(Vgg.Vgg16Config, batchNorm: false, o),
            "vgg16_bn" => new Vgg(Vgg.Vgg16Config, batchNorm: true, o),
            "googlenet" => new GoogLeNet(o),
            "resnet18" => ResNet.ResNet18(o),
            "resnet34" => ResNet.ResNet34(o),
            "resnet20" => ResNet.ResNet20(o),
            "seq-gru" => SequenceClassifier.Create(o),
            _ => throw new ArgumentException($"ModelZoo: unknown model '{name}'; available: {string.Join(", ", Names.Keys)}"),
        };
    }
}
