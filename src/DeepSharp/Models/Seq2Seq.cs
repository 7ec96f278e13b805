using System.Globalization;
using DeepSharp.NN;

namespace DeepSharp.Models;

/// <summary>How the decoder of a <see cref="Seq2Seq"/> attends to the encoder outputs.</summary>
public enum Seq2SeqAttention
{
    /// <summary>Bahdanau: score = v^T tanh(W_q s_{t-1} + W_k h_j), with the previous decoder state as the query; the context is part of the cell input.</summary>
    Additive,

    /// <summary>Luong "dot": score = s_t^T h_j with the new decoder state; output from tanh(W_c [context; s_t]).</summary>
    Dot,

    /// <summary>Luong "general": score = s_t^T W h_j.</summary>
    General,
}

/// <summary>
/// Sizes and special tokens of a <see cref="Seq2Seq"/> model. Source and target share the special ids:
/// <see cref="PadId"/> fills short sequences (ignored by the attention and the loss), <see cref="BosId"/>
/// starts every decoder input and <see cref="EosId"/> ends every target.
/// </summary>
public sealed record Seq2SeqConfig(int SourceVocab, int TargetVocab, int EmbeddingDim = 32, int HiddenSize = 128, RecurrentCellType Cell = RecurrentCellType.Gru,
    Seq2SeqAttention Attention = Seq2SeqAttention.Additive, int PadId = 0, int BosId = 1, int EosId = 2)
{
    /// <summary>Checks the configuration.</summary>
    /// <exception cref="ArgumentException">The cell is unknown, a size is not positive, or a special id is outside a vocabulary.</exception>
    public void Validate()
    {
        if (Cell is not (RecurrentCellType.Gru or RecurrentCellType.Lstm)) throw new ArgumentException($"Seq2Seq: cell must be RecurrentCellType.Gru or RecurrentCellType.Lstm, got {Cell}");
        if (SourceVocab <= 0 || TargetVocab <= 0 || EmbeddingDim <= 0 || HiddenSize <= 0)
            throw new ArgumentException($"Seq2Seq: vocabularies ({SourceVocab}, {TargetVocab}), embedding dim ({EmbeddingDim}) and hidden size ({HiddenSize}) must be positive");
        foreach (var (name, id) in new[] { ("pad", PadId), ("bos", BosId), ("eos", EosId) })
            if (id < 0 || id >= TargetVocab) throw new ArgumentException($"Seq2Seq: the {name} id {id} is outside the target vocabulary [0, {TargetVocab})");
        if (PadId >= SourceVocab) throw new ArgumentException($"Seq2Seq: the pad id {PadId} is outside the source vocabulary [0, {SourceVocab})");
    }
}

/// <summary>A decoded sequence: the tokens (without BOS and EOS), its attention weights [tokens(+EOS), source length] and its log-probability.</summary>
public sealed record Seq2SeqResult(long[] Tokens, float[,] Attention, double LogProbability);

/// <summary>A beam-search hypothesis: tokens (without BOS/EOS), summed log-probability, the length-normalised score it was ranked by, and whether it ended with EOS.</summary>
public sealed record BeamHypothesis(long[] Tokens, double LogProbability, double Score, bool Finished);

/// <summary>
/// Encoder-decoder with attention: a GRU/LSTM encoder reads the source tokens; a decoder cell generates the
/// target one token at a time, attending over all encoder outputs at every step (padding masked out).
/// Training uses teacher forcing (the true previous token is fed with probability <c>teacherForcingRatio</c>,
/// else the model's own prediction); inference uses <see cref="Greedy"/> or <see cref="BeamSearch"/>.
/// <para>
/// The decoder cell's input is [embedding(y_{t-1}); feed] where feed is the attention context of this step
/// (additive attention, Bahdanau et al.) or the previous attentional state tanh(W_c [context; s]) (Luong
/// attention with input feeding). Its state starts from the encoder's final state.
/// Keys: <c>encoder.embed.weight</c>, <c>encoder.rnn.*_l0</c>, <c>decoder.embed.weight</c>, <c>decoder.cell.*</c>
/// (nn.GRUCell/nn.LSTMCell), <c>decoder.attention.*</c>, <c>decoder.combine.*</c> (Luong only), <c>decoder.out.*</c>.
/// </para>
/// </summary>
public sealed class Seq2Seq : Module
{
    /// <summary>Builds the encoder and decoder for <paramref name="config"/>.</summary>
    /// <param name="config">Vocabularies, sizes, cell, attention and special ids; validated first.</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights; null uses the default generator.</param>
    /// <exception cref="ArgumentException">The configuration is invalid.</exception>
    public Seq2Seq(Seq2SeqConfig config, DType dtype = DType.Float32, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        Encoder = RegisterModule("encoder", new Seq2SeqEncoder(config, dtype, generator));
        Decoder = RegisterModule("decoder", new Seq2SeqDecoder(config, dtype, generator));
    }

