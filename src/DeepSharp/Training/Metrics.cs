namespace DeepSharp.Training;

/// <summary>Classification and regression metrics over whole tensors (not recorded by autograd).</summary>
public static class Metrics
{
    /// <summary>Fraction of rows of <paramref name="logits"/> [N, C] whose argmax equals the int64 target [N].</summary>
    public static double Accuracy(Tensor logits, Tensor targets) => TopKAccuracy(logits, targets, 1);

    /// <summary>Fraction of rows whose target is among the k largest logits.</summary>
    public static double TopKAccuracy(Tensor logits, Tensor targets, int k)
    {
        var (n, c) = CheckClassification("top_k_accuracy", logits, targets);
        if (k < 1 || k > Math.Max(c, 1)) throw new ArgumentException($"top_k_accuracy: k must be in [1, {c}], got {k}");
        if (n == 0) return 0;
        var scores = logits.ContiguousData().ToDoubleArray();
        var labels = targets.ToArray<long>();
        int hits = 0;
        for (int i = 0; i < n; i++)
        {
            double target = scores[i * c + labels[i]];
            int better = 0;
            for (int j = 0; j < c; j++)
                if (scores[i * c + j] > target || (scores[i * c + j] == target && j < labels[i])) better++;
            if (better < k) hits++;
        }
        return (double)hits / n;
    }

    /// <summary>counts[target, predicted] for int64 class ids in [0, classes).</summary>
    public static long[,] ConfusionMatrix(Tensor predicted, Tensor targets, int classes)
    {
        if (predicted.DType != DType.Int64 || targets.DType != DType.Int64)
            throw new ArgumentException($"confusion_matrix: predictions and targets must be int64 class ids, got {predicted.DType.Name()} and {targets.DType.Name()}");
        if (predicted.Numel != targets.Numel)
            throw new ArgumentException($"confusion_matrix: {predicted.Numel} predictions but {targets.Numel} targets");
        var p = predicted.ToArray<long>();
        var t = targets.ToArray<long>();
        var m = new long[classes, classes];
        for (int i = 0; i < p.Length; i++)
        {
            if ((ulong)t[i] >= (ulong)classes || (ulong)p[i] >= (ulong)classes)
                throw new ArgumentException($"confusion_matrix: class id out of range [0, {classes}) at element {i} (target {t[i]}, predicted {p[i]})");
            m[t[i], p[i]]++;
        }
        return m;
    }

    /// <summary>Per-class precision, recall and F1 from a confusion matrix (0 where undefined, as scikit-learn's zero_division=0).</summary>
    public static (double[] Precision, double[] Recall, double[] F1) PrecisionRecallF1(long[,] confusion)
    {
        int c = confusion.GetLength(0);
        var precision = new double[c];
        var recall = new double[c];
        var f1 = new double[c];
        for (int k = 0; k < c; k++)
        {
            long tp = confusion[k, k], predicted = 0, actual = 0;
            for (int j = 0; j < c; j++)
            {
                predicted += confusion[j, k];
                actual += confusion[k, j];
            }
            precision[k] = predicted == 0 ? 0 : (double)tp / predicted;
            recall[k] = actual == 0 ? 0 : (double)tp / actual;
            f1[k] = precision[k] + recall[k] == 0 ? 0 : 2 * precision[k] * recall[k] / (precision[k] + recall[k]);
        }
        return (precision, recall, f1);
    }

    /// <summary>Mean of (prediction - target)² over all elements (0 for empty tensors).</summary>
    /// <exception cref="ArgumentException">The tensors have different numbers of elements.</exception>
    public static double MeanSquaredError(Tensor predictions, Tensor targets)
    {
        var (p, t) = Pair("mse", predictions, targets);
        double s = 0;
        for (int i = 0; i < p.Length; i++) s += (p[i] - t[i]) * (p[i] - t[i]);
        return p.Length == 0 ? 0 : s / p.Length;
    }

    /// <summary>Mean of |prediction - target| over all elements (0 for empty tensors).</summary>
    /// <exception cref="ArgumentException">The tensors have different numbers of elements.</exception>
    public static double MeanAbsoluteError(Tensor predictions, Tensor targets)
    {
        var (p, t) = Pair("mae", predictions, targets);
        double s = 0;
        for (int i = 0; i < p.Length; i++) s += Math.Abs(p[i] - t[i]);
        return p.Length == 0 ? 0 : s / p.Length;
    }

    /// <summary>Coefficient of determination 1 - SS_res / SS_tot.</summary>
    public static double R2(Tensor predictions, Tensor targets)
    {
        var (p, t) = Pair("r2", predictions, targets);
        double mean = t.Length == 0 ? 0 : t.Average();
        double ssRes = 0, ssTot = 0;
        for (int i = 0; i < p.Length; i++)
        {
            ssRes += (t[i] - p[i]) * (t[i] - p[i]);
            ssTot += (t[i] - mean) * (t[i] - mean);
        }
        return ssTot == 0 ? (ssRes == 0 ? 1 : 0) : 1 - ssRes / ssTot;
    }

    private static (double[] P, double[] T) Pair(string op, Tensor predictions, Tensor targets)
    {
        if (predictions.Numel != targets.Numel)
            throw new ArgumentException($"{op}: predictions {Shapes.Format(predictions.ShapeArray)} and targets {Shapes.Format(targets.ShapeArray)} have different sizes");
        return (predictions.ToDoubleArray(), targets.ToDoubleArray());
    }

    private static (int N, int C) CheckClassification(string op, Tensor logits, Tensor targets)
    {
        if (logits.Rank != 2) throw new ArgumentException($"{op}: expected logits [N, C], got {Shapes.Format(logits.ShapeArray)}");
        if (targets.DType != DType.Int64 || targets.Rank != 1 || targets.ShapeArray[0] != logits.ShapeArray[0])
            throw new ArgumentException($"{op}: expected int64 targets [{logits.ShapeArray[0]}], got {targets.DType.Name()} {Shapes.Format(targets.ShapeArray)}");
        int c = logits.ShapeArray[1];
        foreach (long t in targets.ToArray<long>())
            if ((ulong)t >= (ulong)c) throw new ArgumentException($"{op}: target {t} is outside [0, {c})");
        return (logits.ShapeArray[0], c);
    }
}
