using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Cli.Support;

/// <summary>
/// The models the command knows, in one place: every help text and every "unknown model" error is built
/// from these lists, so they cannot disagree. Classifiers come from <see cref="ModelZoo.Names"/>; the
/// character language models (trained by LanguageModelTraining, used by sample) are listed here.
/// </summary>
internal static class ModelCatalog
{
    /// <summary>Language models (character RNNs and the GPT): train, summary, report and sample take them.</summary>
    public static IReadOnlyList<string> LanguageModels { get; } = [.. ModelZoo.LanguageModelNames.Keys];

    /// <summary>Classifiers of images or feature vectors (the model zoo): train, eval, predict, inspect, summary and report take them.</summary>
    public static IReadOnlyList<string> Classifiers { get; } = [.. ModelZoo.Names.Keys];

    /// <summary>Every model name, classifiers first.</summary>
    public static IReadOnlyList<string> All { get; } = [.. Classifiers, .. LanguageModels];

    /// <summary>
    /// The rule for conv nets' layout, for help texts: torchvision's ImageNet layout (ResNet-18/34: 7x7 stride-2
    /// conv and 3x3 max-pool stem) for images of at least <see cref="ModelOptions.SmallImageLimit"/> pixels, the
    /// small-image layout (3x3 stride-1 stem, no max-pool) below.
    /// </summary>
    public static string LayoutRule =>
        $"conv nets use torchvision's ImageNet layout for images of {ModelOptions.SmallImageLimit}x{ModelOptions.SmallImageLimit} and larger " +
        $"(resnet18/34: 7x7 stride-2 conv + 3x3 max-pool stem) and a small-image layout below {ModelOptions.SmallImageLimit} (resnet18/34: 3x3 stride-1 conv, no max-pool)";

    /// <summary>The classifiers that take flat feature vectors [N, features] (tables) as well as images; the others take images only.</summary>
    public static IReadOnlyList<string> FeatureModels { get; } = ["mlp", "logreg", "softmax"];

    public static bool IsLanguageModel(string name) => LanguageModels.Contains(name);

    public static bool IsClassifier(string name) => ModelZoo.Names.ContainsKey(name);

    /// <summary>"mlp, logreg, ..." for help texts; <paramref name="languageModels"/> adds the character models.</summary>
    public static string Help(bool languageModels) => languageModels
        ? $"model: {string.Join(", ", Classifiers)} (classifiers); {string.Join(", ", LanguageModels)} (language models)"
        : $"model: {string.Join(", ", Classifiers)}";

    /// <summary>Throws unless <paramref name="name"/> is a model this command takes; the message lists exactly those.</summary>
    public static void Require(string name, string command, bool languageModels)
    {
        if (IsClassifier(name) || (languageModels && IsLanguageModel(name))) return;
        if (IsLanguageModel(name))
            throw new CliException($"{command}: '{name}' is a language model; {command} takes the classifiers {string.Join(", ", Classifiers)} " +
                                   $"(use deepsharp sample or deepsharp report for {string.Join("/", LanguageModels)} runs)");
        throw new CliException($"unknown --model '{name}'; available: {string.Join(", ", languageModels ? All : Classifiers)}");
    }

    /// <summary>
    /// A zoo classifier for inputs of <paramref name="channels"/> x <paramref name="imageSize"/> x <paramref name="imageSize"/>
    /// (<paramref name="features"/> values when flattened) and <paramref name="classes"/> classes.
    /// </summary>
    public static Module<Tensor, Tensor> CreateClassifier(string name, int features, int classes, int channels = 1, int imageSize = 28, Generator? generator = null)
    {
        Require(name, "model", languageModels: false);
        try
        {
            return ModelZoo.Create(name, new ModelOptions(InputFeatures: features, NumClasses: classes, Generator: generator, InputChannels: channels, ImageSize: imageSize));
        }
        catch (ArgumentException e)
        {
            throw new CliException($"{name}: {WithoutPrefix(CliRunner.OneLine(e), name)}");
        }
    }

    /// <summary>
    /// The classifier for a dataset, sized from it: image datasets give channels and size, tables only their feature
    /// count. A model that cannot take the dataset's shape is a one-line error naming both.
    /// </summary>
    public static Module<Tensor, Tensor> CreateClassifier(string name, DataChoice data, Generator? generator = null)
    {
        Require(name, "model", languageModels: false);
        if (!data.IsImage && !FeatureModels.Contains(name))
            throw new CliException($"--model {name} takes images [C, H, W], but {data.Name} holds {data.ShapeText} (not a square number of pixel columns); " +
                                   $"train {string.Join(", ", FeatureModels)} on it, or give images (images:DIR, or a CSV file of S*S pixel columns)");
        try
        {
            return ModelZoo.Create(name, new ModelOptions(InputFeatures: data.Features, NumClasses: data.Classes, Generator: generator,
                InputChannels: data.IsImage ? data.Channels : 1, ImageSize: data.IsImage ? data.ImageSize : 1));
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--model {name} cannot take the {data.ShapeText} of {data.Name}: {WithoutPrefix(CliRunner.OneLine(e), name)}");
        }
    }

    /// <summary>A zoo message without its leading "model: ", which the caller's message already names.</summary>
    private static string WithoutPrefix(string message, string name) =>
        message.StartsWith(name + ": ", StringComparison.Ordinal) ? message[(name.Length + 2)..] : message;
}
