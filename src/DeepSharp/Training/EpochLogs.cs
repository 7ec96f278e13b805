namespace DeepSharp.Training;

/// <summary>The figures of one epoch: loss, accuracy, val_loss, val_accuracy, lr, samples_per_second, seconds, ...</summary>
public sealed class EpochLogs : Dictionary<string, double>
{
    /// <summary>Empty logs for zero-based epoch <paramref name="epoch"/>.</summary>
    public EpochLogs(int epoch) => Epoch = epoch;

    /// <summary>Zero-based epoch index.</summary>
    public int Epoch { get; }

    /// <summary>The value of <paramref name="key"/>, or null when it was not logged.</summary>
    public double? Get(string key) => TryGetValue(key, out double v) ? v : null;
}

/// <summary>Everything <see cref="Trainer"/>.Fit measured, one entry per epoch.</summary>
public sealed class TrainingHistory
{
    /// <summary>The logs of each epoch, in order.</summary>
    public List<EpochLogs> Epochs { get; } = [];

    /// <summary>True when a callback (for example early stopping) ended training before the last epoch.</summary>
    public bool StoppedEarly { get; internal set; }

    /// <summary>True when a cancellation stopped training before the requested number of epochs (see <see cref="Trainer"/>.Fit).</summary>
    public bool Interrupted { get; internal set; }

    /// <summary>Wall-clock duration of the run, in seconds.</summary>
    public double WallSeconds { get; internal set; }
}