    /// <summary>The sizes and special ids the model was built with.</summary>
    public Seq2SeqConfig Config { get; }

    /// <summary>The encoder (keys <c>encoder.*</c>).</summary>
    public Seq2SeqEncoder Encoder { get; }

    /// <summary>The attention decoder (keys <c>decoder.*</c>).</summary>
    public Seq2SeqDecoder Decoder { get; }

    /// <inheritdoc/>
    public override string TypeName => "Seq2Seq";

    /// <summary>
    /// Teacher-forced logits [B, T, targetVocab] for source [B, S] (int64, padded with PadId beyond
    /// <paramref name="sourceLengths"/>; all S when null) and decoder input [B, T] (BOS then the target
    /// shifted right). At step t > 0 the true token <c>targetInput[:, t]</c> is fed with probability
    /// <paramref name="teacherForcingRatio"/> (one draw per step from <paramref name="generator"/>), else the
    /// argmax of the previous step's logits.
    /// </summary>
    public Tensor Forward(Tensor source, int[]? sourceLengths, Tensor targetInput, double teacherForcingRatio = 1, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(targetInput);
        if (!(teacherForcingRatio >= 0 && teacherForcingRatio <= 1))
            throw new ArgumentOutOfRangeException(nameof(teacherForcingRatio), teacherForcingRatio, "Seq2Seq: the teacher-forcing ratio must be in [0, 1]");
        var memory = Decoder.Prepare(Encoder.Encode(source, sourceLengths));
        if (targetInput.Rank != 2 || targetInput.DType != DType.Int64 || targetInput.ShapeArray[0] != memory.Batch)
            throw new ArgumentException($"Seq2Seq: the decoder input must be int64 [B, T] with B = {memory.Batch}, got {targetInput.Describe()}");
        int steps = targetInput.ShapeArray[1];
        var state = Decoder.InitialState(memory);
        var logits = new Tensor[steps];
        var input = targetInput.Select(1, 0);
        for (int t = 0; t < steps; t++)
        {
            if (t > 0)
            {
                bool force = teacherForcingRatio >= 1 || (teacherForcingRatio > 0 && (generator ?? Generator.Default).NextDouble() < teacherForcingRatio);
                input = force ? targetInput.Select(1, t) : logits[t - 1].Detach().Argmax(1);
            }
            (logits[t], state, _) = Decoder.Step(input, state, memory);
        }
        return Tensor.Stack(logits, 1);
    }

