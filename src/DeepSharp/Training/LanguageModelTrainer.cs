using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DeepSharp.Data.Text;
using DeepSharp.Distributed;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;

namespace DeepSharp.Training;

/// <summary>Options of a <see cref="LanguageModelTrainer"/>.</summary>
public sealed record LanguageModelTrainerOptions
{
    /// <summary>Parallel streams the token sequence is cut into (rows of a batch).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Time steps per batch: gradients flow back at most this far (truncated BPTT); for a <see cref="Gpt"/>, the window length (at most its context).</summary>
    public int SequenceLength { get; init; } = 100;

    /// <summary>Micro-batches whose gradients are summed (each loss divided by this count) before one optimizer step: an effective batch this many times larger.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>
    /// For a <see cref="Gpt"/>: optimizer steps per epoch, each on random windows (an "epoch" is then the interval between
    /// validations and checkpoints). Null: as many steps as cover the training tokens once.
    /// </summary>
    public int? StepsPerEpoch { get; init; }

    /// <summary>Draws the random windows a <see cref="Gpt"/> trains on (saved in checkpoints); Generator.Default when null.</summary>
    public Generator? WindowGenerator { get; init; }

    /// <summary>Clip the total gradient norm to this value before each step (char-rnn uses 5); null to not clip.</summary>
    public double? ClipGradNorm { get; init; } = 5.0;

    /// <summary>Learning-rate schedule, stepped after every optimizer step (<see cref="SchedulerPerBatch"/>) or every epoch.</summary>
    public LRScheduler? Scheduler { get; init; }

    /// <summary>Step <see cref="Scheduler"/> after every optimizer step (default) instead of after every epoch.</summary>
    public bool SchedulerPerBatch { get; init; } = true;

    /// <summary>Progress (a bar per epoch and a line per epoch with <see cref="ConsoleReporter"/>); silent when null.</summary>
    public ITrainingReporter? Reporter { get; init; }

    /// <summary>Writes <c>last.safetensors</c> after every epoch and <c>best.safetensors</c> when val_loss improves; none when null.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Generators saved in checkpoints besides Generator.Default (e.g. the model's dropout generator).</summary>
    public IReadOnlyList<Generator>? Generators { get; init; }

    /// <summary>Receive every step's loss and every epoch's logs (TensorBoard files, the live dashboard).</summary>
    public IReadOnlyList<ITrainingMonitor>? Monitors { get; init; }

    /// <summary>
    /// Records per-layer activation statistics, gradient norms and their warnings on every
    /// <c>Insight.Options.Every</c>-th step (what <see cref="Trainer.Fit"/> gets from an InsightRecorder callback);
    /// none when null. The dashboard's <c>Watch</c> options send them to the live page.
    /// </summary>
    public Insight.InsightRecorder? Insight { get; init; }

    /// <summary>
    /// Data-parallel training of a <see cref="CharRnn"/> over MPI: the text is cut into <see cref="BatchSize"/> x world
    /// size streams, of which rank r trains streams r x BatchSize to (r + 1) x BatchSize - 1 (each rank carries its own
    /// streams' state), so that a step equals one process's step with the global batch; gradients are averaged before
    /// clipping and the step, epoch losses averaged and validation shared out and summed over ranks. Every rank calls
    /// <see cref="LanguageModelTrainer.Fit"/> (give only rank 0 a <see cref="CheckpointDirectory"/> and a reporter).
    /// Not for a <see cref="Gpt"/> yet.
    /// </summary>
    public DataParallel? DataParallel { get; init; }
}

