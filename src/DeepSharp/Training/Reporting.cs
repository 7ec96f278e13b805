using Spectre.Console;

namespace DeepSharp.Training;

/// <summary>Receives training progress from <see cref="Trainer"/>.</summary>
public interface ITrainingReporter
{
    void TrainBegin(int epochs, int batchesPerEpoch) { }

    void EpochBegin(int epoch, int batches) { }

    void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond) { }

    void EpochEnd(EpochLogs logs, int totalEpochs) { }

    void TrainEnd(TrainingHistory history) { }
}

public sealed class SilentReporter : ITrainingReporter
{
    public static SilentReporter Instance { get; } = new();
}

/// <summary>
/// A progress bar per epoch on the console (Spectre.Console) with loss, accuracy, samples/s and ETA,
/// and one summary line per finished epoch. Falls back to plain lines when output is redirected.
/// </summary>
public sealed class ConsoleReporter(IAnsiConsole? console = null) : ITrainingReporter
{
    private readonly IAnsiConsole _console = console ?? AnsiConsole.Console;
    private ProgressContext? _context;
    private ProgressTask? _task;
    private Task? _runner;
    private TaskCompletionSource? _done;
    private int _epochs;

    public void TrainBegin(int epochs, int batchesPerEpoch) => _epochs = epochs;

    public void EpochBegin(int epoch, int batches)
    {
        if (!_console.Profile.Capabilities.Interactive) return;
        var ready = new TaskCompletionSource();
        _done = new TaskCompletionSource();
        var done = _done;
        _runner = _console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                _context = ctx;
                _task = ctx.AddTask($"epoch {epoch + 1}", maxValue: Math.Max(batches, 1));
                ready.SetResult();
                await done.Task.ConfigureAwait(false);
            });
        ready.Task.Wait();
    }

    public void BatchEnd(int batch, double meanLoss, double? accuracy, double samplesPerSecond)
    {
        if (_task is null) return;
        _task.Value = batch;
        string acc = accuracy is double a ? $" acc {a:P1}" : "";
        _task.Description = $"loss {meanLoss:F4}{acc} {samplesPerSecond:N0}/s";
    }

    public void EpochEnd(EpochLogs logs, int totalEpochs)
    {
        if (_done is not null)
        {
            _done.SetResult();
            _runner?.Wait();
            _done = null;
            _task = null;
            _context = null;
        }
        var parts = new List<string> { $"epoch {logs.Epoch + 1}/{totalEpochs}" };
        foreach (var key in new[] { "loss", "accuracy", "val_loss", "val_accuracy" })
            if (logs.Get(key) is double v) parts.Add(key.Contains("acc", StringComparison.Ordinal) ? $"{key} {v:P2}" : $"{key} {v:F4}");
        if (logs.Get("tokens_per_second") is double tps) parts.Add($"{tps:N0} tokens/s"); // language models count characters or words
        else if (logs.Get("samples_per_second") is double sps) parts.Add($"{sps:N0} samples/s");
        if (logs.Get("seconds") is double s) parts.Add($"{s:F1}s");
        _console.MarkupLine(Markup.Escape(string.Join("  ", parts)));
    }
}
