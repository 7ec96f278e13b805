namespace DeepSharp.Training;

/// <summary>What a run is about to do, given to <see cref="ITrainingMonitor.RunBegin"/>.</summary>
/// <param name="Epochs">Total epochs the run trains to (a resumed run counts those already done).</param>
/// <param name="FirstEpoch">The zero-based epoch training starts at (non-zero after a resume).</param>
/// <param name="FirstStep">Optimizer steps taken before this run.</param>
/// <param name="BatchesPerEpoch">Optimizer steps in one epoch.</param>
/// <param name="SamplesPerBatch">Samples (or tokens, for a language model) in one batch.</param>
/// <param name="RateUnit">What the throughput counts: "samples" or "tokens".</param>
public sealed record RunPlan(int Epochs, int FirstEpoch, long FirstStep, int BatchesPerEpoch, int SamplesPerBatch, string RateUnit = "samples");

/// <summary>One optimizer step as <see cref="ITrainingMonitor.StepEnd"/> sees it.</summary>
/// <param name="Step">Optimizer steps taken so far, this one included.</param>
/// <param name="Epoch">The zero-based epoch the step belongs to.</param>
/// <param name="Loss">The batch loss.</param>
/// <param name="Lr">The learning rate the step trained with (of the first parameter group).</param>
/// <param name="Accuracy">The batch accuracy of a classifier (argmax of logits [N, C] against int64 targets); null otherwise.</param>
public readonly record struct StepMetrics(long Step, int Epoch, double Loss, double Lr, double? Accuracy = null);

/// <summary>
/// Progress of a run as plain numbers, from <see cref="Trainer"/> (<see cref="TrainerOptions.Monitors"/>), for
/// classifiers and language models alike: what TensorBoard event files and the live dashboard need. Monitors
/// do not touch the model, so one implementation serves every task. Called on the training thread: keep it cheap.
/// </summary>
public interface ITrainingMonitor
{
    /// <summary>Before the first step, with what the run will do.</summary>
    void RunBegin(RunPlan plan) { }

    /// <summary>After every optimizer step: the batch loss, the learning rate that step trained with and, for a classifier, the batch accuracy.</summary>
    void StepEnd(in StepMetrics step) { }

    /// <summary>
    /// After each evaluation on the validation set, before <see cref="EpochEnd"/>: its loss, accuracy and, for a
    /// classifier, its predictions and targets (what a confusion matrix needs).
    /// </summary>
    void Evaluated(long step, int epoch, EvaluationResult result) { }

    /// <summary>After each epoch and its validation, with the epoch's logs.</summary>
    void EpochEnd(long step, EpochLogs logs) { }

    /// <summary>When the run ends, with its history.</summary>
    void RunEnd(TrainingHistory history) { }
}
