using DeepSharp.Cli.Commands;
using DeepSharp.Insight.TensorBoard;
using DeepSharp.NN;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Support;

/// <summary>The monitors <c>deepsharp train</c> attaches to either trainer (--tensorboard), closed when the run ends.</summary>
internal sealed class RunMonitors : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public List<ITrainingMonitor> Monitors { get; } = [];

    public static RunMonitors Create(TrainCommand.TrainSettings s, string outDir, Module model)
    {
        var run = new RunMonitors();
        if (s.TensorBoard is { } dir)
        {
            string logDir = dir.Length == 0 ? outDir : dir;
            SummaryWriter writer;
            try
            {
                writer = new SummaryWriter(logDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--tensorboard: cannot write an event file in '{logDir}': {e.Message}");
            }
            run._owned.Add(writer);
            run.Monitors.Add(new TensorBoardMonitor(writer, model));
            AnsiConsole.MarkupLine($"tensorboard: [bold]{Markup.Escape(writer.FilePath)}[/] (view with: tensorboard --logdir {Markup.Escape(logDir)})");
        }
        return run;
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _owned.Clear();
    }
}
