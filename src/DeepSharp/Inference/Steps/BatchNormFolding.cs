using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>
/// Batch norm in eval mode is the per-channel affine map y = x * scale + shift with scale = weight / sqrt(var + eps)
/// and shift = bias - mean * scale. After a convolution or linear layer it folds into that layer's weights
/// (row o times scale[o]) and bias (b[o] * scale[o] + shift[o]). Computed in float64 from the float32 statistics.
/// </summary>
internal static class BatchNormFolding
{
    /// <summary>True when eval mode uses the running statistics (without them PyTorch normalises by the batch's).</summary>
    public static bool CanFold(BatchNormBase bn) => bn.TrackRunningStats && bn.RunningMean is not null && bn.RunningVar is not null;

    public static (double[] Scale, double[] Shift) Affine(BatchNormBase bn)
    {
        var mean = bn.RunningMean!.ToDoubleArray();
        var variance = bn.RunningVar!.ToDoubleArray();
        var gamma = bn.Weight?.ToDoubleArray();
        var beta = bn.Bias?.ToDoubleArray();
        var scale = new double[bn.NumFeatures];
        var shift = new double[bn.NumFeatures];
        for (int c = 0; c < scale.Length; c++)
        {
            scale[c] = (gamma?[c] ?? 1) / Math.Sqrt(variance[c] + bn.Eps);
            shift[c] = (beta?[c] ?? 0) - mean[c] * scale[c];
        }
        return (scale, shift);
    }

    /// <summary>Scales each of the weight's rows (one per output channel) and returns the new bias.</summary>
    public static float[] FoldInto(float[] weight, float[]? bias, BatchNormBase bn)
    {
        var (scale, shift) = Affine(bn);
        int rows = scale.Length, rowLength = weight.Length / rows;
        var folded = new float[rows];
        for (int o = 0; o < rows; o++)
        {
            var row = weight.AsSpan(o * rowLength, rowLength);
            for (int i = 0; i < row.Length; i++) row[i] = (float)(row[i] * scale[o]);
            folded[o] = (float)((bias is null ? 0 : bias[o]) * scale[o] + shift[o]);
        }
        return folded;
    }
}
