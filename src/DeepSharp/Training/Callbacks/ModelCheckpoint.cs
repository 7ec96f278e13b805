namespace DeepSharp.Training;

/// <summary>
/// Writes full checkpoints (model, optimizer, scheduler, RNG and data-loader state) into a directory:
/// <c>last.safetensors</c> after every epoch and <c>best.safetensors</c> when <see cref="Monitor"/> improves.
/// Files are replaced atomically, so an interrupted run never leaves a half-written checkpoint.
/// </summary>
public sealed class ModelCheckpoint(string directory, string monitor = "val_loss", bool? higherIsBetter = null, bool saveBest = true, bool saveLast = true) : ICallback
{
    private double _best;

    /// <summary>The folder the checkpoints are written to.</summary>
    public string Directory => directory;
    /// <summary>Path of the checkpoint written after every epoch: Directory/last.safetensors.</summary>
    public string LastPath => Path.Combine(directory, "last.safetensors");
    /// <summary>Path of the best checkpoint so far: Directory/best.safetensors.</summary>
    public string BestPath => Path.Combine(directory, "best.safetensors");

    /// <summary>Epoch (zero-based) of the best checkpoint so far, or -1.</summary>
    public int BestEpoch { get; private set; } = -1;

    private bool Higher => higherIsBetter ?? monitor.Contains("acc", StringComparison.Ordinal);

    /// <summary>Creates the folder and resets the best value.</summary>
    public void OnTrainBegin(Trainer trainer)
    {
        System.IO.Directory.CreateDirectory(directory);
        _best = Higher ? double.NegativeInfinity : double.PositiveInfinity;
    }

    /// <summary>Writes <see cref="LastPath"/> and, when the monitored value improved, <see cref="BestPath"/>.</summary>
    public void OnEpochEnd(Trainer trainer, EpochLogs logs)
    {
        if (saveLast) trainer.SaveCheckpoint(LastPath);
        if (!saveBest || logs.Get(monitor) is not double value) return;
        if (Higher ? value > _best : value < _best)
        {
            _best = value;
            BestEpoch = logs.Epoch;
            trainer.SaveCheckpoint(BestPath);
        }
    }
}
