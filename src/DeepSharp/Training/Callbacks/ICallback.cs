namespace DeepSharp.Training;

/// <summary>Hooks into <see cref="Trainer"/>.Fit. All methods are optional (default no-ops).</summary>
public interface ICallback
{
    /// <summary>Before the first epoch of <see cref="Trainer"/>.Fit.</summary>
    void OnTrainBegin(Trainer trainer) { }

    /// <summary>Before each epoch; <paramref name="epoch"/> is zero-based.</summary>
    void OnEpochBegin(Trainer trainer, int epoch) { }

    /// <summary>After every optimizer step, with the batch loss.</summary>
    void OnBatchEnd(Trainer trainer, long step, double loss) { }

    /// <summary>After each epoch's validation; set <see cref="Trainer.StopTraining"/> to end training.</summary>
    void OnEpochEnd(Trainer trainer, EpochLogs logs) { }

    /// <summary>After the last epoch (or when training stopped early or was interrupted), with the history of the run.</summary>
    void OnTrainEnd(Trainer trainer, TrainingHistory history) { }
}
