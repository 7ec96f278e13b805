namespace DeepSharp.Onnx;

// Training losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12/13), with the class weights,
// ignore_index and the none/sum/mean reductions. The input side is differentiable (Gather, Mul, Sum), so an
// imported training graph back-propagates into the model that produced the scores.
internal static partial class OnnxOps
{
    private static void RegisterLosses(Dictionary<string, Op> ops)
    {
        ops["NegativeLogLikelihoodLoss"] = n => One(NllLoss(n, n.Input(0)));
        ops["SoftmaxCrossEntropyLoss"] = n =>
        {
            var scores = n.Input(0);
            if (scores.Rank < 2) throw new InvalidDataException($"ONNX {n.Describe}: scores must be [N, C, ...], got rank {scores.Rank}");
            var logProb = scores.LogSoftmax(1);
            return [NllLoss(n, logProb), logProb];
        };
    }

    /// <summary>
    /// loss[n, d..] = -logp[n, target[n, d..], d..] * weight[target[n, d..]], zero where the target is ignore_index;
    /// "mean" divides the sum by the summed weights of the targets that are not ignored.
    /// </summary>
    private static Tensor NllLoss(OnnxNode n, Tensor logp)
    {
        var target = n.Input(1);
        var weight = n.Optional(2);
        long? ignore = n.Has("ignore_index") ? n.Int("ignore_index", 0) : null;
        string reduction = n.String("reduction", "mean");
        if (reduction is not ("none" or "sum" or "mean"))
            throw new InvalidDataException($"ONNX {n.Describe}: reduction '{reduction}' is not one of none, sum, mean");
        if (logp.Rank < 2) throw new InvalidDataException($"ONNX {n.Describe}: input must be [N, C, ...], got rank {logp.Rank}");
        int classes = logp.ShapeArray[1];
        int[] expected = [logp.ShapeArray[0], .. logp.ShapeArray[2..]];
        if (!target.ShapeArray.SequenceEqual(expected))
            throw new InvalidDataException($"ONNX {n.Describe}: target shape {Shapes.Format(target.ShapeArray)} does not match the input's {Shapes.Format(expected)}");
        if (weight is not null && (weight.Rank != 1 || weight.Numel != classes))
            throw new InvalidDataException($"ONNX {n.Describe}: weight shape {Shapes.Format(weight.ShapeArray)} is not [{classes}]");

        var labels = target.To(DType.Int64).ToArray<long>();
        var safe = new long[labels.Length];
        var kept = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if (ignore == labels[i]) continue; // safe 0, weight 0
            if (labels[i] < 0 || labels[i] >= classes)
                throw new InvalidDataException($"ONNX {n.Describe}: target {labels[i]} is outside [0, {classes})");
            safe[i] = labels[i];
            kept[i] = 1;
        }
        var index = OnnxTensors.Make(safe, target.ShapeArray);
        var picked = logp.Gather(1, index.Unsqueeze(1)).Squeeze(1).Neg();
        var w = OnnxTensors.Make(kept, target.ShapeArray).To(logp.DType);
        if (weight is not null)
            w = w * weight.To(logp.DType).IndexSelect(0, Tensor.From(safe, safe.Length)).Reshape(target.ShapeArray);
        var loss = picked * w;
        return reduction switch
        {
            "none" => loss,
            "sum" => loss.Sum(),
            _ => loss.Sum() / w.Sum(),
        };
    }
}
