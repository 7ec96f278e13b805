namespace DeepSharp.Onnx;

// Text features over integer tokens: TfIdfVectorizer (pool_int64s; the string pool needs string tensors).
internal static partial class OnnxOps
{
    private static void RegisterText(Dictionary<string, Op> ops) => ops["TfIdfVectorizer"] = n => One(TfIdfVectorizer(n));

    /// <summary>TfIdfVectorizer settings DeepSharp does not implement (reported at load time), or null.</summary>
    private static string? TfIdfSetting(OnnxNode n) =>
        n.Has("pool_strings") ? "TfIdfVectorizer(pool_strings)"
        : n.String("mode", "") is not ("TF" or "IDF" or "TFIDF") and var mode ? $"TfIdfVectorizer(mode={mode})"
        : null;

    /// <summary>
    /// TfIdfVectorizer: per row of X ([C] or [N, C] tokens), counts of the pool's n-grams (min_gram_length to
    /// max_gram_length tokens, taken every 1 to max_skip_count + 1 positions; unigrams once) at their ngram_indexes;
    /// TF keeps the counts, IDF gives weight where a count is non-zero, TFIDF count * weight (weights default 1).
    /// </summary>
    private static Tensor TfIdfVectorizer(OnnxNode n)
    {
        var x = n.Input(0);
        if (x.Rank is not (1 or 2)) throw new InvalidDataException($"ONNX {n.Describe}: X must be [C] or [N, C], got {Shapes.Format(x.ShapeArray)}");
        int minGram = (int)n.Int("min_gram_length", 1), maxGram = (int)n.Int("max_gram_length", 1), maxSkip = (int)n.Int("max_skip_count", 0);
        string mode = n.String("mode", "TF");
        long[] pool = n.Ints("pool_int64s") ?? throw new InvalidDataException($"ONNX {n.Describe}: no pool_int64s");
        long[] starts = n.Ints("ngram_counts") ?? throw new InvalidDataException($"ONNX {n.Describe}: no ngram_counts");
        long[] outputIndex = n.Ints("ngram_indexes") ?? throw new InvalidDataException($"ONNX {n.Describe}: no ngram_indexes");
        double[]? weights = n.Attribute("weights") is { } w ? [.. w.Floats.Select(f => (double)f)] : null;
        if (minGram < 1 || maxGram < minGram || maxSkip < 0) throw new InvalidDataException($"ONNX {n.Describe}: gram lengths {minGram}..{maxGram}, max_skip_count {maxSkip}");
        // The pool's n-grams by length, each with its output column.
        var grams = new Dictionary<string, long>[starts.Length + 1];
        int gram = 0;
        for (int len = 1; len <= starts.Length; len++)
        {
            grams[len] = new Dictionary<string, long>(StringComparer.Ordinal);
            long end = len < starts.Length ? starts[len] : pool.Length;
            for (long at = starts[len - 1]; at + len <= end; at += len, gram++)
            {
                if (gram >= outputIndex.Length) throw new InvalidDataException($"ONNX {n.Describe}: ngram_indexes has {outputIndex.Length} entries for more n-grams");
                grams[len][string.Join(",", pool.Skip((int)at).Take(len))] = outputIndex[gram];
            }
        }
        int width = outputIndex.Length == 0 ? 0 : (int)outputIndex.Max() + 1;
        int rows = x.Rank == 1 ? 1 : x.ShapeArray[0], length = x.ShapeArray[^1];
        var tokens = x.To(DType.Int64).ToArray<long>();
        var counts = new double[rows * width];
        var parts = new long[maxGram];
        for (int r = 0; r < rows; r++)
            for (int len = minGram; len <= Math.Min(maxGram, starts.Length); len++)
                for (int skip = 0; skip <= (len == 1 ? 0 : maxSkip); skip++)
                    for (int start = 0; start + (len - 1) * (skip + 1) < length; start++)
                    {
                        for (int k = 0; k < len; k++) parts[k] = tokens[r * length + start + k * (skip + 1)];
                        if (grams[len].TryGetValue(string.Join(",", parts.Take(len)), out long column)) counts[r * width + column]++;
                    }
        if (mode != "TF")
            for (int i = 0; i < counts.Length; i++)
            {
                double weight = weights is null ? 1 : weights[i % width];
                counts[i] = mode == "IDF" ? (counts[i] > 0 ? weight : 0) : counts[i] * weight;
            }
        var result = Tensor.From(counts, rows, width);
        return (x.Rank == 1 ? result.Reshape(width) : result).To(DType.Float32);
    }
}
