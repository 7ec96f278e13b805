using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DeepSharp.Insight;
using DeepSharp.Training;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace DeepSharp.Dashboard;

/// <summary>Where and how a <see cref="TrainingDashboard"/> serves its page.</summary>
public sealed record DashboardOptions
{
    /// <summary>The default TCP port, 8050.</summary>
    public const int DefaultPort = 8050;

    /// <summary>TCP port; 0 picks a free one (see <see cref="TrainingDashboard.Url"/>).</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>The address to listen on: loopback by default, so that only this machine sees the page.</summary>
    public IPAddress Bind { get; init; } = IPAddress.Loopback;

    /// <summary>The page's heading.</summary>
    public string Title { get; init; } = "DeepSharp training";

    /// <summary>Class names for the confusion matrix, by class index (indices are shown where names are missing).</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Steps go to the page in batches at most this often (a page then redraws 4 times a second, not per step).</summary>
    public TimeSpan UpdateInterval { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>
/// A live page for a training run, served by Kestrel: loss, accuracy and learning-rate curves per step and per epoch,
/// throughput and ETA, per-layer activation and gradient statistics, warnings, the confusion matrix of each evaluation
/// and a link to the report. Attach
/// it as a monitor (<see cref="TrainerOptions.Monitors"/>, for classifiers and language models alike);
/// with an <see cref="InsightRecorder"/> built from <see cref="Watch"/>, layer statistics and gradient warnings show
/// up as they are recorded. Updates are pushed with server-sent events from a log of the whole run, so a page opened
/// mid-run catches up. Monitor calls only append to that log (a few microseconds per step).
/// <code>
/// await using var dashboard = await TrainingDashboard.StartAsync();
/// Console.WriteLine(dashboard.Url);
/// var trainer = new Trainer(model, loss, optimizer, new TrainerOptions { Monitors = [dashboard] });
/// </code>
/// </summary>
public sealed class TrainingDashboard : ITrainingMonitor, IAsyncDisposable
{
    private static readonly byte[] s_page = LoadPage();

    /// <summary>Evaluations with more classes than this show no confusion matrix (the page's table would be unreadable).</summary>
    public const int MaxConfusionClasses = 100;

    private readonly RunLog _log = new();
    private readonly WebApplication _app;
    private readonly DashboardOptions _options;
    private readonly CancellationTokenSource _closing = new();
    private readonly Stopwatch _clock = new();
    private readonly Stopwatch _sinceSent = Stopwatch.StartNew();
    private readonly List<(StepMetrics Step, double Time)> _pending = [];
    private string? _reportPath;
    private int _clients;
    private bool _lossWarned;
    private bool _disposed;

    private TrainingDashboard(WebApplication app, DashboardOptions options)
    {
        _app = app;
        _options = options;
    }

    /// <summary>The page's address.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Events logged so far (the page receives all of them).</summary>
    public int EventCount => _log.Count;

    /// <summary>Starts the server; an address in use (or not available) is an <see cref="IOException"/> that says which.</summary>
    public static async Task<TrainingDashboard> StartAsync(DashboardOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DashboardOptions();
        if (options.Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), $"dashboard: port {options.Port} is not a TCP port (0-65535; 0 for any free port)");
        // The empty builder: no configuration files, environment or logging providers, only Kestrel and routing (small under NativeAOT).
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(options.Bind, options.Port));
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var dashboard = new TrainingDashboard(app, options);
        app.UseRouting();
        app.MapGet("/", dashboard.PageAsync);
        app.MapGet("/events", dashboard.EventsAsync);
        app.MapGet("/report", dashboard.ReportAsync);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            string where = new IPEndPoint(options.Bind, options.Port).ToString();
            throw new IOException($"dashboard: cannot listen on {where}: {e.InnerException?.Message ?? e.Message}" +
                (options.Port != 0 ? "; choose another port (0 picks a free one)" : ""), e);
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // A page on 0.0.0.0 or [::] is opened on this machine through loopback.
        dashboard.Url = new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal) + "/");
        return dashboard;
    }

    /// <summary>
    /// <paramref name="options"/> (or the defaults) with the recorder's warnings and recorded steps also sent to the page;
    /// callbacks already set there still run.
    /// </summary>
    public InsightOptions Watch(InsightOptions? options = null)
    {
        options ??= new InsightOptions();
        var onWarning = options.OnWarning;
        var onStep = options.OnStep;
        return options with
        {
            OnWarning = w =>
            {
                onWarning?.Invoke(w);
                Warn(w);
            },
            OnStep = r =>
            {
                onStep?.Invoke(r);
                RecordLayers(r);
            },
        };
    }

    // ---- ITrainingMonitor ----

    /// <summary>Starts the run's clock and sends the run plan to the page.</summary>
    public void RunBegin(RunPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _clock.Restart();
        _lossWarned = false;
        Append("run", new RunStarted(_options.Title, plan.Epochs, plan.FirstEpoch, plan.FirstStep, plan.BatchesPerEpoch, plan.SamplesPerBatch, plan.RateUnit,
            (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds), DashboardJson.Default.RunStarted);
    }

    /// <summary>Queues the step; queued steps go to the page at most every <see cref="DashboardOptions.UpdateInterval"/>. A non-finite loss raises a warning once.</summary>
    public void StepEnd(in StepMetrics step)
    {
        _pending.Add((step, _clock.Elapsed.TotalSeconds));
        if (!double.IsFinite(step.Loss) && !_lossWarned)
            Warn(new InsightWarning(step.Step, "loss", "non-finite-loss", step.Loss,
                $"step {step.Step}: the loss is {step.Loss.ToString(CultureInfo.InvariantCulture)} (training diverged; lower the learning rate or clip gradients)"));
        else if (_sinceSent.Elapsed >= _options.UpdateInterval) SendSteps();
    }

    /// <summary>Shows the confusion matrix of each evaluation of a classifier (from its predictions and targets).</summary>
    public void Evaluated(long step, int epoch, EvaluationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Predictions is not { } predicted || result.Targets is not { } targets || predicted.Numel == 0) return;
        if (targets.Min().Item<long>() < 0) return; // ignored targets (ignore_index) have no row
        // The class count: the names given, else the largest class id seen (a class never seen nor predicted at the end is not shown).
        long seen = Math.Max(predicted.Max().Item<long>(), targets.Max().Item<long>()) + 1;
        int classes = (int)Math.Min(Math.Max(seen, _options.ClassNames?.Count ?? 0), MaxConfusionClasses + 1);
        if (classes > MaxConfusionClasses || seen > classes) return; // a table the page could not show readably
        var m = Metrics.ConfusionMatrix(predicted, targets, classes);
        var matrix = Enumerable.Range(0, classes).Select(i => Enumerable.Range(0, classes).Select(j => m[i, j]).ToArray()).ToArray();
        ShowConfusion(matrix, _options.ClassNames, $"validation, epoch {epoch + 1}");
    }

    /// <summary>Sends the queued steps and the epoch's logs.</summary>
    public void EpochEnd(long step, EpochLogs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        SendSteps();
        Append("epoch", new EpochEnded(logs.Epoch, step, _clock.Elapsed.TotalSeconds, new Dictionary<string, double>(logs)), DashboardJson.Default.EpochEnded);
    }

    /// <summary>Sends the queued steps and the run's end: finished, stopped early or interrupted, with its wall time.</summary>
    public void RunEnd(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        SendSteps();
        string status = history.Interrupted ? "interrupted" : history.StoppedEarly ? "stopped early" : "finished";
        Append("end", new RunEnded(status, history.WallSeconds, null), DashboardJson.Default.RunEnded);
    }

    // ---- what else the page shows ----

    /// <summary>Shows a warning (an <see cref="InsightRecorder"/>'s, through <see cref="Watch"/>, or your own).</summary>
    public void Warn(InsightWarning warning)
    {
        ArgumentNullException.ThrowIfNull(warning);
        if (warning.Kind == "non-finite-loss")
        {
            if (_lossWarned) return; // the recorder and this monitor both notice a diverged loss
            _lossWarned = true;
        }
        SendSteps(); // the curve reaches the step the warning is about
        Append("warning", new WarningRaised(warning.Step, warning.Kind, warning.Parameter, warning.Message), DashboardJson.Default.WarningRaised);
    }

    /// <summary>Shows one recorded step's per-layer activation statistics and gradient norms.</summary>
    public void RecordLayers(StepRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var activations = record.Activations.Select(a => new LayerStat(a.Layer, a.Type, a.Mean, a.Std, a.ZeroFraction, a.Saturation)).ToList();
        var gradients = record.Gradients.GroupBy(g => g.Layer).Select(g =>
        {
            double grad = Math.Sqrt(g.Sum(p => p.GradNorm * p.GradNorm));
            double update = Math.Sqrt(g.Sum(p => p.UpdateNorm * p.UpdateNorm)), weight = Math.Sqrt(g.Sum(p => p.WeightNorm * p.WeightNorm));
            return new GradientStat(g.Key, grad, weight > 0 ? update / weight : double.NaN);
        }).ToList();
        Append("layers", new LayersRecorded(record.Step, activations, gradients), DashboardJson.Default.LayersRecorded);
    }

    /// <summary>Shows a confusion matrix (rows: true class, columns: predicted).</summary>
    public void ShowConfusion(long[][] matrix, IReadOnlyList<string>? labels = null, string title = "test set")
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var names = Enumerable.Range(0, matrix.Length).Select(i => labels is not null && i < labels.Count ? labels[i] : i.ToString(CultureInfo.InvariantCulture)).ToArray();
        Append("confusion", new ConfusionComputed(title, names, matrix), DashboardJson.Default.ConfusionComputed);
    }

    /// <summary>Links the page to a report file (served at /report while the dashboard runs).</summary>
    public void ShowReport(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _reportPath = Path.GetFullPath(path);
        _log.Append("report", "{\"url\":\"report\"}");
    }

    /// <summary>Tells open pages that the server stops (they keep what they show), waits briefly for them to receive it, and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        SendSteps();
        _log.Append("closed", "{}");
        for (int i = 0; i < 40 && Volatile.Read(ref _clients) > 0; i++) await Task.Delay(50).ConfigureAwait(false);
        await _closing.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _closing.Dispose();
    }

    // ---- internals ----

    private void SendSteps()
    {
        _sinceSent.Restart();
        if (_pending.Count == 0) return;
        var batch = new StepBatch(_pending.Select(p => p.Step.Step).ToArray(), _pending.Select(p => p.Step.Epoch).ToArray(), _pending.Select(p => p.Step.Loss).ToArray(),
            _pending.Select(p => p.Step.Lr).ToArray(), _pending.Select(p => Math.Round(p.Time, 4)).ToArray(), _pending.Select(p => p.Step.Accuracy).ToArray());
        _pending.Clear();
        Append("steps", batch, DashboardJson.Default.StepBatch);
    }

    private void Append<T>(string type, T value, JsonTypeInfo<T> info) => _log.Append(type, JsonSerializer.Serialize(value, info));

    private async Task PageAsync(HttpContext context)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.Body.WriteAsync(s_page, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task ReportAsync(HttpContext context)
    {
        if (_reportPath is null || !File.Exists(_reportPath))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.SendFileAsync(_reportPath, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// The server-sent event stream: everything after the client's Last-Event-ID (all of it for a new page), then new events
    /// as they come, at most every 100 ms; a comment every 15 s keeps proxies from closing an idle stream.
    /// </summary>
    private async Task EventsAsync(HttpContext context)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        int next = int.TryParse(context.Request.Headers["Last-Event-ID"], NumberStyles.Integer, CultureInfo.InvariantCulture, out int last) ? last + 1 : 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _closing.Token);
        Interlocked.Increment(ref _clients);
        try
        {
            var text = new StringBuilder();
            while (!stop.IsCancellationRequested)
            {
                var (events, changed) = _log.Since(next);
                if (events.Count > 0)
                {
                    text.Clear();
                    foreach (var e in events) text.Append("id: ").Append(e.Id).Append("\nevent: ").Append(e.Type).Append("\ndata: ").Append(e.Json).Append("\n\n");
                    await response.WriteAsync(text.ToString(), stop.Token).ConfigureAwait(false);
                    await response.Body.FlushAsync(stop.Token).ConfigureAwait(false);
                    next = events[^1].Id + 1;
                    if (events[^1].Type == "closed") break;
                    await Task.Delay(100, stop.Token).ConfigureAwait(false);
                    continue;
                }
                try
                {
                    await changed.WaitAsync(TimeSpan.FromSeconds(15), stop.Token).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    await response.WriteAsync(": keep-alive\n\n", stop.Token).ConfigureAwait(false);
                    await response.Body.FlushAsync(stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The page went away or the server stops.
        }
        finally
        {
            Interlocked.Decrement(ref _clients);
        }
    }

    private static byte[] LoadPage()
    {
        using var stream = typeof(TrainingDashboard).Assembly.GetManifestResourceStream("dashboard.html")
            ?? throw new InvalidOperationException("dashboard: the page resource 'dashboard.html' is missing from the assembly");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }
}
