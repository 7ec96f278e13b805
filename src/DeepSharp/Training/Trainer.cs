using System.Diagnostics;
using DeepSharp.Data;
using DeepSharp.Distributed;
using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Training;

/// <summary>Options of a <see cref="Trainer"/>.</summary>
public sealed record TrainerOptions
{
    /// <summary>Stepped after every epoch (ReduceLROnPlateau gets the monitored metric), or after every batch when <see cref="SchedulerPerBatch"/>.</summary>
    public LRScheduler? Scheduler { get; init; }

    /// <summary>Step the scheduler after every optimizer step (OneCycleLR, warm-up) instead of every epoch.</summary>
    public bool SchedulerPerBatch { get; init; }

    /// <summary>The metric ReduceLROnPlateau watches (default val_loss, else loss).</summary>
    public string PlateauMetric { get; init; } = "val_loss";

    /// <summary>Clip the total gradient norm to this value before each step.</summary>
    public double? ClipGradNorm { get; init; }

    /// <summary>Where progress goes; <see cref="SilentReporter"/> when null.</summary>
    public ITrainingReporter? Reporter { get; init; }

    /// <summary>Counts correct predictions in a batch (output, target); the default handles logits [N, C] with int64 targets [N].</summary>
    public Func<Tensor, Tensor, long?>? CountCorrect { get; init; }

    /// <summary>Generators saved in checkpoints besides the data loader's (dropout uses Generator.Default).</summary>
    public IReadOnlyList<Generator>? Generators { get; init; }

    /// <summary>
    /// Run <see cref="Trainer.Evaluate"/> and <see cref="Trainer.Predict"/> through an <see cref="InferenceModel"/> (batch norm
    /// folded, activations fused, memory planned once) prepared at the start of each call for the batch shape, and again
    /// whenever a batch is larger or shaped differently; the outputs equal the eager model's within float32 rounding.
    /// </summary>
    public bool PreparedInference { get; init; }

    /// <summary>Extra metadata written into every checkpoint (for example the model's name, so that tools can say what a file holds).</summary>
    public IReadOnlyDictionary<string, string>? CheckpointMetadata { get; init; }

    /// <summary>
    /// Data-parallel training over MPI: rank 0's state is broadcast when Fit starts, gradients are averaged across ranks
    /// before every step, and epoch metrics (and evaluations of loaders with a <see cref="DistributedSampler"/>) are
    /// summed over ranks. The train loader must carry a padded DistributedSampler so that every rank takes the same steps.
    /// </summary>
    public DataParallel? DataParallel { get; init; }

    /// <summary>Receive every step's loss and every epoch's logs (TensorBoard files, the live dashboard).</summary>
    public IReadOnlyList<ITrainingMonitor>? Monitors { get; init; }

    /// <summary>
    /// Batches whose gradients add up before each optimizer step (gradient accumulation: a step sees N batches while
    /// memory holds one). Each batch's loss is divided by the number of batches in its group, so a step's gradient is
    /// the mean over the group (the last group of an epoch may be smaller). Callbacks and monitors see one call per step
    /// with the group's mean loss. Not with <see cref="DataParallel"/>.
    /// </summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Stop after this many optimizer steps in total: the epoch in progress ends there, is validated and counts as done.</summary>
    public long? MaxSteps { get; init; }
}

/// <summary>Loss, accuracy and (optionally) predictions over a dataset.</summary>
public sealed record EvaluationResult(double Loss, double? Accuracy, int Samples, Tensor? Predictions, Tensor? Targets);

/// <summary>
/// Keras-style training loop over a model, a loss and an optimizer: <see cref="Fit"/> runs epochs of
/// mini-batch gradient descent with validation, callbacks, LR scheduling and progress reporting;
/// <see cref="Evaluate"/> and <see cref="Predict"/> run the model without recording gradients.
/// The whole training state can be saved and resumed exactly with <see cref="SaveCheckpoint"/>/<see cref="LoadCheckpoint"/>.
/// </summary>
public sealed class Trainer
{
    private readonly Func<Tensor, Tensor, Tensor> _loss;
    private DataLoader? _train;
    private DataLoaderState? _resumeLoader;
    private DataLoaderState? _interruptedAt; // where an interrupted epoch stopped (a checkpoint resumes there)

