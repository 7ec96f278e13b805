namespace DeepSharp.Models;

/// <summary>
/// How the next token is picked from a model's logits. <see cref="Temperature"/> 0 is greedy decoding
/// (argmax); otherwise the logits are divided by the temperature (below 1 sharpens, above 1 flattens),
/// optionally cut to the <see cref="TopK"/> largest, softmaxed, optionally cut to the nucleus of probability
/// <see cref="TopP"/> (the most likely tokens whose probabilities first add up to at least TopP, renormalised),
/// and sampled.
/// </summary>
public sealed record SamplingOptions(double Temperature = 1.0, int? TopK = null, double? TopP = null)
{
    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The temperature is negative or not finite, top-k is not positive or top-p is outside (0, 1].</exception>
    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, $"sampling: temperature must be finite and >= 0 (0 = greedy), got {Temperature}");
        if (TopK is int k && k <= 0) throw new ArgumentOutOfRangeException(nameof(TopK), k, $"sampling: top-k must be positive, got {k}");
        if (TopP is double p && !(p > 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), p, $"sampling: top-p must be in (0, 1], got {p}");
    }
}

/// <summary>
/// Next-token selection over one row of logits (greedy, temperature, top-k), shared by the character
/// models and the sequence-to-sequence decoders. Works on plain spans: a sampler runs once per generated
/// token, so it must not allocate tensors or build graphs.
/// </summary>
public static class Sampling
{
    /// <summary>The index of the largest logit (the first one on ties); NaN logits are never picked unless all are NaN.</summary>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("sampling: no logits to choose from");
        int best = 0;
        float max = float.NegativeInfinity;
        bool found = false;
        for (int i = 0; i < logits.Length; i++)
        {
            float v = logits[i];
            if (!found ? !float.IsNaN(v) : v > max)
            {
                max = v;
                best = i;
                found = true;
            }
        }
        return best;
    }

    /// <summary>
    /// The sampling distribution of <paramref name="logits"/> under <paramref name="options"/>: zero outside
    /// the top k (ties broken towards the lower index, so exactly k entries are non-zero), softmax(logits / T)
    /// inside, then (with top-p) zero outside the nucleus and renormalised; one-hot on the argmax at temperature 0.
    /// </summary>
    public static double[] Probabilities(ReadOnlySpan<float> logits, SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (logits.IsEmpty) throw new ArgumentException("sampling: no logits to choose from");
        var p = new double[logits.Length];
        if (options.Temperature == 0)
        {
            p[Argmax(logits)] = 1;
            return p;
        }
        Span<bool> keep = logits.Length <= 1024 ? stackalloc bool[logits.Length] : new bool[logits.Length];
        TopKMask(logits, options.TopK ?? logits.Length, keep);
        double max = double.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
            if (keep[i] && logits[i] > max) max = logits[i];
        if (double.IsNegativeInfinity(max) || double.IsNaN(max))
            throw new ArgumentException("sampling: every candidate logit is -infinity or NaN");
        double sum = 0, invT = 1 / options.Temperature;
        for (int i = 0; i < logits.Length; i++)
        {
            if (!keep[i]) continue;
            double e = Math.Exp((logits[i] - max) * invT); // subtract the max first: no overflow at small temperatures
            p[i] = e;
            sum += e;
        }
        for (int i = 0; i < p.Length; i++) p[i] /= sum;
        if (options.TopP is double topP && topP < 1) Nucleus(p, topP);
        return p;
    }

    /// <summary>
    /// Keeps the most likely entries of the distribution <paramref name="p"/> in order of decreasing probability (lower
    /// index first on ties) until their total reaches <paramref name="topP"/> (at least one), zeroes the rest and renormalises.
    /// </summary>
    internal static void Nucleus(double[] p, double topP)
    {
        var order = new int[p.Length];
        int n = 0;
        for (int i = 0; i < p.Length; i++)
            if (p[i] > 0) order[n++] = i;
        var candidates = order.AsSpan(0, n);
        candidates.Sort((a, b) => p[a] != p[b] ? p[b].CompareTo(p[a]) : a.CompareTo(b));
        double total = 0;
        int kept = 0;
        while (kept < n && (kept == 0 || total < topP))
        {
            total += p[candidates[kept]];
            kept++;
        }
        for (int j = kept; j < n; j++) p[candidates[j]] = 0;
        for (int i = 0; i < p.Length; i++) p[i] /= total;
    }

    /// <summary>Picks the next token from <paramref name="logits"/>: greedy at temperature 0, else a draw from <see cref="Probabilities"/>.</summary>
    public static int Sample(ReadOnlySpan<float> logits, SamplingOptions options, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(generator);
        if (options.Temperature == 0)
        {
            options.Validate();
            return Argmax(logits);
        }
        var p = Probabilities(logits, options);
        double u = generator.NextDouble(), cumulative = 0;
        int last = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0) continue;
            last = i;
            cumulative += p[i];
            if (u < cumulative) return i;
        }
        return last; // rounding left u just above the total: the last candidate
    }

    /// <summary>The values of a 1-D float tensor (logits) as float32, whatever its float dtype.</summary>
    public static float[] Row(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.DType == DType.Float32) return logits.ToArray<float>();
        var values = logits.ToDoubleArray();
        var row = new float[values.Length];
        for (int i = 0; i < row.Length; i++) row[i] = (float)values[i];
        return row;
    }

    /// <summary>Marks the <paramref name="k"/> largest logits (lower index first on ties); all of them when k &gt;= the count.</summary>
    internal static void TopKMask(ReadOnlySpan<float> logits, int k, Span<bool> keep)
    {
        int n = logits.Length;
        if (k >= n)
        {
            keep.Fill(true);
            return;
        }
        keep.Clear();
        // k passes of a max search: k is small (tens) and n is a vocabulary, so this beats sorting.
        for (int pick = 0; pick < k; pick++)
        {
            int best = -1;
            for (int i = 0; i < n; i++)
                if (!keep[i] && !float.IsNaN(logits[i]) && (best < 0 || logits[i] > logits[best])) best = i;
            if (best < 0) break;
            keep[best] = true;
        }
    }
}
