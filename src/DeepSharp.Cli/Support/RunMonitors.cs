using System.Net;
using DeepSharp.Cli.Commands;
using DeepSharp.Dashboard;
using DeepSharp.Insight;
using DeepSharp.Insight.TensorBoard;
using DeepSharp.NN;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Support;

/// <summary>The monitors <c>deepsharp train</c> attaches to either trainer (--tensorboard, --dashboard), closed when the run ends.</summary>
internal sealed class RunMonitors : IDisposable
{
    private SummaryWriter? _writer;

    public List<ITrainingMonitor> Monitors { get; } = [];

    /// <summary>The live page (--dashboard), else null.</summary>
    public TrainingDashboard? Dashboard { get; private set; }

    /// <summary>The monitors the settings ask for; <paramref name="classNames"/> label a classifier's confusion matrix on the dashboard.</summary>
    public static RunMonitors Create(TrainCommand.TrainSettings s, string outDir, Module model, IReadOnlyList<string>? classNames = null)
    {
        var run = new RunMonitors();
        try
        {
            if (s.TensorBoard is { } dir) run.StartTensorBoard(dir.Length == 0 ? outDir : dir, model);
            if (s.Dashboard is int port) run.StartDashboard(s, port, classNames);
        }
        catch
        {
            run.Dispose();
            throw;
        }
        return run;
    }

    private void StartTensorBoard(string logDir, Module model)
    {
        try
        {
            _writer = new SummaryWriter(logDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--tensorboard: cannot write an event file in '{logDir}': {e.Message}");
        }
        Monitors.Add(new TensorBoardMonitor(_writer, model));
        AnsiConsole.MarkupLine($"tensorboard: [bold]{Markup.Escape(_writer.FilePath)}[/] (view with: tensorboard --logdir {Markup.Escape(logDir)})");
    }

    private void StartDashboard(TrainCommand.TrainSettings s, int port, IReadOnlyList<string>? classNames)
    {
        var options = new DashboardOptions
        {
            Port = port,
            Bind = s.DashboardBind is { } bind ? IPAddress.Parse(bind) : IPAddress.Loopback,
            Title = $"{s.Model} on {s.Data}",
            ClassNames = classNames,
        };
        try
        {
            try
            {
                Dashboard = Start(options);
            }
            catch (IOException) when (port == DashboardOptions.DefaultPort)
            {
                Dashboard = Start(options with { Port = 0 }); // the default port is taken (another run's dashboard?): any free one
            }
        }
        catch (IOException e)
        {
            throw new CliException($"--dashboard: {e.Message.Replace("dashboard: ", "", StringComparison.Ordinal)}");
        }
        Monitors.Add(Dashboard);
        // Plain Console: a terminal soft-wraps the line, so the address stays clickable.
        Console.Out.WriteLine($"dashboard: {Dashboard.Url}");
    }

    private static TrainingDashboard Start(DashboardOptions options) => TrainingDashboard.StartAsync(options).GetAwaiter().GetResult();

    /// <summary>
    /// Without --report, the dashboard still gets layer statistics and gradient warnings: a recorder that keeps no file and
    /// looks every 200 steps (a small model takes hundreds of steps a second; a page needs no more, and training stays as fast).
    /// </summary>
    public InsightRecorder? DashboardRecorder() =>
        Dashboard is null ? null : new InsightRecorder(Dashboard.Watch(new InsightOptions { Every = 200, OnWarning = ReportCommand.PrintWarning }));

    /// <summary>
    /// The end of a finished run: with --report, writes DIR/report.html and links it on the dashboard; then keeps the
    /// dashboard open as <see cref="KeepDashboardOpen"/> says.
    /// </summary>
    public void Finish(TrainCommand.TrainSettings s, string outDir)
    {
        if (s.Report)
        {
            string reportPath = ReportCommand.Generate(outDir, s.DataDir);
            AnsiConsole.MarkupLine($"report: [bold]{Markup.Escape(reportPath)}[/]");
            Dashboard?.ShowReport(reportPath);
        }
        KeepDashboardOpen();
    }

    /// <summary>On a terminal, the page stays served after the run until Enter; in a script the run ends at once.</summary>
    private void KeepDashboardOpen()
    {
        if (Dashboard is null || Console.IsInputRedirected || Console.IsOutputRedirected) return;
        Console.Out.WriteLine($"dashboard: the run is over; {Dashboard.Url} stays open until you press Enter");
        Console.In.ReadLine();
    }

    public void Dispose()
    {
        Dashboard?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Dashboard = null;
        _writer?.Dispose();
        _writer = null;
    }
}
