namespace DeepSharp.Onnx;

// Load-time checks of the settings the newer op families (OnnxOps.Losses/Indexing/Resize/Einsum.cs) do not
// implement, so that a model using them is reported as unsupported instead of failing when it runs.
internal static partial class OnnxOps
{
    /// <summary>The unsupported setting of <paramref name="node"/> in one of the newer op families, or null.</summary>
    private static string? FamilySetting(OnnxNode node) => node.OpType switch
    {
        "Resize" or "Upsample" => ResizeSetting(node),
        "GridSample" => GridSampleSetting(node),
        "TfIdfVectorizer" => TfIdfSetting(node),
        "RoiAlign" when node.String("mode", "avg") != "avg" => "RoiAlign(mode=" + node.String("mode", "") + ")",
        "ScatterElements" or "ScatterND" when node.String("reduction", "none") is not ("none" or "add" or "mul") and var r =>
            $"{node.OpType}(reduction={r})",
        "NegativeLogLikelihoodLoss" or "SoftmaxCrossEntropyLoss" when node.String("reduction", "mean") is not ("none" or "sum" or "mean") and var r =>
            $"{node.OpType}(reduction={r})",
        _ => null,
    };
}