    /// <summary>
    /// Greedy decoding of a batch of sources (eval mode, no gradients): the most likely token at every step,
    /// until EOS or <paramref name="maxLength"/> tokens. One result per example, with its attention matrix.
    /// </summary>
    public Seq2SeqResult[] Greedy(Tensor source, int[]? sourceLengths, int maxLength)
    {
        if (maxLength < 0) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "Seq2Seq.Greedy: maxLength must be non-negative");
        using var mode = new EvalScope(this);
        using var noGrad = Autograd.NoGrad();
        var memory = Decoder.Prepare(Encoder.Encode(source, sourceLengths));
        int batch = memory.Batch, srcLen = memory.SourceLength;
        var state = Decoder.InitialState(memory);
        var input = Tensor.Full([batch], Config.BosId, DType.Int64);
        var tokens = new List<long>[batch];
        var weights = new List<float[]>[batch];
        var logProb = new double[batch];
        var done = new bool[batch];
        for (int b = 0; b < batch; b++) (tokens[b], weights[b]) = ([], []);
        for (int t = 0; t < maxLength && done.Contains(false); t++)
        {
            (var logits, state, var attention) = Decoder.Step(input, state, memory);
            var logp = logits.LogSoftmax(1);
            var next = new long[batch];
            for (int b = 0; b < batch; b++)
            {
                var row = Sampling.Row(logp[b]);
                int best = Sampling.Argmax(row);
                next[b] = best;
                if (done[b]) continue;
                logProb[b] += row[best];
                weights[b].Add(Sampling.Row(attention[b]));
                if (best == Config.EosId) done[b] = true;
                else tokens[b].Add(best);
            }
            input = Tensor.From(next, batch);
        }
        var results = new Seq2SeqResult[batch];
        for (int b = 0; b < batch; b++) results[b] = new Seq2SeqResult([.. tokens[b]], ToMatrix(weights[b], srcLen), logProb[b]);
        return results;
    }

    /// <summary>
    /// Beam search for one source sequence [S] or [1, S]: keeps the <paramref name="beamWidth"/> best partial
    /// hypotheses by summed log-probability; a hypothesis that emits EOS is finished. Search stops when
    /// <paramref name="beamWidth"/> hypotheses are finished or after <paramref name="maxLength"/> steps.
    /// Hypotheses are ranked by logP / length^<paramref name="lengthPenalty"/> (length counts EOS; 0 = no
    /// normalisation, 1 = mean log-probability per token), best first. With width 1 this is greedy decoding.
    /// </summary>
    public IReadOnlyList<BeamHypothesis> BeamSearch(Tensor source, int beamWidth, int maxLength, double lengthPenalty = 1.0)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (beamWidth <= 0) throw new ArgumentOutOfRangeException(nameof(beamWidth), beamWidth, "Seq2Seq.BeamSearch: the beam width must be positive");
        if (maxLength < 0) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "Seq2Seq.BeamSearch: maxLength must be non-negative");
        if (!(lengthPenalty >= 0)) throw new ArgumentOutOfRangeException(nameof(lengthPenalty), lengthPenalty, "Seq2Seq.BeamSearch: the length penalty must be >= 0");
        if (source.Rank == 1) source = source.Unsqueeze(0);
        if (source.Rank != 2 || source.ShapeArray[0] != 1)
            throw new ArgumentException($"Seq2Seq.BeamSearch: expected one source sequence [S] or [1, S], got {Shapes.Format(source.ShapeArray)}");
        using var mode = new EvalScope(this);
        using var noGrad = Autograd.NoGrad();
        var memory = Decoder.Prepare(Encoder.Encode(source, null));
        var state = Decoder.InitialState(memory);
        var alive = new List<(List<long> Tokens, double LogP)> { ([], 0) };
        var finished = new List<BeamHypothesis>();
        int vocab = Config.TargetVocab;
        for (int t = 0; t < maxLength && finished.Count < beamWidth; t++)
        {
            int k = alive.Count;
            var input = Tensor.From(alive.Select(h => h.Tokens.Count == 0 ? (long)Config.BosId : h.Tokens[^1]).ToArray(), k);
            var beamMemory = memory.Repeat(k);
            (var logits, var stepState, _) = Decoder.Step(input, state, beamMemory);
            var logp = Sampling.Row(logits.LogSoftmax(1).Reshape(-1)); // [k * V]
            // Candidates: every extension of every live beam, best first (lower index on ties, as greedy's argmax).
            var scores = new double[k * vocab];
            for (int i = 0; i < scores.Length; i++) scores[i] = alive[i / vocab].LogP + logp[i];
            var order = TopIndices(scores, Math.Min(2 * beamWidth, scores.Length));
            var parents = new List<long>(beamWidth);
            var next = new List<(List<long>, double)>();
            for (int rank = 0; rank < order.Length; rank++)
            {
                int c = order[rank], parent = c / vocab, token = c % vocab;
                var tokens = alive[parent].Tokens;
                if (token == Config.EosId)
                {
                    // Only an EOS among the best beamWidth candidates ends a hypothesis (as fairseq): with width 1 this is greedy.
                    if (rank < beamWidth && finished.Count < beamWidth) finished.Add(Hypothesis([.. tokens], scores[c], tokens.Count + 1, lengthPenalty, true));
                }
                else if (next.Count < beamWidth)
                {
                    next.Add(([.. tokens, token], scores[c]));
                    parents.Add(parent);
                }
            }
            if (next.Count == 0) break;
            alive = next;
            state = stepState.Reorder(Tensor.From(parents.ToArray(), parents.Count));
        }
        var all = finished.Count > 0 ? finished : alive.Select(h => Hypothesis([.. h.Tokens], h.LogP, h.Tokens.Count, lengthPenalty, false)).ToList();
        return [.. all.OrderByDescending(h => h.Score)];
    }

    private static BeamHypothesis Hypothesis(long[] tokens, double logP, int length, double lengthPenalty, bool finished) =>
        new(tokens, logP, lengthPenalty == 0 || length == 0 ? logP : logP / Math.Pow(length, lengthPenalty), finished);

    /// <summary>Indices of the <paramref name="count"/> largest values, largest first, lower index first on ties.</summary>
    private static int[] TopIndices(double[] values, int count)
    {
        var idx = new int[values.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(idx, (a, b) => values[b].CompareTo(values[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return idx[..count];
    }

    private static float[,] ToMatrix(List<float[]> rows, int cols)
    {
        var m = new float[rows.Count, cols];
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < cols; j++) m[i, j] = rows[i][j];
        return m;
    }

    /// <summary>Eval mode for the lifetime of the scope, then the previous mode.</summary>
    private readonly struct EvalScope : IDisposable
    {
        private readonly Module _module;
        private readonly bool _wasTraining;

        public EvalScope(Module module)
        {
            _module = module;
            _wasTraining = module.Training;
            module.Eval();
        }

        public void Dispose() => _module.Train(_wasTraining);
    }
}

/// <summary>What the encoder hands the decoder: outputs [B, S, H], the final state and the padding mask [B, S] (true = padding).</summary>
public sealed record EncoderMemory(Tensor Outputs, Tensor H, Tensor? C, Tensor? Mask)
{
    /// <summary>Batch size B.</summary>
    public int Batch => Outputs.ShapeArray[0];

    /// <summary>Source length S (padded).</summary>
    public int SourceLength => Outputs.ShapeArray[1];

    /// <summary>The attention keys after the attention's key projection (W_k h_j or W h_j), computed once per sequence; null for dot scores.</summary>
    internal Tensor? ProjectedKeys { get; init; }

    /// <summary>This memory repeated <paramref name="k"/> times along the batch (for the beams of one example).</summary>
    internal EncoderMemory Repeat(int k)
    {
        if (Batch == k) return this;
        if (Batch != 1) throw new InvalidOperationException($"Seq2Seq: only a single example's memory can be repeated, this one has batch {Batch}");
        static Tensor? Rep(Tensor? t, int k) => t?.Expand([k, .. t.ShapeArray[1..]]);
        return new EncoderMemory(Rep(Outputs, k)!, H, C, Rep(Mask, k)) { ProjectedKeys = Rep(ProjectedKeys, k) };
    }
}

/// <summary>The encoder of a <see cref="Seq2Seq"/>: embedding and a single-layer GRU/LSTM over the source (batch-first).</summary>
public sealed class Seq2SeqEncoder : Module
{
    internal Seq2SeqEncoder(Seq2SeqConfig config, DType dtype, Generator? generator)
    {
        Config = config;
        Embed = RegisterModule("embed", new Embedding(config.SourceVocab, config.EmbeddingDim, config.PadId, dtype, generator));
        Rnn = RegisterModule<RecurrentBase>("rnn", config.Cell == RecurrentCellType.Gru
            ? new Gru(config.EmbeddingDim, config.HiddenSize, batchFirst: true, dtype: dtype, generator: generator)
            : new Lstm(config.EmbeddingDim, config.HiddenSize, batchFirst: true, dtype: dtype, generator: generator));
    }

    /// <summary>The model's configuration.</summary>
    public Seq2SeqConfig Config { get; }

    /// <summary>Source token embedding (key <c>encoder.embed.weight</c>; the pad row stays zero).</summary>
    public Embedding Embed { get; }

    /// <summary>Single-layer batch-first GRU or LSTM over the embedded source.</summary>
    public RecurrentBase Rnn { get; }

    /// <inheritdoc/>
    public override string TypeName => "Encoder";

    /// <summary>Runs the source [B, S] (int64; lengths give packed-sequence semantics, padding never reaches the state).</summary>
    public EncoderMemory Encode(Tensor source, int[]? lengths)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Rank != 2 || source.DType != DType.Int64)
            throw new ArgumentException($"Seq2Seq: the source must be int64 tokens [B, S], got {source.Describe()}");
        int batch = source.ShapeArray[0], s = source.ShapeArray[1];
        if (s == 0) throw new ArgumentException("Seq2Seq: the source sequences are empty (S = 0)");
        if (lengths is not null)
            foreach (int l in lengths)
                if (l < 1) throw new ArgumentException($"Seq2Seq: every source sequence needs at least one token, got length {l}");
        var (outputs, hN, cN) = Rnn.Call(Embed.Call(source), null, null, lengths);
        Tensor? mask = null;
        if (lengths is not null && lengths.Any(l => l < s))
        {
            var m = new bool[batch * s];
            for (int b = 0; b < batch; b++)
                for (int j = lengths[b]; j < s; j++) m[b * s + j] = true;
            mask = Tensor.From(m, batch, s);
        }
        return new EncoderMemory(outputs, hN.Select(0, 0), cN?.Select(0, 0), mask);
    }
}

