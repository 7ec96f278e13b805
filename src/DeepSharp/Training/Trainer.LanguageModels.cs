using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Training;

// The language-model side of the trainer: how a token sequence becomes batches (TrainingBatches), the per-token
// cross-entropy, the recurrent state carried between batches, and evaluation over held-out text.
public sealed partial class Trainer
{
    private readonly CharRnn? _rnn;
    private readonly Gpt? _gpt;

    /// <summary>
    /// A trainer for a character-level RNN, trained with truncated backpropagation through time: the token stream is cut
    /// into <see cref="LanguageModelOptions.BatchSize"/> parallel streams (<see cref="StreamBatches"/>), batch k holds window
    /// k of every stream, and the hidden state at the end of batch k is carried, detached, into batch k+1 (so the model
    /// sees the whole text in order while gradients stop at batch boundaries). The state resets to zero at the start of
    /// every epoch. The loss is the mean cross-entropy over all [B*T] predictions in nats per token. Epoch logs: loss,
    /// val_loss, perplexity = exp(val_loss), lr, tokens_per_second (also as samples_per_second), seconds.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">A size in <paramref name="options"/> is not positive.</exception>
    public Trainer(CharRnn model, Optimizer optimizer, TrainerOptions? options = null)
        : this(model, TokenLoss(model?.Config.VocabSize ?? 0), optimizer, options, null, model is null ? null : model.Metadata)
    {
        _rnn = model;
        _forward = ForwardCarryingState;
        CheckLanguageModelOptions();
    }

    /// <summary>
    /// A trainer for a GPT, trained on random windows of <see cref="LanguageModelOptions.SequenceLength"/> tokens (targets
    /// shifted by one; nothing carried between batches), <see cref="LanguageModelOptions.StepsPerEpoch"/> optimizer steps
    /// per epoch, with optional gradient accumulation; validation runs over consecutive non-overlapping windows of the
    /// held-out tokens. Epoch logs as for a <see cref="CharRnn"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">A size in <paramref name="options"/> is not positive, or the windows are longer than the model's context.</exception>
    public Trainer(Gpt model, Optimizer optimizer, TrainerOptions? options = null)
        : this(model, TokenLoss(model?.Config.VocabSize ?? 0), optimizer, options, null, model is null ? null : model.Metadata)
    {
        _gpt = model;
        CheckLanguageModelOptions();
        if (Options.LanguageModel.SequenceLength > model!.Config.Context)
            throw new ArgumentException($"Trainer: windows of {Options.LanguageModel.SequenceLength} tokens exceed the GPT's context of {model.Config.Context}");
    }

    private void CheckLanguageModelOptions()
    {
        var lm = Options.LanguageModel ?? throw new ArgumentException("Trainer: TrainerOptions.LanguageModel is null; leave it out for the defaults");
        if (lm.BatchSize <= 0 || lm.SequenceLength <= 0)
            throw new ArgumentException($"Trainer: batch size ({lm.BatchSize}) and sequence length ({lm.SequenceLength}) must be positive");
        if (lm.StepsPerEpoch is int spe && spe <= 0)
            throw new ArgumentException($"Trainer: steps per epoch must be positive, got {spe}");
        CheckOptions();
    }

    /// <summary>Mean cross-entropy of logits [B, T, V] against int64 targets [B, T], in nats per token.</summary>
    private static Func<Tensor, Tensor, Tensor> TokenLoss(int vocabSize) => (logits, target) =>
    {
        if (logits.Rank != 3 || !logits.ShapeArray.AsSpan(0, 2).SequenceEqual(target.ShapeArray))
            throw new ArgumentException($"Trainer: logits {Shapes.Format(logits.ShapeArray)} do not fit targets {Shapes.Format(target.ShapeArray)}; input and target must have the same shape [B, T]");
        return Functional.CrossEntropy(logits.Reshape(-1, vocabSize), target.Reshape(-1));
    };

    /// <summary>The state a <see cref="CharRnn"/> carries into its next training batch, detached (null: zeros; always null for other models).</summary>
    public RecurrentState? State { get; private set; }

    /// <summary>Forgets the carried state: the next batch starts from zeros.</summary>
    public void ResetState() => State = null;

    // A CharRnn's training forward: from the carried state (reset when the number of streams changes), keeping the final one detached.
    private Tensor ForwardCarryingState(Tensor input)
    {
        if (State is not null && State.H.ShapeArray[1] != input.ShapeArray[0]) State = null;
        var (logits, state) = _rnn!.Forward(input, State);
        State = state.Detach(); // values carry over; gradients stop at this batch boundary
        return logits;
    }

    /// <summary>Optimizer steps per epoch of <paramref name="trainTokens"/> with the current options (a language model's trainer only).</summary>
    public int StepsPerEpoch(long[] trainTokens)
    {
        ArgumentNullException.ThrowIfNull(trainTokens);
        var lm = LanguageModelOptions();
        if (_gpt is null) return new StreamBatches(trainTokens, lm.BatchSize * World, lm.SequenceLength).Count;
        if (lm.StepsPerEpoch is int steps) return steps;
        long perStep = (long)lm.BatchSize * lm.SequenceLength * Options.GradientAccumulationSteps;
        return (int)Math.Max(1, Math.Min(int.MaxValue, trainTokens.Length / perStep));
    }

