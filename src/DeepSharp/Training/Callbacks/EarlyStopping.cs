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

    public string Monitor => monitor;
    public int Patience => patience;
    public double MinDelta => minDelta;

    /// <summary>Epoch (zero-based) at which training was stopped, or -1.</summary>
    public int StoppedEpoch { get; private set; } = -1;

    private bool Higher => higherIsBetter ?? monitor.Contains("acc", StringComparison.Ordinal);

    public void OnTrainBegin(Trainer trainer)
    {
        _best = Higher ? double.NegativeInfinity : double.PositiveInfinity;
        _wait = 0;
        StoppedEpoch = -1;
    }

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

    public void OnTrainEnd(Trainer trainer, TrainingHistory history)
    {
        if (restoreBestWeights && _bestWeights is not null && StoppedEpoch >= 0) trainer.Model.LoadStateDict(_bestWeights);
    }
}