/// <summary>The decoder's recurrent state: h (and c for LSTM) [B, H] and the feed vector [B, H] of the next step's input.</summary>
public sealed record DecoderState(Tensor H, Tensor? C, Tensor Feed)
{
    /// <summary>The states of the given batch rows (beam search follows each surviving hypothesis's parent).</summary>
    internal DecoderState Reorder(Tensor rows) => new(H.IndexSelect(0, rows), C?.IndexSelect(0, rows), Feed.IndexSelect(0, rows));
}

/// <summary>The attention decoder of a <see cref="Seq2Seq"/> (see there for the equations).</summary>
public sealed class Seq2SeqDecoder : Module
{
    private readonly GruCell? _gru;
    private readonly LstmCell? _lstm;
    private readonly AdditiveAttention? _additive;
    private readonly LuongAttention? _luong;

    internal Seq2SeqDecoder(Seq2SeqConfig config, DType dtype, Generator? generator)
    {
        Config = config;
        int e = config.EmbeddingDim, h = config.HiddenSize;
        Embed = RegisterModule("embed", new Embedding(config.TargetVocab, e, config.PadId, dtype, generator));
        if (config.Cell == RecurrentCellType.Gru) _gru = RegisterModule("cell", new GruCell(e + h, h, dtype: dtype, generator: generator));
        else _lstm = RegisterModule("cell", new LstmCell(e + h, h, dtype: dtype, generator: generator));
        if (config.Attention == Seq2SeqAttention.Additive)
        {
            _additive = RegisterModule("attention", new AdditiveAttention(h, h, h, dtype, generator));
            Out = RegisterModule("out", new Linear(2 * h, config.TargetVocab, dtype: dtype, generator: generator));
        }
        else
        {
            _luong = RegisterModule("attention", new LuongAttention(config.Attention == Seq2SeqAttention.Dot ? LuongScore.Dot : LuongScore.General, h, h, dtype, generator));
            Combine = RegisterModule("combine", new Linear(2 * h, h, dtype: dtype, generator: generator));
            Out = RegisterModule("out", new Linear(h, config.TargetVocab, dtype: dtype, generator: generator));
        }
    }

