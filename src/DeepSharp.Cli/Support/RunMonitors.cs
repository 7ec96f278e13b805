using System.Net;
using DeepSharp.Cli.Commands;
using DeepSharp.Dashboard;
using DeepSharp.Distributed;
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

    /// <summary>The compute/communication split of a data-parallel run, else null.</summary>
    public CommunicationMonitor? Communication { get; private set; }

    private StopAfterSteps? _stopAfter;

    /// <summary>Cancelled after --stop-after-steps (a test hook); never without it.</summary>
    public CancellationToken Stop => _stopAfter?.Token ?? CancellationToken.None;

    /// <summary>A token cancelled by <paramref name="interruption"/> (Ctrl-C) or by <see cref="Stop"/>, for a trainer's Fit.</summary>
    public CancellationTokenSource StopOn(CancellationToken interruption) => CancellationTokenSource.CreateLinkedTokenSource(interruption, Stop);

    /// <summary>
    /// The monitors the settings ask for; <paramref name="classNames"/> label a classifier's confusion matrix on the dashboard;
    /// with <paramref name="dataParallel"/>, one that keeps the communication statistics.
    /// </summary>
    public static RunMonitors Create(TrainCommand.TrainSettings s, string outDir, Module model, IReadOnlyList<string>? classNames = null, DataParallel? dataParallel = null)
    {
        var run = new RunMonitors();
        try
        {
            if (s.StopAfterSteps is long steps) run.Monitors.Add(run._stopAfter = new StopAfterSteps(steps));
            if (dataParallel is not null) run.Monitors.Add(run.Communication = new CommunicationMonitor(dataParallel));
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
        _stopAfter?.Dispose();
        _stopAfter = null;
    }
}