/// <summary>
/// Trains a language model on a token stream. A <see cref="Gpt"/> trains on random windows of
/// <see cref="LanguageModelTrainerOptions.SequenceLength"/> tokens (targets shifted by one; nothing carried between
/// batches), <see cref="LanguageModelTrainerOptions.StepsPerEpoch"/> optimizer steps per epoch, with optional gradient
/// accumulation; validation runs over consecutive non-overlapping windows of the held-out tokens.
/// A <see cref="CharRnn"/> trains with truncated backpropagation through time: the stream is cut
/// into <c>BatchSize</c> parallel streams (<see cref="StreamBatches"/>), batch k holds window k of every stream, and
/// the hidden state at the end of batch k is carried, detached, into batch k+1 (so the model sees the whole text
/// in order while gradients stop at batch boundaries). The state resets to zero at the start of every epoch.
/// Loss is the mean cross-entropy over all [B*T] predictions in nats per token; validation streams the
/// held-out tokens the same way without gradients. Epoch logs: loss, val_loss, perplexity = exp(val_loss),
/// lr, tokens_per_second (also as samples_per_second), seconds.
/// </summary>
public sealed class LanguageModelTrainer
{
    private int _resumeBatch;
    private int? _interruptedAt;

    private readonly CharRnn? _rnn;
    private readonly Gpt? _gpt;
    private RandomWindows? _windows;

    /// <summary>A trainer for a character-level RNN (truncated BPTT over parallel streams).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">A size in <paramref name="options"/> is not positive.</exception>
    public LanguageModelTrainer(CharRnn model, Optimizer optimizer, LanguageModelTrainerOptions? options = null)
        : this(model, optimizer, options, model?.Config.VocabSize ?? 0) => _rnn = model;

    /// <summary>A trainer for a GPT (random windows of <see cref="LanguageModelTrainerOptions.SequenceLength"/> tokens).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizer"/> is null.</exception>
    /// <exception cref="ArgumentException">A size in <paramref name="options"/> is not positive, or the windows are longer than the model's context.</exception>
    public LanguageModelTrainer(Gpt model, Optimizer optimizer, LanguageModelTrainerOptions? options = null)
        : this(model, optimizer, options, model?.Config.VocabSize ?? 0)
    {
        _gpt = model;
        if (Options.SequenceLength > model!.Config.Context)
            throw new ArgumentException($"LanguageModelTrainer: windows of {Options.SequenceLength} tokens exceed the GPT's context of {model.Config.Context}");
    }

    private LanguageModelTrainer(Module<Tensor, Tensor> model, Optimizer optimizer, LanguageModelTrainerOptions? options, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        Model = model;
        VocabSize = vocabSize;
        Optimizer = optimizer;
        Options = options ?? new LanguageModelTrainerOptions();
        if (Options.BatchSize <= 0 || Options.SequenceLength <= 0)
            throw new ArgumentException($"LanguageModelTrainer: batch size ({Options.BatchSize}) and sequence length ({Options.SequenceLength}) must be positive");
        if (Options.GradientAccumulationSteps <= 0)
            throw new ArgumentException($"LanguageModelTrainer: gradient accumulation steps must be positive, got {Options.GradientAccumulationSteps}");
        if (Options.StepsPerEpoch is int spe && spe <= 0)
            throw new ArgumentException($"LanguageModelTrainer: steps per epoch must be positive, got {spe}");
    }

    /// <summary>Ranks sharing the training (1 without <see cref="LanguageModelTrainerOptions.DataParallel"/>).</summary>
    private int World => Options.DataParallel?.Communicator.Size ?? 1;

    /// <summary>This rank's rows of a global batch [World x B, T].</summary>
    private Tensor MyRows(Tensor global) =>
        Options.DataParallel is { } dp ? global.Narrow(0, dp.Communicator.Rank * (global.ShapeArray[0] / World), global.ShapeArray[0] / World) : global;

    /// <summary>The model being trained (a <see cref="CharRnn"/> or a <see cref="Gpt"/>).</summary>
    public Module<Tensor, Tensor> Model { get; }

    private int VocabSize { get; }

    /// <summary>True for models trained on random windows without carried state (<see cref="Gpt"/>).</summary>
    private bool Windowed => _gpt is not null;

    /// <summary>The optimizer that updates the model.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Batch and window sizes, schedule, checkpoints and reporting.</summary>
    public LanguageModelTrainerOptions Options { get; }

