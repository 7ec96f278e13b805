namespace DeepSharp.Data;

/// <summary>
/// Per-feature standardisation x' = (x - mean) / std for inputs [N, F]. Fit it on the training
/// split only and apply the same statistics to validation and test data, so no information leaks
/// from them. Std is the population std (as scikit-learn's StandardScaler); a constant feature gets
/// std 1 so it maps to 0 instead of dividing by zero. Also usable as a DataLoader transform.
/// </summary>
public sealed class Standardizer : ITransform
{
    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>A standardizer with the given per-feature statistics.</summary>
    /// <param name="mean">Mean of each feature.</param>
    /// <param name="std">Standard deviation of each feature (positive).</param>
    /// <exception cref="ArgumentException">The arrays differ in length, or a value is not finite or a std is not positive.</exception>
    public Standardizer(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length != std.Length) throw new ArgumentException($"Standardizer: {mean.Length} means but {std.Length} stds");
        for (int i = 0; i < std.Length; i++)
            if (!(std[i] > 0) || !float.IsFinite(std[i]) || !float.IsFinite(mean[i]))
                throw new ArgumentException($"Standardizer: feature {i} needs a finite mean and a positive finite std, got mean {mean[i]}, std {std[i]}");
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
    }

    /// <summary>Per-feature means.</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>Per-feature standard deviations.</summary>
    public ReadOnlySpan<float> Std => _std;

    /// <summary>Number of features F.</summary>
    public int Features => _mean.Length;

    /// <summary>Statistics of the columns of <paramref name="features"/> [N, F] (N &gt; 0), accumulated in float64.</summary>
    public static Standardizer Fit(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Rank != 2 || features.Size(0) == 0)
            throw new ArgumentException($"Standardizer.Fit: expected features [N, F] with N > 0, got {features.DType.Name()} {Shapes.Format(features.Shape)}");
        var values = features.To(DType.Float64).ContiguousData(); // kept alive below: the loops allocate while reading it
        var x = values.ReadSpan<double>();
        int n = features.Size(0), f = features.Size(1);
        var sum = new double[f];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < f; c++) sum[c] += x[r * f + c];
        var mean = new double[f];
        for (int c = 0; c < f; c++) mean[c] = sum[c] / n;
        var sq = new double[f];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < f; c++)
            {
                double d = x[r * f + c] - mean[c];
                sq[c] += d * d;
            }
        Tensor.KeepAlive(values);
        var m = new float[f];
        var s = new float[f];
        for (int c = 0; c < f; c++)
        {
            m[c] = (float)mean[c];
            double std = Math.Sqrt(sq[c] / n);
            s[c] = std > 1e-12 ? (float)std : 1f;
        }
        return new Standardizer(m, s);
    }

    /// <summary>Statistics of the inputs of a dataset (e.g. the training <see cref="Subset"/> of a split).</summary>
    public static Standardizer Fit(IDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count == 0) throw new ArgumentException("Standardizer.Fit: the dataset is empty");
        var all = new int[dataset.Count];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        var (inputs, _) = DatasetChecks.Batch(dataset, all);
        return Fit(inputs.Rank == 2 ? inputs : inputs.Reshape(inputs.Size(0), -1));
    }

    /// <summary>(x - mean) / std along the last dim of float inputs [..., F]; a new tensor.</summary>
    public Tensor Apply(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (!features.IsFloatingPoint || features.Rank == 0 || features.Size(-1) != _mean.Length)
            throw new ArgumentException($"Standardizer: expected float features [..., {_mean.Length}], got {features.DType.Name()} {Shapes.Format(features.Shape)}");
        var mean = Tensor.From(_mean).To(features.DType);
        var std = Tensor.From(_std).To(features.DType);
        return features.Sub(mean).Div(std);
    }

    Tensor ITransform.Apply(Tensor batch, Generator generator) => Apply(batch);
}
