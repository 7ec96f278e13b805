using System.Diagnostics;
using DeepSharp.Data;
using DeepSharp.Distributed;
using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Training;

/// <summary>
/// Keras-style training loop over a model, a loss and an optimizer, one for every task: <see cref="Fit(DataLoader, DataLoader, int, IReadOnlyList{ICallback}, CancellationToken)"/>
/// trains a classifier (or any model with a loss) on a data loader, and the language-model constructors' trainer
/// <see cref="Fit(long[], long[], int, IReadOnlyList{ICallback}, CancellationToken)"/> trains on a token sequence. Both run
/// epochs of mini-batch gradient descent with validation, callbacks, gradient accumulation, clipping, LR scheduling, a
/// step limit, data-parallel hooks, monitors and progress reporting; <see cref="Evaluate(DataLoader, bool)"/> and
/// <see cref="Predict"/> run the model without recording gradients. The whole training state can be saved and resumed
/// exactly with <see cref="SaveCheckpoint"/>/<see cref="LoadCheckpoint"/>.
/// </summary>
public sealed partial class Trainer
{
    private readonly Func<Tensor, Tensor, Tensor> _loss;
    private readonly Func<Tensor, Tensor> _forward; // the training forward (a recurrent model carries its state through it)
    private readonly Func<Dictionary<string, string>>? _modelMetadata; // a language model's configuration, for its checkpoints
    private TrainingBatches? _train;
    private DataLoaderState? _resumeLoader;
    private DataLoaderState? _interruptedAt; // where an interrupted epoch stopped (a checkpoint resumes there)

    /// <summary>A trainer for <paramref name="model"/>.</summary>
    /// <param name="model">The model to train.</param>
    /// <param name="loss">Loss of a batch from (output, target), e.g. cross-entropy; it must return a scalar.</param>
    /// <param name="optimizer">Updates the model's parameters after each batch (or accumulated group of batches).</param>
    /// <param name="options">Validation, callbacks, scheduling and reporting; defaults to <see cref="TrainerOptions"/>' defaults.</param>
    public Trainer(Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss, Optimizer optimizer, TrainerOptions? options = null)
        : this(model, loss, optimizer, options, null, null)
    {
    }

