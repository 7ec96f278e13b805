namespace DeepSharp.Data.Text;

/// <summary>
/// Language-modelling examples cut from one token stream: example i is the window
/// tokens[i*T .. i*T+T) as input and the same window shifted by one as target (next-token prediction).
/// </summary>
public sealed class LanguageModelDataset : IBatchDataset
{
    private readonly long[] _tokens;

    /// <summary>Cuts <paramref name="tokens"/> into consecutive windows of <paramref name="sequenceLength"/> tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sequenceLength"/> is not positive.</exception>
    /// <exception cref="ArgumentException">There are fewer than <paramref name="sequenceLength"/> + 1 tokens.</exception>
    public LanguageModelDataset(long[] tokens, int sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), $"language model data: sequence length must be positive, got {sequenceLength}");
        if (tokens.Length < sequenceLength + 1)
            throw new ArgumentException($"language model data: {tokens.Length} tokens are fewer than one sequence of {sequenceLength} + 1");
        _tokens = tokens;
        SequenceLength = sequenceLength;
    }

    /// <summary>Tokens per example, T.</summary>
    public int SequenceLength { get; }

    /// <summary>Number of whole windows: (tokens - 1) / T.</summary>
    public int Count => (_tokens.Length - 1) / SequenceLength;

    /// <summary>Window <paramref name="index"/>: input [T] and target [T] (int64, shifted by one).</summary>
    public (Tensor Input, Tensor Target) Get(int index) => GetBatch([index]) is var (x, y) ? (x.Squeeze(0), y.Squeeze(0)) : default;

    /// <summary>The windows at <paramref name="indices"/>: input [B, T] and target [B, T] (int64, shifted by one).</summary>
    public (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices)
    {
        int t = SequenceLength;
        var x = new long[indices.Length * t];
        var y = new long[indices.Length * t];
        for (int b = 0; b < indices.Length; b++)
        {
            int i = indices[b];
            if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"language model data: index {i} is outside [0, {Count})");
            _tokens.AsSpan(i * t, t).CopyTo(x.AsSpan(b * t, t));
            _tokens.AsSpan(i * t + 1, t).CopyTo(y.AsSpan(b * t, t));
        }
        return (Tensor.From(x, indices.Length, t), Tensor.From(y, indices.Length, t));
    }
}

/// <summary>
/// Truncated-BPTT batching (char-rnn style): the stream is cut into B parallel streams and batch k
/// holds window k of every stream, so the hidden state of batch k is the right start for batch k+1.
/// </summary>
public sealed class StreamBatches
{
    private readonly long[] _tokens;

    /// <summary>Cuts <paramref name="tokens"/> into <paramref name="batchSize"/> parallel streams read in windows of <paramref name="sequenceLength"/>.</summary>
    /// <exception cref="ArgumentException">The batch size or sequence length is not positive.</exception>
    public StreamBatches(long[] tokens, int batchSize, int sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (batchSize <= 0 || sequenceLength <= 0) throw new ArgumentException($"stream batches: batch size {batchSize} and sequence length {sequenceLength} must be positive");
        _tokens = tokens;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        StreamLength = (tokens.Length - 1) / batchSize;
        if (StreamLength < sequenceLength)
            throw new ArgumentException($"stream batches: {tokens.Length} tokens cannot fill {batchSize} streams of at least {sequenceLength + 1} tokens");
    }

    /// <summary>Number of parallel streams, B.</summary>
    public int BatchSize { get; }
    /// <summary>Tokens per window, T.</summary>
    public int SequenceLength { get; }
    /// <summary>Tokens in each stream: (tokens - 1) / B.</summary>
    public int StreamLength { get; }

    /// <summary>Batches per pass over the stream.</summary>
    public int Count => StreamLength / SequenceLength;

