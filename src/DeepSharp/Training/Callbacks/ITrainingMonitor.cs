namespace DeepSharp.Training;

/// <summary>What a run is about to do, given to <see cref="ITrainingMonitor.RunBegin"/>.</summary>
/// <param name="Epochs">Total epochs the run trains to (a resumed run counts those already done).</param>
/// <param name="FirstEpoch">The zero-based epoch training starts at (non-zero after a resume).</param>
/// <param name="FirstStep">Optimizer steps taken before this run.</param>
/// <param name="BatchesPerEpoch">Optimizer steps in one epoch.</param>
/// <param name="SamplesPerBatch">Samples (or tokens, for a language model) in one batch.</param>
/// <param name="RateUnit">What the throughput counts: "samples" or "tokens".</param>
public sealed record RunPlan(int Epochs, int FirstEpoch, long FirstStep, int BatchesPerEpoch, int SamplesPerBatch, string RateUnit = "samples");

/// <summary>
/// Progress of a run as plain numbers, from <see cref="Trainer"/> (<see cref="TrainerOptions.Monitors"/>) and
/// <see cref="LanguageModelTrainer"/> alike: what TensorBoard event files and the live dashboard need. Monitors
/// do not touch the model, so one implementation serves both trainers. Called on the training thread: keep it cheap.
/// </summary>
public interface ITrainingMonitor
{
    void RunBegin(RunPlan plan) { }

    /// <summary>After every optimizer step: the batch loss and the learning rate that step trained with.</summary>
    void StepEnd(long step, int epoch, double loss, double lr) { }

    /// <summary>After each epoch and its validation, with the epoch's logs.</summary>
    void EpochEnd(long step, EpochLogs logs) { }

    void RunEnd(TrainingHistory history) { }
}
