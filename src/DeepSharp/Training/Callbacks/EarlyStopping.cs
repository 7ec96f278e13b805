namespace DeepSharp.Training;

/// <summary>
/// Stops training when <see cref="Monitor"/> has not improved by more than <see cref="MinDelta"/>
/// for <see cref="Patience"/> epochs (Keras' EarlyStopping); optionally restores the best weights.
/// </summary>
public sealed class EarlyStopping(string monitor = "val_loss", int patience = 3, double minDelta = 0, bool? higherIsBetter = null, bool restoreBestWeights = false) : ICallback
{
    private double _best;
    private int _wait;
    private Dictionary<string, Tensor>? _bestWeights;

    /// <summary>The epoch-log key watched, e.g. "val_loss" (default) or "val_accuracy".</summary>
    public string Monitor => monitor;
    /// <summary>Epochs without improvement after which training stops (default 3).</summary>
    public int Patience => patience;
    /// <summary>Smallest change that counts as an improvement (default 0).</summary>
    public double MinDelta => minDelta;

    /// <summary>Epoch (zero-based) at which training was stopped, or -1.</summary>
    public int StoppedEpoch { get; private set; } = -1;

    private bool Higher => higherIsBetter ?? monitor.Contains("acc", StringComparison.Ordinal);

    /// <summary>Resets the best value, the wait count and <see cref="StoppedEpoch"/>.</summary>
    public void OnTrainBegin(Trainer trainer)
    {
        _best = Higher ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0;
        StoppedEpoch = -1;
    }

    /// <summary>Tracks <see cref="Monitor"/> (ignored when absent from the logs) and stops training after <see cref="Patience"/> epochs without improvement.</summary>
    public void OnEpochEnd(Trainer trainer, EpochLogs logs)
    {
        if (logs.Get(monitor) is not double value) return;
        bool improved = Higher ? value > _best + minDelta : value < _best - minDelta;
        if (improved)
        {
            _best = value;
            _wait = 0;
            if (restoreBestWeights) _bestWeights = trainer.Model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
            return;
        }
        if (++_wait >= patience)
        {
            StoppedEpoch = logs.Epoch;
            trainer.StopTraining = true;
        }
    }

    /// <summary>Restores the best weights when training was stopped and restoreBestWeights is set.</summary>
    public void OnTrainEnd(Trainer trainer, TrainingHistory history)
    {
        if (restoreBestWeights && _bestWeights is not null && StoppedEpoch >= 0) trainer.Model.LoadStateDict(_bestWeights);
    }
}
