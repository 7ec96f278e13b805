using DeepSharp.Distributed;
using DeepSharp.Inference;
using DeepSharp.Models;
using DeepSharp.Optim;

namespace DeepSharp.Training;

/// <summary>Options of a <see cref="Trainer"/>, the same for classifiers and language models.</summary>
public sealed record TrainerOptions
{
    /// <summary>Stepped after every epoch (ReduceLROnPlateau gets the monitored metric), or after every batch when <see cref="SchedulerPerBatch"/>.</summary>
    public LRScheduler? Scheduler { get; init; }

    /// <summary>Step the scheduler after every optimizer step (OneCycleLR, warm-up, the cosine schedules of language models) instead of every epoch.</summary>
    public bool SchedulerPerBatch { get; init; }

    /// <summary>The metric ReduceLROnPlateau watches (default val_loss, else loss).</summary>
    public string PlateauMetric { get; init; } = "val_loss";

    /// <summary>Clip the total gradient norm to this value before each step (char-rnn uses 5, nanoGPT 1); null to not clip.</summary>
    public double? ClipGradNorm { get; init; }

    /// <summary>Where progress goes; <see cref="SilentReporter"/> when null.</summary>
    public ITrainingReporter? Reporter { get; init; }

    /// <summary>Counts correct predictions in a batch (output, target); the default handles logits [N, C] with int64 targets [N].</summary>
    public Func<Tensor, Tensor, long?>? CountCorrect { get; init; }

    /// <summary>Generators saved in checkpoints besides the data loader's (dropout uses Generator.Default, which is always saved).</summary>
    public IReadOnlyList<Generator>? Generators { get; init; }

    /// <summary>
    /// Run <see cref="Trainer.Evaluate(Data.DataLoader, bool)"/> and <see cref="Trainer.Predict"/> through an <see cref="InferenceModel"/>
    /// (batch norm folded, activations fused, memory planned once) prepared at the start of each call for the batch shape, and
    /// again whenever a batch is larger or shaped differently; the outputs equal the eager model's within float32 rounding.
    /// </summary>
    public bool PreparedInference { get; init; }

    /// <summary>
    /// Extra metadata written into every checkpoint (for example the model's name, so that tools can say what a file holds).
    /// A language model's own metadata (configuration, vocabulary) is always written; entries here are added to it.
    /// </summary>
    public IReadOnlyDictionary<string, string>? CheckpointMetadata { get; init; }

    /// <summary>
    /// Data-parallel training over MPI: rank 0's state is broadcast when Fit starts, gradients are averaged across ranks
    /// before every step, and epoch metrics (and evaluations of loaders with a <see cref="Data.DistributedSampler"/>) are
    /// summed over ranks. A classifier's train loader must carry a padded DistributedSampler so that every rank takes the
    /// same steps. A <see cref="CharRnn"/>'s text is cut into <see cref="LanguageModelOptions.BatchSize"/> x world size
    /// streams, of which rank r trains streams r x BatchSize to (r + 1) x BatchSize - 1 (each rank carries its own streams'
    /// state), so that a step equals one process's step with the global batch; its validation streams are shared out.
    /// Every rank calls Fit (give only rank 0 checkpoint callbacks and a reporter). Not for a <see cref="Gpt"/> yet.
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

    /// <summary>How a language model's text is cut into batches (used by the <see cref="CharRnn"/> and <see cref="Gpt"/> trainers only).</summary>
    public LanguageModelOptions LanguageModel { get; init; } = new();
}

/// <summary>How <see cref="Trainer.Fit(long[], long[], int, IReadOnlyList{ICallback}, CancellationToken)"/> cuts a token sequence into batches.</summary>
public sealed record LanguageModelOptions
{
    /// <summary>Rows of a batch: parallel streams of the text (<see cref="CharRnn"/>) or random windows (<see cref="Gpt"/>).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Time steps per batch: gradients flow back at most this far (truncated BPTT); for a <see cref="Gpt"/>, the window length (at most its context).</summary>
    public int SequenceLength { get; init; } = 100;

    /// <summary>
    /// For a <see cref="Gpt"/>: optimizer steps per epoch, each on random windows (an "epoch" is then the interval between
    /// validations and checkpoints). Null: as many steps as cover the training tokens once.
    /// </summary>
    public int? StepsPerEpoch { get; init; }

    /// <summary>Draws the random windows a <see cref="Gpt"/> trains on (saved in checkpoints); Generator.Default when null.</summary>
    public Generator? WindowGenerator { get; init; }
}

/// <summary>Loss, accuracy (classifiers) and optionally predictions over a dataset; <see cref="Samples"/> counts examples, or predicted tokens for a language model.</summary>
public sealed record EvaluationResult(double Loss, double? Accuracy, int Samples, Tensor? Predictions, Tensor? Targets);