    /// <summary>A trainer for <paramref name="model"/>.</summary>
    /// <param name="model">The model to train.</param>
    /// <param name="loss">Loss of a batch from (output, target), e.g. cross-entropy; it must return a scalar.</param>
    /// <param name="optimizer">Updates the model's parameters after each batch (or accumulated group of batches).</param>
    /// <param name="options">Batch size, validation, callbacks, scheduling and reporting; defaults to <see cref="TrainerOptions"/>' defaults.</param>
    public Trainer(Module<Tensor, Tensor> model, Func<Tensor, Tensor, Tensor> loss, Optimizer optimizer, TrainerOptions? options = null)
    {
        Model = model;
        _loss = loss;
        Optimizer = optimizer;
        Options = options ?? new TrainerOptions();
    }

    /// <summary>The model being trained.</summary>
    public Module<Tensor, Tensor> Model { get; }
    /// <summary>The optimizer that updates the model.</summary>
    public Optimizer Optimizer { get; }
    /// <summary>Batch size, callbacks, scheduling and reporting.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Number of completed epochs (the next epoch's zero-based index).</summary>
    public int Epoch { get; private set; }

    /// <summary>Number of optimizer steps taken.</summary>
    public long Step { get; private set; }

    /// <summary>Set by a callback to end <see cref="Fit"/> after the current epoch.</summary>
    public bool StopTraining { get; set; }

    private ITrainingReporter Reporter => Options.Reporter ?? SilentReporter.Instance;

    private IReadOnlyList<ITrainingMonitor> Monitors => Options.Monitors ?? [];

