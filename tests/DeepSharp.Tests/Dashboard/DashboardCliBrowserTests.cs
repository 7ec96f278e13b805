using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using DeepSharp.Tests.Cli;
using DeepSharp.Tests.Insight;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Dashboard;

/// <summary>
/// The dashboard of a real <c>deepsharp train --dashboard 0</c> process, opened in headless Chromium while it trains:
/// the page follows the run (steps, loss and per-step accuracy curves, a confusion matrix labelled with the dataset's
/// class names after each validation, layer statistics) and keeps its content when Ctrl-C ends the run.
/// </summary>
public sealed partial class DashboardCliBrowserTests
{
    [GeneratedRegex(@"dashboard: (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex DashboardLine();

    private static int Int(string s) => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task ThePageOfARealTrainingRunUpdatesLiveAndSurvivesItsInterruption()
    {
        string browser = ChromiumTests.Browser();
        using var dir = new TempDir();
        string csv = CliProcess.WriteTinyCsv(dir.Path, rows: 1200);
        // Batches of 4 over 1,200 rows and 10,000 epochs: a run that lasts until the test interrupts it, on any machine.
        var psi = CliProcess.StartInfo(dir.Path, ["train", "--model", "mlp", "--data", "csv:" + csv, "--batch-size", "4", "--epochs", "10000",
            "--threads", "1", "--out", dir.File("run"), "--dashboard", "0"]);
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = new StringBuilder();
        var url = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Drain both pipes all along: a full pipe would stall the run.
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (stdout) stdout.AppendLine(line);
                if (DashboardLine().Match(line) is { Success: true } m) url.TrySetResult(new Uri(m.Groups[1].Value));
            }
            url.TrySetException(new InvalidOperationException("the run printed no dashboard address"));
        });
        var stderr = process.StandardError.ReadToEndAsync();
        string Output() { lock (stdout) return $"--- stdout ---\n{stdout}\n--- stderr ---\n{(stderr.IsCompleted ? stderr.Result : "(running)")}"; }
        try
        {
            var address = await url.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var page = await DevToolsPage.OpenAsync(browser, dir.File("profile"));
            await page.NavigateAsync(address);
            await page.WaitUntilAsync("document.body.dataset.steps > 0 && document.querySelectorAll('#confusion td').length === 12", TimeSpan.FromSeconds(60));
            Assert.Equal("running", await page.EvalAsync("document.getElementById('status').textContent"));
            Assert.StartsWith("mlp on csv:", await page.EvalAsync("document.getElementById('title').textContent"), StringComparison.Ordinal);
            // The confusion matrix of the last validation, labelled with the CSV's class names.
            Assert.StartsWith("(validation, epoch ", await page.EvalAsync("document.getElementById('confusion-title').textContent"), StringComparison.Ordinal);
            Assert.Equal("true", await page.EvalAsync("[...document.querySelectorAll('#confusion th')].some(th => th.textContent === 'beta-class-with-a-long-name')"));

            int step1 = Int(await page.EvalAsync("document.getElementById('step').textContent"));
            int renders1 = Int(await page.EvalAsync("document.body.dataset.renders"));
            await Task.Delay(2000);
            int step2 = Int(await page.EvalAsync("document.getElementById('step').textContent"));
            int renders2 = Int(await page.EvalAsync("document.body.dataset.renders"));
            Assert.True(step2 > step1, $"the step count did not advance: {step1} -> {step2}\n{Output()}");
            Assert.True(renders2 - renders1 >= 2, $"the page redrew {renders2 - renders1} times in 2 s; it should update at least once a second");
            Assert.Equal("true", await page.EvalAsync("document.getElementById('loss-chart').dataset.points > 0 && document.getElementById('acc-chart').dataset.points > 0"));
            Assert.EndsWith("samples/s", await page.EvalAsync("document.getElementById('rate').textContent"), StringComparison.Ordinal);
            // The recorder the CLI attaches for the page (every 200 steps): mlp's layers with their statistics.
            await page.WaitUntilAsync("document.querySelectorAll('#layers tr').length >= 3", TimeSpan.FromSeconds(30));

            CliProcess.Interrupt(process); // Ctrl-C: the run stops at a step boundary, saves a checkpoint, and closes the server
            await page.WaitUntilAsync("document.body.dataset.closed === '1'", TimeSpan.FromSeconds(60));
            Assert.True(process.WaitForExit(60_000), "the interrupted run did not exit");
            Assert.Equal("interrupted", await page.EvalAsync("document.getElementById('status').textContent"));
            Assert.True(Int(await page.EvalAsync("document.getElementById('step').textContent")) >= step2);
            Assert.Empty(page.Errors);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            await reading.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
