using DeepSharp.NN;
using DeepSharp.Training;

namespace DeepSharp.Insight.TensorBoard;

/// <summary>
/// Writes a run to TensorBoard as it trains, from the trainer (<see cref="TrainerOptions.Monitors"/>,
/// classifiers and language models alike): <c>train/loss</c>, <c>train/lr</c> and (for a classifier) <c>train/accuracy</c> on every step,
/// every value of the epoch logs as <c>epoch/KEY</c> at the epoch's last step, and, when a model is given,
/// a histogram of every parameter after each epoch. The file is flushed after every epoch.
/// </summary>
public sealed class TensorBoardMonitor(SummaryWriter writer, Module? model = null) : ITrainingMonitor
{
    /// <summary>The writer the events go to.</summary>
    public SummaryWriter Writer { get; } = writer ?? throw new ArgumentNullException(nameof(writer));

    /// <summary>Writes a text summary of the run plan under the tag "run".</summary>
    public void RunBegin(RunPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        Writer.AddText("run", $"{plan.Epochs} epochs of {plan.BatchesPerEpoch} steps, {plan.SamplesPerBatch} {plan.RateUnit} per batch" +
            (plan.FirstStep > 0 ? $", resumed at step {plan.FirstStep}" : ""), plan.FirstStep);
    }

    /// <summary>Writes <c>train/loss</c>, <c>train/lr</c> and, for a classifier, <c>train/accuracy</c>.</summary>
    public void StepEnd(in StepMetrics step)
    {
        Writer.AddScalar("train/loss", step.Loss, step.Step);
        Writer.AddScalar("train/lr", step.Lr, step.Step);
        if (step.Accuracy is double accuracy) Writer.AddScalar("train/accuracy", accuracy, step.Step);
    }

    /// <summary>Writes the epoch logs as <c>epoch/KEY</c>, parameter histograms when a model was given, and flushes.</summary>
    public void EpochEnd(long step, EpochLogs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        foreach (var (key, value) in logs) Writer.AddScalar("epoch/" + key, value, step);
        if (model is not null)
            foreach (var (name, p) in model.NamedParameters())
                if (p.Numel > 0) Writer.AddHistogram("weights/" + name, p, step);
        Writer.Flush();
    }

    /// <summary>Flushes the writer (it stays open: the caller owns it).</summary>
    public void RunEnd(TrainingHistory history) => Writer.Flush();
}
