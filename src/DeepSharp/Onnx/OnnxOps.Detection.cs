namespace DeepSharp.Onnx;

// Object detection: NonMaxSuppression, greedy per batch and class on boxes sorted by score.
internal static partial class OnnxOps
{
    private static void RegisterDetection(Dictionary<string, Op> ops) => ops["NonMaxSuppression"] = n => One(NonMaxSuppression(n));

    /// <summary>
    /// NonMaxSuppression: for each batch and class, boxes by descending score (ties to the lower index) with a score
    /// above score_threshold are kept unless their IoU with a kept box exceeds iou_threshold, at most
    /// max_output_boxes_per_class of them. Returns [selected, 3] rows (batch, class, box).
    /// </summary>
    private static Tensor NonMaxSuppression(OnnxNode n)
    {
        var boxesT = n.Input(0);
        var scoresT = n.Input(1);
        if (boxesT.Rank != 3 || boxesT.ShapeArray[2] != 4 || scoresT.Rank != 3 || scoresT.ShapeArray[0] != boxesT.ShapeArray[0] || scoresT.ShapeArray[2] != boxesT.ShapeArray[1])
            throw new InvalidDataException($"ONNX {n.Describe}: boxes {Shapes.Format(boxesT.ShapeArray)} and scores {Shapes.Format(scoresT.ShapeArray)} are not [B, N, 4] and [B, C, N]");
        long limit = n.IntsInput(2) is [var l, ..] ? l : 0;
        double iouThreshold = n.Optional(3) is { Numel: > 0 } iou ? iou.To(DType.Float64).ToArray<double>()[0] : 0;
        double? scoreThreshold = n.Optional(4) is { Numel: > 0 } st ? st.To(DType.Float64).ToArray<double>()[0] : null;
        bool center = n.Int("center_point_box", 0) != 0;
        int batches = boxesT.ShapeArray[0], count = boxesT.ShapeArray[1], classes = scoresT.ShapeArray[1];
        var boxes = boxesT.To(DType.Float64).Contiguous().ToArray<double>();
        var scores = scoresT.To(DType.Float64).Contiguous().ToArray<double>();
        var corners = new double[boxes.Length]; // y1, x1, y2, x2 with y1 <= y2, x1 <= x2
        for (int i = 0; i < boxes.Length; i += 4)
        {
            double a = boxes[i], b = boxes[i + 1], c = boxes[i + 2], d = boxes[i + 3];
            if (center) (a, b, c, d) = (b - d / 2, a - c / 2, b + d / 2, a + c / 2); // [x_c, y_c, w, h]
            (corners[i], corners[i + 2]) = (Math.Min(a, c), Math.Max(a, c));
            (corners[i + 1], corners[i + 3]) = (Math.Min(b, d), Math.Max(b, d));
        }
        double Iou(int p, int q)
        {
            double h = Math.Min(corners[p + 2], corners[q + 2]) - Math.Max(corners[p], corners[q]);
            double w = Math.Min(corners[p + 3], corners[q + 3]) - Math.Max(corners[p + 1], corners[q + 1]);
            if (h <= 0 || w <= 0) return 0;
            double inter = h * w;
            double union = (corners[p + 2] - corners[p]) * (corners[p + 3] - corners[p + 1]) + (corners[q + 2] - corners[q]) * (corners[q + 3] - corners[q + 1]) - inter;
            return union <= 0 ? 0 : inter / union;
        }
        var selected = new List<long>();
        for (int b = 0; b < batches; b++)
            for (int c = 0; c < classes; c++)
            {
                int row = (b * classes + c) * count;
                var order = Enumerable.Range(0, count).Where(i => scoreThreshold is null || scores[row + i] > scoreThreshold)
                    .OrderByDescending(i => scores[row + i]).ThenBy(i => i).ToArray();
                var kept = new List<int>();
                foreach (int i in order)
                {
                    if (kept.Count >= limit) break;
                    if (kept.All(k => Iou((b * count + k) * 4, (b * count + i) * 4) <= iouThreshold)) kept.Add(i);
                }
                foreach (int k in kept) selected.AddRange([b, c, k]);
            }
        return OnnxTensors.Make(selected.ToArray(), [selected.Count / 3, 3]);
    }
}