    private LanguageModelOptions LanguageModelOptions() => _rnn is not null || _gpt is not null ? Options.LanguageModel
        : throw new InvalidOperationException("Trainer: this trainer was built for a model with a loss and trains on a DataLoader; construct it with a CharRnn or a Gpt to train on tokens");

    /// <summary>
    /// Trains a language model on <paramref name="trainTokens"/> until <paramref name="epochs"/> epochs are complete in total,
    /// as <see cref="Fit(Data.DataLoader, Data.DataLoader, int, IReadOnlyList{ICallback}, CancellationToken)"/> does with a
    /// loader (the same callbacks, accumulation, step limit, interruption and checkpoints), validating on
    /// <paramref name="validationTokens"/> after every epoch (val_loss and perplexity). A trainer restored from a checkpoint
    /// of an interrupted run continues with the next batch of that epoch, from a zero state (the carried state is not saved).
    /// </summary>
    /// <param name="trainTokens">The training text's token ids.</param>
    /// <param name="validationTokens">The held-out text's token ids, or null.</param>
    /// <param name="epochs">Epochs in total, those of a resumed run included.</param>
    /// <param name="callbacks">Called around epochs and steps (<see cref="ModelCheckpoint"/>, an Insight recorder, ...).</param>
    /// <param name="cancellationToken">Stops training at the next step boundary.</param>
    public TrainingHistory Fit(long[] trainTokens, long[]? validationTokens, int epochs, IReadOnlyList<ICallback>? callbacks = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainTokens);
        var lm = LanguageModelOptions();
        TrainingBatches batches;
        if (_gpt is not null)
        {
            if (Options.DataParallel is not null) throw new NotSupportedException("Trainer: data-parallel training of a Gpt is not supported yet; train it in one process");
            var windows = new RandomWindows(trainTokens, lm.BatchSize, lm.SequenceLength, lm.WindowGenerator ?? Generator.Default);
            batches = new WindowBatches(windows, StepsPerEpoch(trainTokens), Options.GradientAccumulationSteps);
        }
        else batches = new StreamedBatches(trainTokens, lm.BatchSize * World, lm.SequenceLength, MyRows); // data-parallel: the global batch
        return Run(batches, validationTokens is null ? null : _ => Evaluate(validationTokens), epochs, callbacks, cancellationToken);
    }

    /// <summary>This rank's rows of a global batch [World x B, T].</summary>
    private Tensor MyRows(Tensor global) =>
        Options.DataParallel is { } dp ? global.Narrow(0, dp.Communicator.Rank * (global.ShapeArray[0] / World), global.ShapeArray[0] / World) : global;

    /// <summary>
    /// Mean cross-entropy (nats per token, <see cref="EvaluationResult.Loss"/>) of predicting each token of
    /// <paramref name="tokens"/> from the ones before it, in eval mode without gradients. A <see cref="CharRnn"/> streams
    /// the text like training (parallel streams, state carried across windows; short texts use fewer streams or one shorter
    /// window); data-parallel, the streams of the global batch are shared out among the ranks and the result is the same on
    /// every rank (each must call this). A <see cref="Gpt"/> predicts consecutive non-overlapping windows.
    /// </summary>
    public EvaluationResult Evaluate(long[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var lm = LanguageModelOptions();
        if (tokens.Length < 2) throw new ArgumentException($"Trainer.Evaluate: need at least 2 tokens, got {tokens.Length}");
        using var eval = new EvalMode(Model);
        int t = Math.Min(lm.SequenceLength, tokens.Length - 1);
        return new EvaluationResult(_gpt is not null ? EvaluateWindows(tokens, t) : EvaluateStreams(tokens, t), null, tokens.Length - 1, null, null);
    }

    private double EvaluateStreams(long[] tokens, int t)
    {
        int b = Math.Max(1, Math.Min(Options.LanguageModel.BatchSize * World, (tokens.Length - 1) / t));
        var batches = new StreamBatches(tokens, b, t);
        // Data-parallel: rank r evaluates streams [b r / N, b (r + 1) / N) (perhaps none); the sums are added over ranks.
        int rank = Options.DataParallel?.Communicator.Rank ?? 0;
        int first = (int)((long)b * rank / World), rows = (int)((long)b * (rank + 1) / World) - first;
        RecurrentState? state = null;
        double sum = 0;
        for (int k = 0; k < batches.Count && rows > 0; k++)
        {
            var (input, target) = batches[k];
            if (rows < b) (input, target) = (input.Narrow(0, first, rows), target.Narrow(0, first, rows));
            (var logits, state) = _rnn!.Forward(input, state);
            sum += _loss(logits, target).ToDouble() * rows / b;
        }
        if (Options.DataParallel is { } dp) sum = dp.Sum(sum)[0];
        return sum / batches.Count;
    }

    /// <summary>A GPT's mean loss over consecutive non-overlapping windows (each token predicted from the earlier ones of its window).</summary>
    private double EvaluateWindows(long[] tokens, int t)
    {
        var windows = new LanguageModelDataset(tokens, t);
        int batch = Options.LanguageModel.BatchSize;
        double sum = 0;
        var indices = new int[batch];
        for (int start = 0; start < windows.Count; start += batch)
        {
            int n = Math.Min(batch, windows.Count - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            var (input, target) = windows.GetBatch(indices.AsSpan(0, n));
            sum += n * _loss(_gpt!.Call(input), target).ToDouble();
        }
        return sum / windows.Count;
    }
}