    private Trainer(Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss, Optimizer optimizer, TrainerOptions? options,
        Func<Tensor, Tensor>? forward, Func<Dictionary<string, string>>? modelMetadata)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Model = model;
        _loss = loss;
        _forward = forward ?? model.Call;
        _modelMetadata = modelMetadata;
        Optimizer = optimizer;
        Options = options ?? new TrainerOptions();
    }

    /// <summary>The model being trained.</summary>
    public Module<Tensor, Tensor> Model { get; }
    /// <summary>The optimizer that updates the model.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>Callbacks, scheduling, accumulation, clipping, reporting and (for language models) batching.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Number of completed epochs (the next epoch's zero-based index).</summary>
    public int Epoch { get; private set; }

    /// <summary>Number of optimizer steps taken.</summary>
    public long Step { get; private set; }

    /// <summary>Set by a callback to end Fit after the current epoch.</summary>
    public bool StopTraining { get; set; }

    private ITrainingReporter Reporter => Options.Reporter ?? SilentReporter.Instance;

    private IReadOnlyList<ITrainingMonitor> Monitors => Options.Monitors ?? [];

    /// <summary>Ranks sharing the training (1 without <see cref="TrainerOptions.DataParallel"/>).</summary>
    private int World => Options.DataParallel?.Communicator.Size ?? 1;

    /// <summary>
    /// Trains until <paramref name="epochs"/> epochs are complete in total (a resumed trainer continues where it stopped).
    /// When <paramref name="cancellationToken"/> is cancelled, the step in progress finishes and training stops there:
    /// the epoch is left unfinished (no validation, no epoch-end callbacks, no epoch scheduler step), the history says
    /// <see cref="TrainingHistory.Interrupted"/>, and <see cref="SaveCheckpoint"/> then saves a checkpoint from which
    /// Fit continues with the next batch of that epoch (its logs then cover the batches after the resume).
    /// A cancellation during validation or at the end of an epoch stops after that epoch.
    /// </summary>
    /// <param name="train">The training batches; data-parallel, with a padded <see cref="DistributedSampler"/>.</param>
    /// <param name="validation">Evaluated after every epoch (val_loss, val_accuracy), or null.</param>
    /// <param name="epochs">Epochs in total, those of a resumed run included.</param>
    /// <param name="callbacks">Called around epochs and steps (checkpoints, early stopping, insight, metrics files).</param>
    /// <param name="cancellationToken">Stops training at the next step boundary.</param>
    public TrainingHistory Fit(DataLoader train, DataLoader? validation = null, int epochs = 1, IReadOnlyList<ICallback>? callbacks = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (_modelMetadata is not null)
            throw new InvalidOperationException("Trainer.Fit: this trainer trains a language model on tokens; call Fit(trainTokens, validationTokens, epochs)");
        if (Options.DataParallel is not null && train.Sampler is not { Pad: true })
            throw new ArgumentException("Fit: data-parallel training needs a train loader with a padded DistributedSampler (every rank must take the same number of steps)", nameof(train));
        return Run(new LoaderBatches(train), validation is null ? null : keep => Evaluate(validation, keep), epochs, callbacks, cancellationToken);
    }

    /// <summary>The loop of both Fit overloads over <paramref name="train"/>'s batches, validating with <paramref name="validate"/> (argument: keep predictions).</summary>
    private TrainingHistory Run(TrainingBatches train, Func<bool, EvaluationResult>? validate, int epochs, IReadOnlyList<ICallback>? callbacks,
        CancellationToken cancellationToken)
    {
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit: epochs must be non-negative, got {epochs}");
        CheckOptions();
        _train = train;
        _interruptedAt = null;
        train.Resume(_resumeLoader, Epoch);
        _resumeLoader = null;
        callbacks ??= [];
        var history = new TrainingHistory();
        var wall = Stopwatch.StartNew();
        StopTraining = Options.MaxSteps is long limit && Step >= limit;
        Options.DataParallel?.BroadcastState();
        foreach (var c in callbacks) c.OnTrainBegin(this);
        Reporter.TrainBegin(epochs - Epoch, train.Count);
        var plan = train.Plan(epochs, Epoch, Step);
        foreach (var m in Monitors) m.RunBegin(plan);
        while (Epoch < epochs && !StopTraining)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                history.Interrupted = true;
                break;
            }
            foreach (var c in callbacks) c.OnEpochBegin(this, Epoch);
            var logs = RunEpoch(train, callbacks, cancellationToken);
            if (logs is null)
            {
                history.Interrupted = true;
                break;
            }
            if (validate is not null)
            {
                // Monitors get the predictions for a confusion matrix (one int64 per sample).
                var v = validate(Monitors.Count > 0);
                foreach (var m in Monitors) m.Evaluated(Step, Epoch, v);
                logs["val_loss"] = v.Loss;
                if (v.Accuracy is double acc) logs["val_accuracy"] = acc;
                if (train.PerToken) logs["perplexity"] = Math.Exp(v.Loss);
            }
            StepSchedulerAfterEpoch(logs);
            Epoch++;
            history.Epochs.Add(logs);
            foreach (var c in callbacks) c.OnEpochEnd(this, logs);
            foreach (var m in Monitors) m.EpochEnd(Step, logs);
            Reporter.EpochEnd(logs, epochs);
            if (cancellationToken.IsCancellationRequested && Epoch < epochs)
            {
                history.Interrupted = true;
                break;
            }
        }
        history.StoppedEarly = StopTraining && Epoch < epochs;
        history.WallSeconds = wall.Elapsed.TotalSeconds;
        foreach (var c in callbacks) c.OnTrainEnd(this, history);
        foreach (var m in Monitors) m.RunEnd(history);
        Reporter.TrainEnd(history);
        return history;
    }

    /// <summary>The options' rules, checked when training starts.</summary>
    private void CheckOptions()
    {
        if (Options.GradientAccumulationSteps < 1)
            throw new ArgumentException($"Fit: GradientAccumulationSteps must be at least 1, got {Options.GradientAccumulationSteps}");
        if (Options.GradientAccumulationSteps > 1 && Options.DataParallel is not null)
            throw new ArgumentException("Fit: gradient accumulation is not supported with data-parallel training yet (raise the per-process batch size instead)");
        if (Options.MaxSteps is long max && max < 0) throw new ArgumentException($"Fit: MaxSteps must be non-negative, got {max}");
    }

    /// <summary>One epoch; null when <paramref name="cancellationToken"/> stopped it before its last batch (the position is kept for checkpoints).</summary>
    private EpochLogs? RunEpoch(TrainingBatches train, IReadOnlyList<ICallback> callbacks, CancellationToken cancellationToken)
    {
        Model.Train();
        ResetState();
        var logs = new EpochLogs(Epoch) { ["lr"] = Optimizer.ParamGroups[0].Lr };
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        long correct = 0, samples = 0, classified = 0;
        var (first, batches) = train.Epoch(); // first: batches of this epoch done before a resume (0 otherwise)
        int batch = 0;
        Reporter.EpochBegin(Epoch, train.Count);
        int accumulate = Options.GradientAccumulationSteps, group = 0, inGroup = 0;
        double groupLoss = 0;
        long groupCorrect = 0, groupClassified = 0;
        double stepLr = 0;
        foreach (var (input, target) in batches)
        {
            if (inGroup == 0)
            {
                stepLr = Optimizer.ParamGroups[0].Lr;
                BeginStep();
                group = Math.Min(accumulate, train.Count - (first + batch)); // the epoch's last group may be smaller
                (groupLoss, groupCorrect, groupClassified) = (0, 0, 0);
            }
            var (l, c, n) = Accumulate(input, target, group);
            inGroup++;
            lossSum += l * n;
            samples += n;
            groupLoss += l;
            if (c is long right)
            {
                correct += right;
                classified += n;
                groupCorrect += right;
                groupClassified += n;
            }
            batch++;
            if (inGroup == group)
            {
                inGroup = 0;
                EndStep();
                double stepLoss = groupLoss / group;
                foreach (var cb in callbacks) cb.OnBatchEnd(this, Step, stepLoss);
                foreach (var m in Monitors) m.StepEnd(new StepMetrics(Step, Epoch, stepLoss, stepLr, groupClassified > 0 ? (double)groupCorrect / groupClassified : null));
            }
            Reporter.BatchEnd(first + batch, lossSum / samples, classified > 0 ? (double)correct / classified : null, samples * train.UnitsPerRow / clock.Elapsed.TotalSeconds);
            if (inGroup == 0 && Options.MaxSteps is long maxSteps && Step >= maxSteps)
            {
                StopTraining = true; // the step limit: this epoch ends here
                break;
            }
            if (inGroup == 0 && cancellationToken.IsCancellationRequested && train.StoppedAt(Epoch, first + batch) is { } position) // an interruption waits for the group's step
            {
                _interruptedAt = position;
                return null;
            }
        }
        if (Options.DataParallel is { } dp) (lossSum, samples, correct, classified) = SumOverRanks(dp, lossSum, samples, correct, classified);
        double seconds = clock.Elapsed.TotalSeconds;
        logs["loss"] = samples > 0 ? lossSum / samples : double.NaN;
        if (classified > 0) logs["accuracy"] = (double)correct / classified;
        logs["seconds"] = seconds;
        double rate = seconds > 0 ? samples * train.UnitsPerRow / seconds : 0;
        if (train.PerToken) logs["tokens_per_second"] = rate;
        logs["samples_per_second"] = rate;
        return logs;
    }

    /// <summary>
    /// One optimizer step on one batch: forward, loss, backward, clipping and the optimizer (and per-batch scheduler) step,
    /// with the data-parallel hooks. A <see cref="Models.CharRnn"/> starts from the carried <see cref="State"/> and keeps
    /// its final state, detached. Returns the batch loss (for a language model, in nats per token).
    /// </summary>
    public double TrainStep(Tensor input, Tensor target) => TrainStep([(input, target)]);

    /// <summary>
    /// One optimizer step over <paramref name="batches"/> (gradient accumulation): the gradients of the batches' losses,
    /// each divided by their count, add up; then clipping, the step and the per-batch scheduler step. Returns the mean loss.
    /// </summary>
    public double TrainStep(IReadOnlyList<(Tensor Input, Tensor Target)> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0) throw new ArgumentException("Trainer.TrainStep: no batches to train on", nameof(batches));
        Model.Train();
        BeginStep();
        double sum = 0;
        foreach (var (input, target) in batches) sum += Accumulate(input, target, batches.Count).Loss;
        EndStep();
        return sum / batches.Count;
    }

    private void BeginStep()
    {
        Optimizer.ZeroGrad();
        Options.DataParallel?.BeginStep(Step);
    }

    /// <summary>A batch's forward and backward, its loss divided by <paramref name="group"/>: the batch loss, correct predictions (if any) and rows.</summary>
    private (double Loss, long? Correct, int Rows) Accumulate(Tensor input, Tensor target, int group)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        var output = _forward(input);
        var loss = _loss(output, target);
        (group == 1 ? loss : loss.Mul(1.0 / group)).Backward();
        return (loss.ToDouble(), Correct(output, target), input.Shape.Length > 0 ? input.Size(0) : 1);
    }

    private void EndStep()
    {
        Options.DataParallel?.SynchronizeGradients();
        if (Options.ClipGradNorm is double maxNorm) GradClipping.ClipGradNorm(Model.Parameters(), maxNorm);
        Optimizer.Step();
        Step++;
        if (Options.SchedulerPerBatch) Options.Scheduler?.Step();
    }

    /// <summary>The whole job's sums of a rank's loss and counts (float64 holds the counts exactly up to 2^53).</summary>
    private static (double, long, long, long) SumOverRanks(DataParallel dp, double lossSum, long samples, long correct, long classified)
    {
        var s = dp.Sum(lossSum, samples, correct, classified);
        return (s[0], (long)s[1], (long)s[2], (long)s[3]);
    }

    private void StepSchedulerAfterEpoch(EpochLogs logs)
    {
        var scheduler = Options.Scheduler;
        if (scheduler is null || Options.SchedulerPerBatch) return;
        if (scheduler is ReduceLROnPlateau plateau)
        {
            double metric = logs.Get(Options.PlateauMetric) ?? logs.Get("loss") ?? double.NaN;
            plateau.Step(metric);
        }
        else scheduler.Step();
    }

    private long? Correct(Tensor output, Tensor target) => Options.CountCorrect is { } f ? f(output, target) : CountCorrect(output, target);

    /// <summary>Correct predictions in a classification batch (logits [N, C], int64 targets [N]); null otherwise.</summary>
    public static long? CountCorrect(Tensor output, Tensor target)
    {
        if (target.DType != DType.Int64 || output.Rank != 2 || target.Rank != 1 || target.Size(0) != output.Size(0)) return null;
        var predicted = output.Argmax(1).ToArray<long>();
        var labels = target.ToArray<long>();
        long correct = 0;
        for (int i = 0; i < labels.Length; i++) if (predicted[i] == labels[i]) correct++;
        return correct;
    }

    /// <summary>Mean loss and accuracy over a dataset in eval mode without gradients; optionally keeps argmax predictions.</summary>
    public EvaluationResult Evaluate(DataLoader data, bool keepPredictions = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var eval = new EvalMode(Model);
        double lossSum = 0;
        long correct = 0, samples = 0, classified = 0;
        var predictions = new List<Tensor>();
        var targets = new List<Tensor>();
        InferenceModel? prepared = null;
        foreach (var (input, target) in data)
        {
            var output = Forward(input, ref prepared);
            int n = input.Shape.Length > 0 ? input.Size(0) : 1;
            lossSum += _loss(output, target).ToDouble() * n;
            samples += n;
            if (Correct(output, target) is long c)
            {
                correct += c;
                classified += n;
                if (keepPredictions && output.Rank == 2 && output.Size(1) > 1)
                {
                    predictions.Add(output.Argmax(1));
                    targets.Add(target);
                }
            }
        }
        if (Options.DataParallel is { } dp && data.Sampler is not null) (lossSum, samples, correct, classified) = SumOverRanks(dp, lossSum, samples, correct, classified);
        return new EvaluationResult(samples > 0 ? lossSum / samples : double.NaN, classified > 0 ? (double)correct / classified : null, (int)samples,
            predictions.Count > 0 ? Tensor.Cat(predictions) : null, targets.Count > 0 ? Tensor.Cat(targets) : null);
    }

    /// <summary>The model's output for one batch, in eval mode without gradients.</summary>
    public Tensor Predict(Tensor input)
    {
        using var eval = new EvalMode(Model);
        InferenceModel? prepared = null;
        return Forward(input, ref prepared);
    }

    /// <summary>Eval mode without gradient recording until disposed; then the model's mode is restored.</summary>
    private readonly struct EvalMode : IDisposable
    {
        private readonly Module _model;
        private readonly bool _wasTraining;
        private readonly Autograd.GradModeScope _noGrad;

        public EvalMode(Module model)
        {
            _model = model;
            _wasTraining = model.Training;
            model.Eval();
            _noGrad = Autograd.NoGrad();
        }

        public void Dispose()
        {
            _noGrad.Dispose();
            _model.Train(_wasTraining);
        }
    }

    // The last plan Forward prepared: a later evaluation of the same shape plans the current weights with its kernel and
    // threading choices instead of timing them again (that took longer than evaluating the cnn's validation images).
    private InferenceModel? _lastPlan;

    // The eval-mode forward of Evaluate and Predict: eager, or through a plan kept while the batches fit it.
    private Tensor Forward(Tensor input, ref InferenceModel? prepared)
    {
        if (!Options.PreparedInference || input.Rank == 0) return Model.Call(input);
        var shape = input.Shape;
        bool fits = prepared is not null && prepared.InputShape.Count == shape.Length && shape[0] <= prepared.InputShape[0] &&
            prepared.InputShape.Skip(1).SequenceEqual(shape[1..].ToArray());
        if (!fits)
        {
            int[] dims = shape.ToArray();
            prepared = _lastPlan is { } last && last.InputShape.SequenceEqual(dims) ? InferenceModel.PrepareAgain(last, Model) : InferenceModel.Prepare(Model, dims);
            _lastPlan = prepared;
        }
        return prepared!.Run(input);
    }

    /// <summary>
    /// Writes model, optimizer, scheduler, generators, data-loader position, epoch and step to one file, atomically, in the
    /// format of <see cref="Checkpoint"/>; a language model's configuration and vocabulary go into the metadata, so that
    /// <see cref="Models.CharRnn.Load"/> or <see cref="Models.Gpt.Load"/> rebuilds the model from the checkpoint alone.
    /// After an interrupted Fit the position is the middle of the unfinished epoch: for a data loader counted in examples
    /// of the epoch's order consumed by all ranks together, so that a data-parallel run resumes it at any world size (the
    /// ranks' dropout generators follow <see cref="DataParallel.RankGenerators"/>' rule and need no saved state); for a
    /// text, in batches.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        var loader = _interruptedAt ?? _train?.Between(Epoch);
        var metadata = _modelMetadata?.Invoke() ?? [];
        foreach (var (k, v) in Options.CheckpointMetadata ?? new Dictionary<string, string>()) metadata[k] = v;
        Checkpoint.Save(path, Model, Optimizer, Options.Scheduler, AllGenerators(), new CheckpointProgress(Epoch, Step, loader), metadata);
    }

    /// <summary>
    /// Restores everything <see cref="SaveCheckpoint"/> wrote; the next Fit continues exactly as uninterrupted training would
    /// (a recurrent model from a zero state, as every epoch: the carried state is not saved).
    /// With <paramref name="replanSchedule"/>, the schedule state in the file is ignored and <see cref="TrainerOptions.Scheduler"/>,
    /// built for this run's plan, is restarted at the checkpoint's position (<see cref="LRScheduler.Restart"/>: its epoch, or its
    /// step for a per-batch schedule): extending a run to more epochs then trains as if that many had been planned from the start.
    /// </summary>
    public void LoadCheckpoint(string path, bool replanSchedule = false)
    {
        var progress = Checkpoint.Load(path, Model, Optimizer, replanSchedule ? null : Options.Scheduler, AllGenerators());
        Epoch = progress.Epoch;
        Step = progress.Step;
        _resumeLoader = progress.Loader;
        ResetState();
        if (replanSchedule) Options.Scheduler?.Restart(Options.SchedulerPerBatch ? Step : Epoch);
    }

    /// <summary>Where the last Fit stopped when it was cancelled within an epoch (its epoch and the batches done), else null.</summary>
    public DataLoaderState? InterruptedAt => _interruptedAt;

    /// <summary>Where training resumes: the epoch, and the batch within it (0 unless the checkpoint was saved mid-epoch).</summary>
    public DataLoaderState? ResumePosition => _resumeLoader;

    /// <summary>Generators saved besides the data loader's (whose state travels in its DataLoaderState).</summary>
    private List<Generator> AllGenerators()
    {
        var list = new List<Generator> { Generator.Default };
        foreach (var g in Options.Generators ?? []) if (!list.Contains(g)) list.Add(g);
        if (_modelMetadata is not null && Options.LanguageModel.WindowGenerator is { } windows && !list.Contains(windows)) list.Add(windows);
        return list;
    }
}
