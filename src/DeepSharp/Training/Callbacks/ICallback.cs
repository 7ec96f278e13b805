namespace DeepSharp.Training;

/// <summary>Hooks into <see cref="Trainer.Fit"/>. All methods are optional (default no-ops).</summary>
public interface ICallback
{
    void OnTrainBegin(Trainer trainer) { }

    void OnEpochBegin(Trainer trainer, int epoch) { }

    /// <summary>After every optimizer step, with the batch loss.</summary>
    void OnBatchEnd(Trainer trainer, long step, double loss) { }

    /// <summary>After each epoch's validation; set <see cref="Trainer.StopTraining"/> to end training.</summary>
    void OnEpochEnd(Trainer trainer, EpochLogs logs) { }

    void OnTrainEnd(Trainer trainer, TrainingHistory history) { }
}
