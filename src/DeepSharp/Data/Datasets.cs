namespace DeepSharp.Data;

/// <summary>Dataset helpers (PyTorch's torch.utils.data functions).</summary>
public static class Datasets
{
    /// <summary>
    /// Splits into non-overlapping random subsets of the given lengths, which must add up to Count.
    /// The permutation comes from <paramref name="generator"/>, so a seed reproduces the split.
    /// </summary>
    public static Subset[] RandomSplit(IDataset dataset, int[] lengths, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(lengths);
        long total = 0;
        foreach (int n in lengths)
        {
            if (n < 0) throw new ArgumentException($"RandomSplit: lengths must be non-negative, got [{string.Join(", ", lengths)}]");
            total += n;
        }
        if (total != dataset.Count)
            throw new ArgumentException($"RandomSplit: lengths [{string.Join(", ", lengths)}] add up to {total} but the dataset has {dataset.Count} examples");
        var perm = (generator ?? Generator.Default).Permutation(dataset.Count);
        var result = new Subset[lengths.Length];
        int start = 0;
        for (int i = 0; i < lengths.Length; i++)
        {
            result[i] = new Subset(dataset, perm.AsSpan(start, lengths[i]));
            start += lengths[i];
        }
        return result;
    }

    /// <summary>
    /// Splits by fractions that add up to 1: each subset gets floor(fraction * Count) examples and the
    /// remainder is dealt one at a time from the first subset on, as PyTorch's random_split does.
    /// </summary>
    public static Subset[] RandomSplit(IDataset dataset, double[] fractions, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(fractions);
        if (fractions.Length == 0) throw new ArgumentException("RandomSplit: at least one fraction is required");
        double sum = 0;
        foreach (double f in fractions)
        {
            if (!(f >= 0 && f <= 1)) throw new ArgumentException($"RandomSplit: fractions must be between 0 and 1, got [{string.Join(", ", fractions)}]");
            sum += f;
        }
        if (Math.Abs(sum - 1) > 1e-6) throw new ArgumentException($"RandomSplit: fractions [{string.Join(", ", fractions)}] add up to {sum}, not 1");
        int n = dataset.Count;
        var lengths = new int[fractions.Length];
        int assigned = 0;
        for (int i = 0; i < fractions.Length; i++)
        {
            lengths[i] = (int)Math.Floor(n * fractions[i]);
            assigned += lengths[i];
        }
        for (int i = 0; i < n - assigned; i++) lengths[i % lengths.Length]++;
        return RandomSplit(dataset, lengths, generator);
    }
}
