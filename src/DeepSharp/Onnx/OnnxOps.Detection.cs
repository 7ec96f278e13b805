namespace DeepSharp.Onnx;

// Object detection: NonMaxSuppression (greedy per batch and class on boxes sorted by score) and RoiAlign (average
// mode, bilinear samples as weighted sums of pixels, differentiable in X).
internal static partial class OnnxOps
{
    private static void RegisterDetection(Dictionary<string, Op> ops)
    {
        ops["NonMaxSuppression"] = n => One(NonMaxSuppression(n));
        ops["RoiAlign"] = n => One(RoiAlign(n));
    }

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

    /// <summary>
    /// RoiAlign (average mode): each of the output_height x output_width bins of a region (x1, y1, x2, y2) * spatial_scale
    /// averages sampling_ratio^2 (adaptive: ceil(size / bins)) bilinear samples of its image; samples more than one
    /// pixel outside the image count as 0. half_pixel shifts the region by -0.5; output_half_pixel (opset 10) does not
    /// and makes regions at least 1 x 1.
    /// </summary>
    private static Tensor RoiAlign(OnnxNode n)
    {
        var x = n.Input(0);
        var roisT = n.Input(1);
        var batchIndex = n.Input(2).To(DType.Int64).ToArray<long>();
        if (x.Rank != 4 || roisT.Rank != 2 || roisT.ShapeArray[1] != 4 || batchIndex.Length != roisT.ShapeArray[0])
            throw new InvalidDataException($"ONNX {n.Describe}: X {Shapes.Format(x.ShapeArray)}, rois {Shapes.Format(roisT.ShapeArray)} and {batchIndex.Length} batch indices are not [N, C, H, W], [R, 4], [R]");
        int outH = (int)n.Int("output_height", 1), outW = (int)n.Int("output_width", 1), ratio = (int)n.Int("sampling_ratio", 0);
        double scale = n.Float("spatial_scale", 1);
        bool halfPixel = n.String("coordinate_transformation_mode", n.Opset >= 16 ? "half_pixel" : "output_half_pixel") == "half_pixel";
        int channels = x.ShapeArray[1], height = x.ShapeArray[2], width = x.ShapeArray[3];
        var rois = roisT.To(DType.Float64).ToArray<double>();
        var parts = new Tensor[batchIndex.Length];
        for (int r = 0; r < parts.Length; r++)
        {
            if (batchIndex[r] < 0 || batchIndex[r] >= x.ShapeArray[0])
                throw new InvalidDataException($"ONNX {n.Describe}: batch index {batchIndex[r]} for a batch of {x.ShapeArray[0]}");
            double offset = halfPixel ? 0.5 : 0;
            double startW = rois[r * 4] * scale - offset, startH = rois[r * 4 + 1] * scale - offset;
            double roiW = rois[r * 4 + 2] * scale - offset - startW, roiH = rois[r * 4 + 3] * scale - offset - startH;
            if (!halfPixel) { roiW = Math.Max(roiW, 1); roiH = Math.Max(roiH, 1); }
            double binH = roiH / outH, binW = roiW / outW;
            int gridH = ratio > 0 ? ratio : (int)Math.Ceiling(roiH / outH), gridW = ratio > 0 ? ratio : (int)Math.Ceiling(roiW / outW);
            double count = Math.Max(gridH * gridW, 1);
            int taps = Math.Max(gridH * gridW, 1) * 4;
            var index = new long[outH * outW * taps];
            var weight = new double[index.Length];
            for (int ph = 0; ph < outH; ph++)
                for (int pw = 0; pw < outW; pw++)
                {
                    int at = (ph * outW + pw) * taps;
                    for (int iy = 0; iy < gridH; iy++)
                        for (int ix = 0; ix < gridW; ix++, at += 4)
                        {
                            double yy = startH + ph * binH + (iy + 0.5) * binH / gridH;
                            double xx = startW + pw * binW + (ix + 0.5) * binW / gridW;
                            if (yy < -1 || yy > height || xx < -1 || xx > width) continue;
                            yy = Math.Max(yy, 0);
                            xx = Math.Max(xx, 0);
                            int y0 = (int)yy, x0 = (int)xx, y1 = y0 + 1, x1 = x0 + 1;
                            if (y0 >= height - 1) { y0 = y1 = height - 1; yy = y0; }
                            if (x0 >= width - 1) { x0 = x1 = width - 1; xx = x0; }
                            double ly = yy - y0, lx = xx - x0;
                            (index[at], weight[at]) = (y0 * width + x0, (1 - ly) * (1 - lx) / count);
                            (index[at + 1], weight[at + 1]) = (y0 * width + x1, (1 - ly) * lx / count);
                            (index[at + 2], weight[at + 2]) = (y1 * width + x0, ly * (1 - lx) / count);
                            (index[at + 3], weight[at + 3]) = (y1 * width + x1, ly * lx / count);
                        }
                }
            var image = x.Select(0, (int)batchIndex[r]).Reshape(channels, height * width);
            var picked = image.IndexSelect(1, Tensor.From(index, index.Length)) * Tensor.From(weight, weight.Length).To(x.DType);
            parts[r] = picked.Reshape(channels, outH * outW, taps).Sum(2).Reshape(channels, outH, outW);
        }
        return parts.Length == 0 ? Tensor.Zeros([0, channels, outH, outW], x.DType) : Tensor.Stack(parts, 0);
    }
}