    /// <summary>
    /// Trains until <paramref name="epochs"/> epochs are complete in total (a resumed trainer continues where it stopped).
    /// When <paramref name="cancellationToken"/> is cancelled, the step in progress finishes and training stops there:
    /// the epoch is left unfinished (no validation, no epoch-end callbacks, no epoch scheduler step), the history says
    /// <see cref="TrainingHistory.Interrupted"/>, and <see cref="SaveCheckpoint"/> then saves a checkpoint from which
    /// <see cref="Fit"/> continues with the next batch of that epoch (its logs then cover the batches after the resume).
    /// A cancellation during validation or at the end of an epoch stops after that epoch.
    /// </summary>
    public TrainingHistory Fit(DataLoader train, DataLoader? validation = null, int epochs = 1, IReadOnlyList<ICallback>? callbacks = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (epochs < 0) throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit: epochs must be non-negative, got {epochs}");
        if (Options.DataParallel is not null && train.Sampler is not { Pad: true })
            throw new ArgumentException("Fit: data-parallel training needs a train loader with a padded DistributedSampler (every rank must take the same number of steps)", nameof(train));
        if (Options.GradientAccumulationSteps < 1)
            throw new ArgumentException($"Fit: GradientAccumulationSteps must be at least 1, got {Options.GradientAccumulationSteps}");
        if (Options.GradientAccumulationSteps > 1 && Options.DataParallel is not null)
            throw new ArgumentException("Fit: gradient accumulation is not supported with data-parallel training yet (raise the per-process batch size instead)");
        if (Options.MaxSteps is long max && max < 0) throw new ArgumentException($"Fit: MaxSteps must be non-negative, got {max}");
        _train = train;
        _interruptedAt = null;
        if (_resumeLoader is not null)
        {
            train.LoadState(_resumeLoader);
            _resumeLoader = null;
        }
        callbacks ??= [];
        var history = new TrainingHistory();
        var wall = Stopwatch.StartNew();
        StopTraining = Options.MaxSteps is long limit && Step >= limit;
        Options.DataParallel?.BroadcastState();
        foreach (var c in callbacks) c.OnTrainBegin(this);
        Reporter.TrainBegin(epochs - Epoch, train.Count);
        var plan = new RunPlan(epochs, Epoch, Step, train.Count, train.BatchSize);
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
            if (validation is not null)
            {
                // Monitors get the predictions for a confusion matrix (one int64 per sample).
                var v = Evaluate(validation, keepPredictions: Monitors.Count > 0);
                foreach (var m in Monitors) m.Evaluated(Step, Epoch, v);
                logs["val_loss"] = v.Loss;
                if (v.Accuracy is double acc) logs["val_accuracy"] = acc;
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

    /// <summary>One epoch; null when <paramref name="cancellationToken"/> stopped it before its last batch (the position is kept for checkpoints).</summary>
    private EpochLogs? RunEpoch(DataLoader train, IReadOnlyList<ICallback> callbacks, CancellationToken cancellationToken)
    {
        Model.Train();
        var logs = new EpochLogs(Epoch) { ["lr"] = Optimizer.ParamGroups[0].Lr };
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        long correct = 0, samples = 0, classified = 0;
        int batch = 0, first = train.State.Batch; // batches of this epoch done before a resume (0 otherwise)
        Reporter.EpochBegin(Epoch, train.Count);
        int accumulate = Options.GradientAccumulationSteps, group = 0, inGroup = 0;
        double groupLoss = 0;
        long groupCorrect = 0, groupClassified = 0;
        foreach (var (input, target) in train)
        {
            double stepLr = Optimizer.ParamGroups[0].Lr;
            if (inGroup == 0)
            {
                Optimizer.ZeroGrad();
                Options.DataParallel?.BeginStep(Step);
                group = Math.Min(accumulate, train.Count - (first + batch)); // the epoch's last group may be smaller
                (groupLoss, groupCorrect, groupClassified) = (0, 0, 0);
            }
            var output = Model.Call(input);
            var loss = _loss(output, target);
            (group == 1 ? loss : loss.Mul(1.0 / group)).Backward();
            inGroup++;

            int n = input.Shape.Length > 0 ? input.Size(0) : 1;
            double l = loss.ToDouble();
            lossSum += l * n;
            samples += n;
            groupLoss += l;
            if (Correct(output, target) is long c)
            {
                correct += c;
                classified += n;
                groupCorrect += c;
                groupClassified += n;
            }
            batch++;
            if (inGroup == group)
            {
                inGroup = 0;
                Options.DataParallel?.SynchronizeGradients();
                if (Options.ClipGradNorm is double maxNorm) GradClipping.ClipGradNorm(Model.Parameters(), maxNorm);
                Optimizer.Step();
                Step++;
                if (Options.SchedulerPerBatch) Options.Scheduler?.Step();
                double stepLoss = groupLoss / group;
                foreach (var cb in callbacks) cb.OnBatchEnd(this, Step, stepLoss);
                foreach (var m in Monitors) m.StepEnd(new StepMetrics(Step, Epoch, stepLoss, stepLr, groupClassified > 0 ? (double)groupCorrect / groupClassified : null));
            }
            Reporter.BatchEnd(first + batch, lossSum / samples, classified > 0 ? (double)correct / classified : null, samples / clock.Elapsed.TotalSeconds);
            if (inGroup == 0 && Options.MaxSteps is long maxSteps && Step >= maxSteps)
            {
                StopTraining = true; // the step limit: this epoch ends here
                break;
            }
            if (inGroup == 0 && cancellationToken.IsCancellationRequested) // an interruption waits for the group's step
            {
                var position = train.State;
                if (position.Batch < train.Count)
                {
                    _interruptedAt = position with { Epoch = Epoch };
                    return null;
                }
            }
        }
        if (Options.DataParallel is { } dp) (lossSum, samples, correct, classified) = SumOverRanks(dp, lossSum, samples, correct, classified);
        double seconds = clock.Elapsed.TotalSeconds;
        logs["loss"] = samples > 0 ? lossSum / samples : double.NaN;
        if (classified > 0) logs["accuracy"] = (double)correct / classified;
        logs["seconds"] = seconds;
        logs["samples_per_second"] = seconds > 0 ? samples / seconds : 0;
        return logs;
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
        bool wasTraining = Model.Training;
        Model.Eval();
        using var _ = Autograd.NoGrad();
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
        Model.Train(wasTraining);
        if (Options.DataParallel is { } dp && data.Sampler is not null) (lossSum, samples, correct, classified) = SumOverRanks(dp, lossSum, samples, correct, classified);
        return new EvaluationResult(samples > 0 ? lossSum / samples : double.NaN, classified > 0 ? (double)correct / classified : null, (int)samples,
            predictions.Count > 0 ? Tensor.Cat(predictions) : null, targets.Count > 0 ? Tensor.Cat(targets) : null);
    }

    /// <summary>The model's output for one batch, in eval mode without gradients.</summary>
    public Tensor Predict(Tensor input)
    {
        bool wasTraining = Model.Training;
        Model.Eval();
        try
        {
            using var _ = Autograd.NoGrad();
            InferenceModel? prepared = null;
            return Forward(input, ref prepared);
        }
        finally
        {
            Model.Train(wasTraining);
        }
    }

    // The eval-mode forward of Evaluate and Predict: eager, or through a plan kept while the batches fit it.
    private Tensor Forward(Tensor input, ref InferenceModel? prepared)
    {
        if (!Options.PreparedInference || input.Rank == 0) return Model.Call(input);
        var shape = input.Shape;
        bool fits = prepared is not null && prepared.InputShape.Count == shape.Length && shape[0] <= prepared.InputShape[0] &&
            prepared.InputShape.Skip(1).SequenceEqual(shape[1..].ToArray());
        if (!fits) prepared = InferenceModel.Prepare(Model, shape.ToArray());
        return prepared!.Run(input);
    }

    /// <summary>
    /// Writes model, optimizer, scheduler, generators, data-loader position, epoch and step to one file, atomically.
    /// After an interrupted <see cref="Fit"/> the position is the middle of the unfinished epoch, counted in examples of the
    /// epoch's order consumed by all ranks together, so that a data-parallel run resumes it at any world size (the
    /// ranks' dropout generators follow <see cref="DataParallel.RankGenerators"/>' rule and need no saved state).
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        var loader = _interruptedAt ?? (_train is null ? null
            : new DataLoaderState(Epoch, _train.Generator.Seed, _train.Generator.Offset, 0) { Samples = 0 }); // between epochs: the next epoch starts here
        Checkpoint.Save(path, Model, Optimizer, Options.Scheduler, AllGenerators(), new CheckpointProgress(Epoch, Step, loader), Options.CheckpointMetadata);
    }

    /// <summary>
    /// Restores everything <see cref="SaveCheckpoint"/> wrote; the next <see cref="Fit"/> continues exactly as uninterrupted training would.
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
        if (replanSchedule) Options.Scheduler?.Restart(Options.SchedulerPerBatch ? Step : Epoch);
    }

    /// <summary>Where the last <see cref="Fit"/> stopped when it was cancelled within an epoch (its epoch and the batches done), else null.</summary>
    public DataLoaderState? InterruptedAt => _interruptedAt;

    /// <summary>Where the data loader resumes: the epoch, and the batch within it (0 unless the checkpoint was saved mid-epoch).</summary>
    public DataLoaderState? ResumePosition => _resumeLoader;

    /// <summary>Generators saved besides the data loader's (whose state travels in its DataLoaderState).</summary>
    private List<Generator> AllGenerators()
    {
        var list = new List<Generator> { Generator.Default };
        foreach (var g in Options.Generators ?? []) if (!list.Contains(g)) list.Add(g);
        return list;
    }
}