    /// <summary>The model's configuration.</summary>
    public Seq2SeqConfig Config { get; }

    /// <summary>Target token embedding (key <c>decoder.embed.weight</c>; the pad row stays zero).</summary>
    public Embedding Embed { get; }

    /// <summary>Luong attention's W_c of tanh(W_c [context; s]) (null with additive attention).</summary>
    public Linear? Combine { get; }

    /// <summary>Linear layer to target-vocabulary logits.</summary>
    public Linear Out { get; }

    /// <inheritdoc/>
    public override string TypeName => "Decoder";

    /// <summary>The first state: the encoder's final state and a zero feed vector.</summary>
    public DecoderState InitialState(EncoderMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var feed = Tensor.Zeros([memory.Batch, Config.HiddenSize], memory.Outputs.DType);
        return new DecoderState(memory.H, _lstm is null ? null : memory.C, feed);
    }

    /// <summary>
    /// One decoding step: previous tokens [B] (int64) and state -> logits [B, targetVocab], the new state and
    /// the attention weights [B, S] over the source.
    /// </summary>
    public (Tensor Logits, DecoderState State, Tensor Attention) Step(Tensor previous, DecoderState state, EncoderMemory memory)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(memory);
        var embedded = Embed.Call(previous); // [B, E]
        if (_additive is not null)
        {
            // Bahdanau: attend with the previous state, then step on [y; context], predict from [s; context].
            var (context, weights) = Attend(state.H, memory);
            var (h, c) = Cell(Tensor.Cat([embedded, context], 1), state);
            return (Out.Call(Tensor.Cat([h, context], 1)), new DecoderState(h, c, context), weights);
        }
        else
        {
            // Luong with input feeding: step on [y; attentional state], attend with the new state.
            var (h, c) = Cell(Tensor.Cat([embedded, state.Feed], 1), state);
            var (context, weights) = Attend(h, memory);
            var attentional = Combine!.Call(Tensor.Cat([context, h], 1)).Tanh();
            return (Out.Call(attentional), new DecoderState(h, c, attentional), weights);
        }
    }

    private (Tensor H, Tensor? C) Cell(Tensor input, DecoderState state)
    {
        if (_gru is not null) return (_gru.Call(input, state.H), null);
        var (h, c) = _lstm!.Call(input, state.H, state.C);
        return (h, c);
    }

    /// <summary>Context [B, H] and weights [B, S] for query [B, H]; the key projection is cached in the memory for the whole sequence.</summary>
    private (Tensor Context, Tensor Weights) Attend(Tensor query, EncoderMemory memory)
    {
        var keys = memory.Outputs; // [B, S, H]
        Tensor scores;
        if (_additive is not null)
        {
            var projected = memory.ProjectedKeys ?? _additive.Wk.Call(keys);                 // [B, S, h]
            var features = (_additive.Wq.Call(query).Unsqueeze(1) + projected).Tanh();      // [B, S, h]
            scores = _additive.V.Call(features).Squeeze(-1);                                  // [B, S]
        }
        else
        {
            var projected = _luong!.W is null ? keys : memory.ProjectedKeys ?? _luong.W.Call(keys);
            scores = projected.MatMul(query.Unsqueeze(2)).Squeeze(-1);                      // [B, S]
        }
        if (memory.Mask is not null) scores = scores.MaskedFill(memory.Mask, double.NegativeInfinity);
        var weights = scores.Softmax(-1);
        var context = weights.Unsqueeze(1).MatMul(keys).Squeeze(1);                          // [B, H]
        return (context, weights);
    }

    /// <summary>The memory with its attention keys projected once, so the steps of a sequence share the projection.</summary>
    internal EncoderMemory Prepare(EncoderMemory memory)
    {
        if (memory.ProjectedKeys is not null) return memory;
        var projected = _additive is not null ? _additive.Wk.Call(memory.Outputs) : _luong!.W?.Call(memory.Outputs);
        return projected is null ? memory : memory with { ProjectedKeys = projected };
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => string.Create(CultureInfo.InvariantCulture, $"attention={Config.Attention.ToString().ToLowerInvariant()}");
}