    /// <summary>Window k of every stream: input [B, T] and target [B, T] (shifted by one).</summary>
    public (Tensor Input, Tensor Target) this[int k]
    {
        get
        {
            if ((uint)k >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(k), $"stream batches: batch {k} is outside [0, {Count})");
            int t = SequenceLength;
            var x = new long[BatchSize * t];
            var y = new long[BatchSize * t];
            for (int b = 0; b < BatchSize; b++)
            {
                int start = b * StreamLength + k * t;
                _tokens.AsSpan(start, t).CopyTo(x.AsSpan(b * t, t));
                _tokens.AsSpan(start + 1, t).CopyTo(y.AsSpan(b * t, t));
            }
            return (Tensor.From(x, BatchSize, t), Tensor.From(y, BatchSize, t));
        }
    }
}

/// <summary>
/// Random training windows (nanoGPT's get_batch): each batch holds <see cref="BatchSize"/> windows of
/// <see cref="SequenceLength"/> tokens starting at uniformly drawn offsets, the targets shifted by one.
/// The offsets come from a <see cref="Generator"/>, so a saved generator state gives the same batches again.
/// </summary>
public sealed class RandomWindows
{
    private readonly long[] _tokens;
    private readonly Generator _generator;
    private readonly long[] _starts;

    /// <summary>Windows of <paramref name="sequenceLength"/> tokens, <paramref name="batchSize"/> per batch, at offsets drawn from <paramref name="generator"/>.</summary>
    /// <exception cref="ArgumentException">The batch size or sequence length is not positive, or there are fewer than sequenceLength + 1 tokens.</exception>
    public RandomWindows(long[] tokens, int batchSize, int sequenceLength, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(generator);
        if (batchSize <= 0 || sequenceLength <= 0) throw new ArgumentException($"random windows: batch size {batchSize} and sequence length {sequenceLength} must be positive");
        if (tokens.Length < sequenceLength + 1)
            throw new ArgumentException($"random windows: {tokens.Length} tokens are fewer than one window of {sequenceLength} + 1");
        _tokens = tokens;
        _generator = generator;
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        _starts = new long[batchSize];
    }

    /// <summary>Windows per batch, B.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens per window, T.</summary>
    public int SequenceLength { get; }

    /// <summary>The next batch: input [B, T] and target [B, T] (int64).</summary>
    public (Tensor Input, Tensor Target) Next()
    {
        int t = SequenceLength;
        _generator.FillInt(_starts, 0, _tokens.Length - t); // the target of the last input token must exist
        var x = new long[BatchSize * t];
        var y = new long[BatchSize * t];
        for (int b = 0; b < BatchSize; b++)
        {
            int start = (int)_starts[b];
            _tokens.AsSpan(start, t).CopyTo(x.AsSpan(b * t, t));
            _tokens.AsSpan(start + 1, t).CopyTo(y.AsSpan(b * t, t));
        }
        return (Tensor.From(x, BatchSize, t), Tensor.From(y, BatchSize, t));
    }
}

/// <summary>The tinyshakespeare corpus (about 1.1 MB of plays), located like the image datasets.</summary>
public static class TinyShakespeare
{
    /// <summary>SHA-256 of the canonical input.txt (as in ../shared/data/SHA256SUMS).</summary>
    public const string Sha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";

    /// <summary>The text, from an explicit file, DEEPSHARP_DATA/tinyshakespeare, the repo's data/ or /usr/share/datasets.</summary>
    public static string Load(string? path = null)
    {
        if (path is not null)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"tinyshakespeare: '{path}' not found");
            return File.ReadAllText(path);
        }
        var searched = new List<string>();
        foreach (var (dir, why) in DatasetLocator.Candidates("tinyshakespeare", null))
        {
            var file = Path.Combine(dir, "input.txt");
            searched.Add($"{file} ({why})");
            if (File.Exists(file)) return File.ReadAllText(file);
        }
        throw new FileNotFoundException("tinyshakespeare: input.txt not found. Searched:\n  - " + string.Join("\n  - ", searched) +
            "\nPut the corpus (https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt) in one of these places or pass --data text:PATH.");
    }

    /// <summary>The first (1 - validationFraction) of the text for training, the rest for validation (a contiguous split, as char-rnn).</summary>
    public static (string Train, string Validation) Split(string text, double validationFraction = 0.1)
    {
        if (validationFraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(validationFraction), "validation fraction must be in (0, 1)");
        int cut = (int)(text.Length * (1 - validationFraction));
        return (text[..cut], text[cut..]);
    }
}
