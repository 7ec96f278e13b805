using DeepSharp.Dashboard;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Tests.Insight;
using DeepSharp.Tests.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Dashboard;

/// <summary>
/// The live dashboard in a real browser (headless Chromium over the DevTools protocol) while a run trains in the
/// background: the step count and the loss chart advance, warnings of a diverging run appear, the page survives
/// the end of the run and of the server, and nothing lands on the console. DEEPSHARP_DASHBOARD_SCREENSHOT=PATH
/// saves the page as a PNG (docs/images/dashboard.png comes from there).
/// </summary>
[Collection("WorkerPool")]
public sealed class DashboardBrowserTests
{
    /// <summary>Four classes of 16 features, learnable by a small MLP.</summary>
    private static TensorDataset Blobs(int count, ulong seed)
    {
        var g = new Generator(seed);
        var x = Tensor.Randn([count, 16], generator: g);
        var labels = new long[count];
        var values = x.ToArray<float>();
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 4;
            values[i * 16 + (int)labels[i]] += 2.5f;
        }
        return new TensorDataset(Tensor.From(values, count, 16), Tensor.From(labels, count));
    }

    /// <summary>Slows training to a pace a browser can watch (about 200 steps a second), so the test does not depend on the machine's speed.</summary>
    private sealed class Pace : ITrainingMonitor
    {
        public void StepEnd(in StepMetrics step) => Thread.Sleep(5);
    }

    private static (Trainer Trainer, DataLoader Train, DataLoader Validation) Run(double lr, TrainingDashboard dashboard)
    {
        var model = new Sequential(new Linear(16, 32, generator: new Generator(1)), new Relu(), new Linear(32, 4, generator: new Generator(2)));
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: lr, Momentum: 0.9));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer, new TrainerOptions { Monitors = [dashboard, new Pace()] });
        return (trainer, new DataLoader(Blobs(2048, 5), 32, shuffle: true, generator: new Generator(9)), new DataLoader(Blobs(256, 6), 256));
    }

    private static int Int(string s) => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task ThePageFollowsARunLiveAndKeepsItsContentAfterwards()
    {
        string browser = ChromiumTests.Browser();
        using var dir = new TempDir();
        var dashboard = await TrainingDashboard.StartAsync(new DashboardOptions { Port = 0, Title = "blobs mlp" });
        using var cancel = new CancellationTokenSource();
        Task<TrainingHistory>? training = null;
        try
        {
            var (trainer, train, validation) = Run(0.05, dashboard);
            var recorder = new InsightRecorder(dashboard.Watch(new InsightOptions { Every = 20 }));
            training = Task.Run(() => trainer.Fit(train, validation, epochs: 1000, callbacks: [recorder], cancellationToken: cancel.Token));

            using var page = await DevToolsPage.OpenAsync(browser, dir.File("profile"));
            await page.NavigateAsync(dashboard.Url);
            await page.WaitUntilAsync("document.body.dataset.steps > 0 && document.getElementById('epochs').querySelector('table') !== null", TimeSpan.FromSeconds(60));
            Assert.Equal("running", await page.EvalAsync("document.getElementById('status').textContent"));
            int step1 = Int(await page.EvalAsync("document.getElementById('step').textContent"));
            int points1 = Int(await page.EvalAsync("document.getElementById('loss-chart').dataset.points"));
            string path1 = await page.EvalAsync("document.querySelector('#loss-chart path:last-of-type').getAttribute('d')");
            int renders1 = Int(await page.EvalAsync("document.body.dataset.renders"));
            await Task.Delay(2000);
            int step2 = Int(await page.EvalAsync("document.getElementById('step').textContent"));
            int points2 = Int(await page.EvalAsync("document.getElementById('loss-chart').dataset.points"));
            string path2 = await page.EvalAsync("document.querySelector('#loss-chart path:last-of-type').getAttribute('d')");
            int renders2 = Int(await page.EvalAsync("document.body.dataset.renders"));
            Assert.True(step2 > step1, $"the step count did not advance: {step1} -> {step2}");
            Assert.True(points2 > points1, $"the loss chart did not grow: {points1} -> {points2} points");
            Assert.NotEqual(path1, path2);
            Assert.True(renders2 - renders1 >= 4, $"the page redrew {renders2 - renders1} times in 2 s; it should update at least once a second");
            Assert.EndsWith("samples/s", await page.EvalAsync("document.getElementById('rate').textContent"), StringComparison.Ordinal);
            Assert.NotEqual("-", await page.EvalAsync("document.getElementById('eta').textContent"));
            Assert.Equal("true", await page.EvalAsync("document.querySelectorAll('#layers tr').length >= 4")); // header + 3 layers
            Assert.Equal("true", await page.EvalAsync("document.getElementById('lr-chart').querySelector('path') !== null"));
            // Batch accuracy per step, and the confusion matrix of each epoch's validation (4 rows of a label and 4 counts).
            Assert.Equal("true", await page.EvalAsync("document.getElementById('acc-chart').dataset.points > 0"));
            await page.WaitUntilAsync("document.querySelectorAll('#confusion td').length === 20", TimeSpan.FromSeconds(20));
            Assert.StartsWith("(validation, epoch ", await page.EvalAsync("document.getElementById('confusion-title').textContent"), StringComparison.Ordinal);

            cancel.Cancel();
            var history = await training;
            Assert.True(history.Interrupted);
            dashboard.ShowConfusion([[50, 2, 0, 0], [1, 60, 3, 0], [0, 0, 55, 1], [4, 0, 0, 58]], ["a", "b", "c", "d"]);
            await page.WaitUntilAsync("document.body.dataset.status === 'interrupted' && document.getElementById('confusion-title').textContent === '(test set)'", TimeSpan.FromSeconds(20));
            if (Environment.GetEnvironmentVariable("DEEPSHARP_DASHBOARD_SCREENSHOT") is { Length: > 0 } shot) await File.WriteAllBytesAsync(shot, await page.ScreenshotAsync());
            var png = Image.Decode(await page.ScreenshotAsync());
            Assert.True(png.Pixels.Distinct().Count() > 20, "the screenshot is blank");

            int finalStep = Int(await page.EvalAsync("document.getElementById('step').textContent"));
            await dashboard.DisposeAsync();
            await page.WaitUntilAsync("document.body.dataset.closed === '1'", TimeSpan.FromSeconds(20));
            Assert.Equal("interrupted", await page.EvalAsync("document.getElementById('status').textContent"));
            Assert.Equal(finalStep, Int(await page.EvalAsync("document.getElementById('step').textContent")));
            Assert.Empty(page.Errors);
        }
        finally
        {
            await cancel.CancelAsync();
            if (training is not null) await training;
            await dashboard.DisposeAsync();
        }
    }

    [Fact]
    public async Task APageOpenedAfterTheRunCatchesUpAndAnExplodingRunShowsItsWarning()
    {
        string browser = ChromiumTests.Browser();
        using var dir = new TempDir();
        var dashboard = await TrainingDashboard.StartAsync(new DashboardOptions { Port = 0 });
        try
        {
            // A learning rate far too high: gradients explode and the loss leaves the finite numbers within a few steps.
            var (trainer, train, _) = Run(5e3, dashboard);
            var recorder = new InsightRecorder(dashboard.Watch(new InsightOptions { Every = 5 }));
            var history = await Task.Run(() => trainer.Fit(train, epochs: 1, callbacks: [recorder]));
            Assert.Contains(recorder.Log.Warnings, w => w.Kind is "exploding" or "non-finite" or "non-finite-loss");

            using var page = await DevToolsPage.OpenAsync(browser, dir.File("profile"));
            await page.NavigateAsync(dashboard.Url);
            // body.dataset.status is set by the render that follows the status event, so step and charts are drawn by then.
            await page.WaitUntilAsync("document.body.dataset.status === 'finished'", TimeSpan.FromSeconds(60));
            Assert.Equal(trainer.Step.ToString(System.Globalization.CultureInfo.InvariantCulture), await page.EvalAsync("document.getElementById('step').textContent"));
            Assert.Equal("true", await page.EvalAsync("document.querySelectorAll('#warnings li').length > 0"));
            var first = await page.EvalAsync("document.querySelector('#warnings li').textContent");
            Assert.Matches("exploding gradient|not finite|the loss is", first);
            Assert.Equal("true", await page.EvalAsync("document.getElementById('no-warnings').hidden"));
            Assert.Empty(page.Errors);
            await page.EvalAsync("console.error('probe')"); // the error collector itself works
            for (int i = 0; i < 50 && !page.Errors.Any(e => e.Contains("probe", StringComparison.Ordinal)); i++) await Task.Delay(100);
            Assert.Contains(page.Errors, e => e.Contains("probe", StringComparison.Ordinal));
        }
        finally
        {
            await dashboard.DisposeAsync();
        }
    }
}
