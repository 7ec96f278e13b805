using Spectre.Console;

namespace DeepSharp.Training;

/// <summary>Receives training progress from <see cref="Trainer"/>.</summary>
public interface ITrainingReporter
{
    /// <summary>Before the first epoch: the epochs this call will train and the batches in each.</summary>
    void TrainBegin(int epochs, int batchesPerEpoch) { }

    /// <summary>Before each epoch: its zero-based index and its number of batches.</summary>
    void EpochBegin(int epoch, int batches) { }

    /// <summary>After each optimizer step: batches done in the epoch, the epoch's mean loss so far, its accuracy (null when not a classifier) and the throughput.</summary>
    void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond) { }

    /// <summary>After each epoch, with its logs and the total number of epochs.</summary>
    void EpochEnd(EpochLogs logs, int totalEpochs) { }

    /// <summary>When training ends, with the history.</summary>
    void TrainEnd(TrainingHistory history) { }
}

/// <summary>Reports nothing.</summary>
public sealed class SilentReporter : ITrainingReporter
{
    /// <summary>The shared instance.</summary>
    public static SilentReporter Instance { get; } = new();
}

/// <summary>
/// Progress on the console (Spectre.Console). On an interactive terminal: a progress bar per epoch with loss,
/// accuracy, throughput and ETA. Otherwise (a pipe, a file, NO_COLOR): plain progress lines within an epoch,
/// one every <see cref="ProgressInterval"/> (15 s by default), so that a log never goes silent for long. Either
/// way one summary line per finished epoch. Accuracies are shown in percent.
/// </summary>
public sealed class ConsoleReporter(IAnsiConsole? console = null) : ITrainingReporter
{
    private readonly IAnsiConsole _console = console ?? AnsiConsole.Console;
    private readonly System.Diagnostics.Stopwatch _epochClock = new();
    private ProgressTask? _task;
    private Task? _runner;
    private TaskCompletionSource? _done;
    private int _epochs;
    private int _epoch;
    private int _batches;
    private TimeSpan _lastLine;
    private int _startBatch; // batches of the epoch done before this run (a resumed epoch); -1 until the first batch

    /// <summary>Time between progress lines within an epoch when the console is not interactive.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>What the throughput counts, for progress lines ("samples/s", or "chars/s" for a character model).</summary>
    public string RateUnit { get; init; } = "samples/s";

    /// <summary>An accuracy (a fraction) as a percentage with two decimals and no space: "87.06%".</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + "%";

    /// <summary>Remembers the number of epochs for the progress lines.</summary>
    public void TrainBegin(int epochs, int batchesPerEpoch) => _epochs = epochs;

    /// <summary>Starts a progress bar for the epoch on an interactive console.</summary>
    public void EpochBegin(int epoch, int batches)
    {
        _epoch = epoch;
        _batches = batches;
        _epochClock.Restart();
        _lastLine = TimeSpan.Zero;
        _startBatch = -1;
        if (!_console.Profile.Capabilities.Interactive) return;
        var ready = new TaskCompletionSource();
        _done = new TaskCompletionSource();
        var done = _done;
        _runner = _console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                _task = ctx.AddTask($"epoch {epoch + 1}", maxValue: Math.Max(batches, 1));
                ready.SetResult();
                await done.Task.ConfigureAwait(false);
            });
        ready.Task.Wait();
    }

    /// <summary>Updates the progress bar, or on a non-interactive console writes a progress line every <see cref="ProgressInterval"/>.</summary>
    public void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond)
    {
        if (_startBatch < 0) _startBatch = batch - 1;
        if (_task is not null)
        {
            _task.Value = batch;
            string shown = accuracy is double a ? $" acc {Percent(a)}" : "";
            _task.Description = $"loss {meanLoss:F4}{shown} {samplesPerSecond:N0}/s";
            return;
        }
        var elapsed = _epochClock.Elapsed;
        if (elapsed - _lastLine < ProgressInterval || batch >= _batches) return;
        _lastLine = elapsed;
        var parts = new List<string>
        {
            $"epoch {_epoch + 1}/{_epochs}",
            $"batch {batch}/{_batches} ({100.0 * batch / Math.Max(_batches, 1):F0}%)",
            $"loss {meanLoss:F4}",
        };
        if (accuracy is double acc) parts.Add($"accuracy {Percent(acc)}");
        parts.Add($"{samplesPerSecond:N0} {RateUnit}");
        int done = batch - _startBatch;
        if (done > 0) parts.Add($"{elapsed.TotalSeconds:F0}s elapsed, about {elapsed.TotalSeconds / done * (_batches - batch):F0}s left in the epoch");
        _console.WriteLine(string.Join("  ", parts));
    }

    /// <summary>Closes the progress bar and writes one summary line for the epoch (loss, accuracy, validation, throughput, seconds).</summary>
    public void EpochEnd(EpochLogs logs, int totalEpochs)
    {
        CloseProgress();
        var parts = new List<string> { $"epoch {logs.Epoch + 1}/{totalEpochs}" };
        foreach (var key in new[] { "loss", "accuracy", "val_loss", "val_accuracy" })
            if (logs.Get(key) is double v) parts.Add(key.Contains("acc", StringComparison.Ordinal) ? $"{key} {Percent(v)}" : $"{key} {v:F4}");
        if (logs.Get("tokens_per_second") is double tps) parts.Add($"{tps:N0} tokens/s"); // language models count characters or words
        else if (logs.Get("samples_per_second") is double sps) parts.Add($"{sps:N0} samples/s");
        if (logs.Get("seconds") is double s) parts.Add($"{s:F1}s");
        _console.MarkupLine(Markup.Escape(string.Join("  ", parts)));
    }

    /// <summary>Ends a live progress bar still running (training stopped within an epoch), which also shows the cursor again.</summary>
    public void TrainEnd(TrainingHistory history) => CloseProgress();

    private void CloseProgress()
    {
        if (_done is null) return;
        _done.SetResult();
        _runner?.Wait();
        _done = null;
        _task = null;
    }
}
