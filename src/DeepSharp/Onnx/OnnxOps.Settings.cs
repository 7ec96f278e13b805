namespace DeepSharp.Onnx;

// Load-time checks of the settings the newer op families (losses, indexing, resize and sampling, signal, detection,
// quantization, text) do not implement, so that a model using them is reported as unsupported instead of failing
// when it runs.
internal static partial class OnnxOps
{
    /// <summary>The unsupported setting of <paramref name="node"/> in one of the newer op families, or null.</summary>
    private static string? FamilySetting(OnnxNode node) => node.OpType switch
    {
        "Resize" or "Upsample" => ResizeSetting(node),
        "GridSample" => GridSampleSetting(node),
        "TfIdfVectorizer" => TfIdfSetting(node),
        "ConvInteger" when node.Ints("kernel_shape") is { Length: > 3 } => "ConvInteger(4-D and more)",
        "DFT" when node.Int("inverse", 0) != 0 && node.Int("onesided", 0) != 0 => "DFT(inverse, onesided)",
        "HannWindow" or "HammingWindow" or "BlackmanWindow" or "MelWeightMatrix" when OnnxTensors.DTypeOf((int)node.Int("output_datatype", OnnxTensors.Float)) is null =>
            $"{node.OpType}(output_datatype={OnnxTensors.ElementTypeName((int)node.Int("output_datatype", 0))})",
        "RoiAlign" when node.String("mode", "avg") != "avg" => "RoiAlign(mode=" + node.String("mode", "") + ")",
        "ScatterElements" or "ScatterND" when node.String("reduction", "none") is not ("none" or "add" or "mul") and var r =>
            $"{node.OpType}(reduction={r})",
        "NegativeLogLikelihoodLoss" or "SoftmaxCrossEntropyLoss" when node.String("reduction", "mean") is not ("none" or "sum" or "mean") and var r =>
            $"{node.OpType}(reduction={r})",
        _ => null,
    };
}
