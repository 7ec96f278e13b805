using DeepSharp.Data;

namespace DeepSharp.Insight;

/// <summary>An image shown in a report, with a caption.</summary>
public sealed record LabeledImage(Image Image, string Caption);

/// <summary>One explained test input: the image, its saliency, Integrated Gradients and Grad-CAM overlays.</summary>
public sealed record AttributionExample(string Caption, Image Input, Image Saliency, Image? IntegratedGradients, Image? GradCam, string? Note = null);

/// <summary>
/// Everything a run report shows. Absent parts (no statistics, no conv layer, no attention) still get
/// their section, with a sentence saying why it is empty.
/// </summary>
public sealed class ReportData
{
    /// <summary>The report's title.</summary>
    public required string Title { get; init; }

    /// <summary>Key figures shown at the top (model, data, test accuracy, ...).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Summary { get; init; } = [];

    /// <summary>Per-epoch logs: loss, accuracy, val_loss, val_accuracy, lr, epoch (1-based).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> History { get; init; } = [];

    /// <summary>Activation and gradient statistics recorded during training.</summary>
    public InsightLog? Statistics { get; init; }

    /// <summary>Counts [true class][predicted class].</summary>
    public long[][]? ConfusionMatrix { get; init; }

    /// <summary>Class names by id.</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];

    /// <summary>Misclassified test examples, with captions.</summary>
    public IReadOnlyList<LabeledImage> Misclassified { get; init; } = [];

    /// <summary>Test inputs explained with saliency, Integrated Gradients and Grad-CAM.</summary>
    public IReadOnlyList<AttributionExample> Attributions { get; init; } = [];

    /// <summary>The module Grad-CAM used (its dotted name).</summary>
    public string? GradCamLayer { get; init; }

    /// <summary>The first convolution's filters as one image grid, when the model has one.</summary>
    public LabeledImage? Filters { get; init; }

    /// <summary>Feature maps of the first convolution for test image #0, when the model has one.</summary>
    public LabeledImage? FeatureMaps { get; init; }

    /// <summary>Attention maps, when the model returns attention weights.</summary>
    public IReadOnlyList<LabeledImage> Attention { get; init; } = [];

    /// <summary>LSTM gate activations over time (one image per gate), when the model has an LSTM.</summary>
    public IReadOnlyList<LabeledImage> Gates { get; init; } = [];

    /// <summary>Why a section is empty, by section id.</summary>
    public IReadOnlyDictionary<string, string> Notes { get; init; } = new Dictionary<string, string>();
}