    /// <summary>Completed epochs (the next epoch's zero-based index).</summary>
    public int Epoch { get; private set; }

    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; private set; }

    /// <summary>The detached state carried into the next training batch (null: zeros).</summary>
    public RecurrentState? State { get; private set; }

    private ITrainingReporter Reporter => Options.Reporter ?? SilentReporter.Instance;

    private IReadOnlyList<ITrainingMonitor> Monitors => Options.Monitors ?? [];

    /// <summary>Forgets the carried state: the next batch starts from zeros.</summary>
    public void ResetState() => State = null;

    /// <summary>
    /// One TBPTT step on input/target [B, T] (int64) from the carried <see cref="State"/>: forward, mean
    /// cross-entropy, backward, clipping, optimizer (and per-batch scheduler) step. Keeps the final state, detached.
    /// Returns the loss in nats per token.
    /// </summary>
    public double TrainStep(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (input.Shape != target.Shape)
            throw new ArgumentException($"LanguageModelTrainer: input {Shapes.Format(input.ShapeArray)} and target {Shapes.Format(target.ShapeArray)} must have the same shape [B, T]");
        if (_rnn is null) return TrainStep([(input, target)]);
        if (State is not null && State.H.ShapeArray[1] != input.ShapeArray[0]) State = null; // a different number of streams
        Model.Train();
        Optimizer.ZeroGrad();
        Options.DataParallel?.BeginStep(Step);
        var (logits, state) = _rnn.Forward(input, State);
        var loss = Functional.CrossEntropy(logits.Reshape(-1, VocabSize), target.Reshape(-1));
        loss.Backward();
        Options.DataParallel?.SynchronizeGradients();
        if (Options.ClipGradNorm is double maxNorm) GradClipping.ClipGradNorm(Model.Parameters(), maxNorm);
        Optimizer.Step();
        Step++;
        if (Options.SchedulerPerBatch) Options.Scheduler?.Step();
        State = state.Detach(); // values carry over; gradients stop at this batch boundary
        return loss.ToDouble();
    }

    /// <summary>
    /// One optimizer step of a <see cref="Gpt"/> over <paramref name="microBatches"/> (input/target [B, T] each): the
    /// gradients of the micro-batches' mean losses, each divided by their count, add up; then clipping, the step and the
    /// per-batch scheduler step. Returns the mean loss in nats per token.
    /// </summary>
    public double TrainStep(IReadOnlyList<(Tensor Input, Tensor Target)> microBatches)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        if (_gpt is null) throw new InvalidOperationException("LanguageModelTrainer: micro-batch steps are for a Gpt; a CharRnn trains with TrainStep(input, target) and its carried state");
        if (microBatches.Count == 0) throw new ArgumentException("LanguageModelTrainer: no micro-batches to train on");
        Model.Train();
        Optimizer.ZeroGrad();
        double sum = 0, scale = 1.0 / microBatches.Count;
        foreach (var (input, target) in microBatches)
        {
            var logits = _gpt.Call(input);                                         // [B, T, V]
            var loss = Functional.CrossEntropy(logits.Reshape(-1, VocabSize), target.Reshape(-1));
            (microBatches.Count == 1 ? loss : loss.Mul(scale)).Backward();
            sum += loss.ToDouble();
        }
        if (Options.ClipGradNorm is double maxNorm) GradClipping.ClipGradNorm(Model.Parameters(), maxNorm);
        Optimizer.Step();
        Step++;
        if (Options.SchedulerPerBatch) Options.Scheduler?.Step();
        return sum * scale;
    }

    /// <summary>Optimizer steps per epoch of <paramref name="trainTokens"/> with the current options.</summary>
    public int StepsPerEpoch(long[] trainTokens)
    {
        ArgumentNullException.ThrowIfNull(trainTokens);
        if (!Windowed) return new StreamBatches(trainTokens, Options.BatchSize * World, Options.SequenceLength).Count;
        if (Options.StepsPerEpoch is int steps) return steps;
        long perStep = (long)Options.BatchSize * Options.SequenceLength * Options.GradientAccumulationSteps;
        return (int)Math.Max(1, Math.Min(int.MaxValue, trainTokens.Length / perStep));
    }

    /// <summary>
    /// Trains until <paramref name="epochs"/> epochs are complete in total (a resumed trainer continues where it stopped).
    /// When <paramref name="cancellationToken"/> is cancelled, the step in progress finishes and training stops there
    /// (<see cref="TrainingHistory.Interrupted"/>); <see cref="SaveCheckpoint"/> then records the position, and a trainer
    /// restored from it continues with the next batch of that epoch, from a zero state (the carried state is not saved).
    /// </summary>
    public TrainingHistory Fit(long[] trainTokens, long[]? validationTokens, int epochs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainTokens);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "LanguageModelTrainer.Fit: epochs must be non-negative");
        if (Options.DataParallel is { } dp)
        {
            if (Windowed) throw new NotSupportedException("LanguageModelTrainer: data-parallel training of a Gpt is not supported yet; train it in one process");
            dp.BroadcastState();
        }
        int count, perStep;
        Func<int, double> step;
        if (Windowed)
        {
            _windows = new RandomWindows(trainTokens, Options.BatchSize, Options.SequenceLength, Options.WindowGenerator ?? Generator.Default);
            count = StepsPerEpoch(trainTokens);
            perStep = Options.BatchSize * Options.SequenceLength * Options.GradientAccumulationSteps;
            var micro = new (Tensor, Tensor)[Options.GradientAccumulationSteps];
            step = _ =>
            {
                for (int i = 0; i < micro.Length; i++) micro[i] = _windows.Next();
                return TrainStep(micro);
            };
        }
        else
        {
            var stream = new StreamBatches(trainTokens, Options.BatchSize * World, Options.SequenceLength); // data-parallel: the global batch
            count = stream.Count;
            perStep = stream.BatchSize * stream.SequenceLength;
            step = k =>
            {
                var (input, target) = stream[k];
                return TrainStep(MyRows(input), MyRows(target));
            };
        }
        var history = new TrainingHistory();
        var wall = Stopwatch.StartNew();
        double bestValidation = double.PositiveInfinity;
        if (Options.CheckpointDirectory is { } dir) Directory.CreateDirectory(dir);
        Reporter.TrainBegin(epochs - Epoch, count);
        var plan = new RunPlan(epochs, Epoch, Step, count, perStep, "tokens");
        foreach (var m in Monitors) m.RunBegin(plan);
        _interruptedAt = null;
        if (_resumeBatch > count)
            throw new ArgumentException($"LanguageModelTrainer.Fit: the checkpoint stopped at batch {_resumeBatch} of an epoch, but this text gives {count} batches per epoch (another text or batch size?)");
        while (Epoch < epochs)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                history.Interrupted = true;
                break;
            }
            var logs = RunEpoch(count, perStep, step, cancellationToken);
            if (logs is null)
            {
                history.Interrupted = true;
                break;
            }
            if (validationTokens is not null)
            {
                double v = Evaluate(validationTokens);
                logs["val_loss"] = v;
                logs["perplexity"] = Math.Exp(v);
            }
            if (!Options.SchedulerPerBatch) StepSchedulerAfterEpoch(logs);
            Epoch++;
            history.Epochs.Add(logs);
            if (Options.CheckpointDirectory is { } checkpoints)
            {
                SaveCheckpoint(Path.Combine(checkpoints, "last.safetensors"));
                if (logs.Get("val_loss") is double val && val < bestValidation)
                {
                    bestValidation = val;
                    SaveCheckpoint(Path.Combine(checkpoints, "best.safetensors"));
                }
            }
            foreach (var m in Monitors) m.EpochEnd(Step, logs);
            Reporter.EpochEnd(logs, epochs);
            if (cancellationToken.IsCancellationRequested && Epoch < epochs)
            {
                history.Interrupted = true;
                break;
            }
        }
        history.WallSeconds = wall.Elapsed.TotalSeconds;
        foreach (var m in Monitors) m.RunEnd(history);
        Reporter.TrainEnd(history);
        return history;
    }

    /// <summary>One epoch (from the resume batch, if any); null when cancelled before its last batch.</summary>
    private EpochLogs? RunEpoch(int count, int perBatch, Func<int, double> step, CancellationToken cancellationToken)
    {
        var logs = new EpochLogs(Epoch) { ["lr"] = Optimizer.ParamGroups[0].Lr };
        ResetState();
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        long tokens = 0;
        int first = _resumeBatch, done = 0;
        _resumeBatch = 0;
        Reporter.EpochBegin(Epoch, count);
        for (int k = first; k < count; k++)
        {
            double stepLr = Optimizer.ParamGroups[0].Lr;
            var insight = Options.Insight is { } r && r.IsRecordedStep(Step + 1) ? r : null;
            insight?.RecordNextStep(Model);
            double loss = step(k);
            insight?.CompleteStep(Model, Step, loss, Epoch, stepLr);
            lossSum += loss;
            foreach (var m in Monitors) m.StepEnd(new StepMetrics(Step, Epoch, loss, stepLr));
            tokens += perBatch;
            done++;
            Reporter.BatchEnd(k + 1, lossSum / done, null, tokens / clock.Elapsed.TotalSeconds);
            if (cancellationToken.IsCancellationRequested && k + 1 < count)
            {
                _interruptedAt = k + 1;
                return null;
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        if (Options.DataParallel is { } dp) lossSum = dp.Sum(lossSum)[0] / World; // every rank's mean over the same number of rows
        logs["loss"] = done > 0 ? lossSum / done : double.NaN;
        logs["seconds"] = seconds;
        logs["tokens_per_second"] = seconds > 0 ? tokens / seconds : 0;
        logs["samples_per_second"] = logs["tokens_per_second"];
        return logs;
    }

    private void StepSchedulerAfterEpoch(EpochLogs logs)
    {
        if (Options.Scheduler is ReduceLROnPlateau plateau) plateau.Step(logs.Get("val_loss") ?? logs.Get("loss") ?? double.NaN);
        else Options.Scheduler?.Step();
    }

    /// <summary>
    /// Mean cross-entropy (nats per token) of predicting each token of <paramref name="tokens"/> from the ones
    /// before it, streamed like training (parallel streams, state carried across windows) in eval mode without
    /// gradients. Short texts use fewer streams or one shorter window. Data-parallel, the streams of the global batch are
    /// shared out among the ranks and the result is the same on every rank (each must call this).
    /// </summary>
    public double Evaluate(long[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Length < 2) throw new ArgumentException($"LanguageModelTrainer.Evaluate: need at least 2 tokens, got {tokens.Length}");
        if (_gpt is not null) return EvaluateWindows(tokens);
        int t = Math.Min(Options.SequenceLength, tokens.Length - 1);
        int b = Math.Max(1, Math.Min(Options.BatchSize * World, (tokens.Length - 1) / t));
        var batches = new StreamBatches(tokens, b, t);
        // Data-parallel: rank r evaluates streams [b r / N, b (r + 1) / N) (perhaps none); the sums are added over ranks.
        int rank = Options.DataParallel?.Communicator.Rank ?? 0;
        int first = (int)((long)b * rank / World), rows = (int)((long)b * (rank + 1) / World) - first;
        bool wasTraining = Model.Training;
        Model.Eval();
        try
        {
            using var _ = Autograd.NoGrad();
            RecurrentState? state = null;
            double sum = 0;
            for (int k = 0; k < batches.Count && rows > 0; k++)
            {
                var (input, target) = batches[k];
                if (rows < b) (input, target) = (input.Narrow(0, first, rows), target.Narrow(0, first, rows));
                (var logits, state) = _rnn!.Forward(input, state);
                sum += Functional.CrossEntropy(logits.Reshape(-1, VocabSize), target.Reshape(-1)).ToDouble() * rows / b;
            }
            if (Options.DataParallel is { } dp) sum = dp.Sum(sum)[0];
            return sum / batches.Count;
        }
        finally
        {
            Model.Train(wasTraining);
        }
    }

    /// <summary>A GPT's mean loss over consecutive non-overlapping windows (each token predicted from the earlier ones of its window).</summary>
    private double EvaluateWindows(long[] tokens)
    {
        int t = Math.Min(Options.SequenceLength, tokens.Length - 1);
        var windows = new LanguageModelDataset(tokens, t);
        bool wasTraining = Model.Training;
        Model.Eval();
        try
        {
            using var _ = Autograd.NoGrad();
            double sum = 0;
            var indices = new int[Options.BatchSize];
            for (int start = 0; start < windows.Count; start += Options.BatchSize)
            {
                int n = Math.Min(Options.BatchSize, windows.Count - start);
                for (int i = 0; i < n; i++) indices[i] = start + i;
                var (input, target) = windows.GetBatch(indices.AsSpan(0, n));
                var logits = _gpt!.Call(input);
                sum += n * Functional.CrossEntropy(logits.Reshape(-1, VocabSize), target.Reshape(-1)).ToDouble();
            }
            return sum / windows.Count;
        }
        finally
        {
            Model.Train(wasTraining);
        }
    }

    // ---- checkpoints ----

    /// <summary>
    /// Writes model, optimizer, scheduler, generators, epoch and step to one safetensors file (atomically), in the
    /// format of <see cref="Checkpoint"/>, plus the model's configuration and vocabulary in the metadata so that
    /// <see cref="CharRnn.Load"/> can rebuild the model from the checkpoint alone.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (k, v) in Model.StateDict()) tensors["model." + k] = v;
        foreach (var (k, v) in Optimizer.StateDict()) tensors["optimizer." + k] = v;
        if (Options.Scheduler is { } scheduler) foreach (var (k, v) in scheduler.StateDict()) tensors["scheduler." + k] = v;
        // The stream position within an unfinished epoch travels as a data-loader position (epoch:0:0:batch).
        string? loader = _interruptedAt is int batch ? string.Create(CultureInfo.InvariantCulture, $"{Epoch}:0:0:{batch}") : null;
        var meta = new CheckpointMetadata("deepsharp-checkpoint-v1", Epoch, Step,
            AllGenerators().Select(g => $"{g.Seed.ToString(CultureInfo.InvariantCulture)}:{g.Offset.ToString(CultureInfo.InvariantCulture)}").ToList(), loader);
        var metadata = _rnn?.Metadata() ?? _gpt!.Metadata();
        metadata["deepsharp"] = JsonSerializer.Serialize(meta, TrainingJson.Default.CheckpointMetadata);
        SafeTensors.Save(path, tensors, metadata);
    }

    /// <summary>
    /// Restores what <see cref="SaveCheckpoint"/> wrote; training continues with the next epoch (from a zero state, as every
    /// epoch), or within the epoch where an interrupted run stopped. With <paramref name="replanSchedule"/>, the schedule
    /// state in the file is ignored and <see cref="LanguageModelTrainerOptions.Scheduler"/>, built for this run's plan, is
    /// restarted at the checkpoint's position (its step for a per-batch schedule, else its epoch), as <see cref="Trainer.LoadCheckpoint"/> does.
    /// </summary>
    public void LoadCheckpoint(string path, bool replanSchedule = false)
    {
        var progress = Checkpoint.Load(path, Model, Optimizer, replanSchedule ? null : Options.Scheduler, AllGenerators());
        Epoch = progress.Epoch;
        Step = progress.Step;
        _resumeBatch = progress.Loader is { } l && l.Epoch == Epoch ? l.Batch : 0;
        ResetState();
        if (replanSchedule) Options.Scheduler?.Restart(Options.SchedulerPerBatch ? Step : Epoch);
    }

    /// <summary>The batches of the current epoch done when the last <see cref="Fit"/> was cancelled within it, else null.</summary>
    public int? InterruptedAt => _interruptedAt;

    /// <summary>The batch of the current epoch training resumes at (0 unless restored from a checkpoint saved mid-epoch).</summary>
    public int ResumeBatch => _resumeBatch;

    private List<Generator> AllGenerators()
    {
        var list = new List<Generator> { Generator.Default };
        foreach (var g in Options.Generators ?? []) if (!list.Contains(g)) list.Add(g);
        if (Options.WindowGenerator is { } windows && !list.Contains(windows)) list.Add(windows);
        return list;
    }
}
