using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;

namespace DeepSharp.Tests.Insight;

/// <summary>
/// What the report's charts look like: ticks only inside the axes, legends with whole names and room for them, an
/// honest axis for a single epoch, the learning rate of every step, histograms with axes and named layers,
/// accuracy in percent, and no debug text on the page.
/// </summary>
[Collection("WorkerPool")]
public sealed partial class ReportChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [GeneratedRegex("<section id=\"([a-z]+)\" data-section=\"[a-z]+\">(.*?)</section>", RegexOptions.Singleline)]
    private static partial Regex SectionPattern();

    private static Dictionary<string, string> Sections(string html) =>
        SectionPattern().Matches(html).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    private static double Attr(XElement e, string name) => double.Parse((string)e.Attribute(name)!, CultureInfo.InvariantCulture);

    /// <summary>The frame of a line chart (the plot area) and its tick labels below the axis.</summary>
    private static (XElement Frame, List<XElement> XTicks, List<XElement> YTicks) Axes(XDocument doc)
    {
        var frame = doc.Descendants(Svg + "rect").Single(r => (string?)r.Attribute("class") == "frame");
        double bottom = Attr(frame, "y") + Attr(frame, "height");
        var ticks = doc.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == "tick").ToList();
        bool below(XElement t) => (string?)t.Attribute("text-anchor") == "middle" && Attr(t, "y") > bottom;
        return (frame, ticks.Where(below).ToList(), ticks.Where(t => !below(t)).ToList());
    }

    [Fact]
    public void TicksAreOnlyInsideTheAxes()
    {
        double[] epochs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        foreach (var integer in new[] { true, false })
        {
            var doc = XDocument.Parse(SvgChart.Line([new ChartSeries("loss", epochs, [.. epochs.Select(e => 1.0 / e)], "#000")],
                new ChartOptions("Loss per epoch", "epoch", "loss", IntegerX: integer)));
            var (frame, xTicks, _) = Axes(doc);
            double left = Attr(frame, "x"), right = left + Attr(frame, "width");
            Assert.NotEmpty(xTicks);
            Assert.All(xTicks, t => Assert.InRange(Attr(t, "x"), left - 0.5, right + 0.5));
            Assert.DoesNotContain(xTicks, t => t.Value == "0"); // the stray "0" left of the axis
            if (integer) Assert.All(xTicks, t => Assert.Equal(Math.Round(double.Parse(t.Value, CultureInfo.InvariantCulture)), double.Parse(t.Value, CultureInfo.InvariantCulture)));
        }
    }

    [Fact]
    public void ASingleEpochSitsInTheMiddleOfAnAxisWithOneTick()
    {
        var doc = XDocument.Parse(SvgChart.Line([new ChartSeries("train accuracy", [1], [78.0], "#000"), new ChartSeries("validation accuracy", [1], [85.4], "#111")],
            new ChartOptions("Accuracy per epoch (%)", "epoch", "accuracy (%)", IntegerX: true)));
        var (frame, xTicks, _) = Axes(doc);
        Assert.Equal(["1"], xTicks.Select(t => t.Value));
        double middle = Attr(frame, "x") + Attr(frame, "width") / 2;
        Assert.Equal(middle, Attr(xTicks[0], "x"), 0);
        Assert.All(doc.Descendants(Svg + "circle"), c => Assert.Equal(middle, Attr(c, "cx"), 0));
    }

    [Fact]
    public void LegendsShowWholeNamesInsideTheChart()
    {
        string[] names = ["validation accuracy", "layer1.0.downsample.0 (Conv2d)", "fc (Linear)"];
        var svg = SvgChart.Line([.. names.Select((n, i) => new ChartSeries(n, [1, 2], [i, i + 1], "#000"))], new ChartOptions("Legend", "step", "value"));
        var doc = XDocument.Parse(svg);
        double width = Attr(doc.Root!, "width");
        foreach (var name in names)
        {
            var text = doc.Descendants(Svg + "text").Single(t => (string?)t.Attribute("class") == "legend" && t.Value == name);
            Assert.True(Attr(text, "x") + SvgChart.TextWidth(name) <= width, $"legend '{name}' runs past the chart's right edge");
        }
        Assert.DoesNotContain("…", svg, StringComparison.Ordinal);
        // Many series: the chart grows to hold every legend row.
        var tall = XDocument.Parse(SvgChart.Line([.. Enumerable.Range(0, 30).Select(i => new ChartSeries($"layer {i}", [1, 2], [i, i], "#000"))], new ChartOptions("Many", "step", "v")));
        var lastRow = tall.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == "legend").Max(t => Attr(t, "y"));
        Assert.True(lastRow <= Attr(tall.Root!, "height"));
    }

    /// <summary>A LeNet-like Sequential (layers named 0, 1, ...) trained for 2 short epochs with the recorder and a per-batch cosine schedule.</summary>
    private static (ReportData Data, InsightLog Log, List<double> Lrs) SequentialRun(int epochs = 2)
    {
        var g = new Generator(7);
        var model = new Sequential(new Flatten(), new Linear(16, 12, generator: g), new Relu(), new Linear(12, 3, generator: g));
        var x = Tensor.Randn([96, 1, 4, 4], g);
        var y = Tensor.Randint(0, 3, [96], g);
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2));
        var loader = new DataLoader(new TensorDataset(x, y), 16, shuffle: true, generator: new Generator(8));
        var recorder = new InsightRecorder(new InsightOptions { Every = 2, HistogramBins = 8 });
        var used = new List<double>();
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer,
            new TrainerOptions { Scheduler = new CosineAnnealingLR(optimizer, epochs * loader.Count), SchedulerPerBatch = true });
        var history = trainer.Fit(loader, new DataLoader(new TensorDataset(x, y), 48), epochs, [new LrProbe(used), recorder]);
        var rows = history.Epochs.Select(e => (IReadOnlyDictionary<string, double>)new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 }).ToList();
        var data = ReportBuilder.Build(model, new ReportInputs
        {
            Title = "sequential", TestInputs = x.Narrow(0, 0, 24), TestTargets = y.Narrow(0, 0, 24), ClassNames = ["a", "b", "c"],
            History = rows, Statistics = recorder.Log, AttributionCount = 1, IntegratedGradientsSteps = 4,
        });
        return (data, recorder.Log, used);
    }

    /// <summary>Records the learning rate each step trains with (read before the step).</summary>
    private sealed class LrProbe(List<double> used) : ICallback
    {
        private double _next;

        public void OnTrainBegin(Trainer trainer) => _next = trainer.Optimizer.ParamGroups[0].Lr;

        public void OnBatchEnd(Trainer trainer, long step, double loss)
        {
            used.Add(_next);
            _next = trainer.Optimizer.ParamGroups[0].Lr;
        }
    }

    [Fact]
    public void TheLearningRateIsRecordedAndDrawnForEveryStep()
    {
        var (data, log, used) = SequentialRun();
        Assert.Equal(12, log.Lrs.Count);
        Assert.Equal(used, log.Lrs);
        Assert.Equal(log.BatchLosses.Count, log.Lrs.Count);
        Assert.True(log.Lrs.Distinct().Count() == 12, "a per-batch cosine changes the lr on every step");
        var curves = Sections(RunReport.Render(data))["curves"];
        var chart = Regex.Match(curves, "<svg[^>]*><title>Learning rate per step</title>.*?</svg>", RegexOptions.Singleline);
        Assert.True(chart.Success);
        var path = XDocument.Parse(chart.Value).Descendants(Svg + "path").Single();
        Assert.Equal(12, Regex.Count((string)path.Attribute("d")!, "[ML]"));
    }

    [Fact]
    public void HistogramsHaveAxesAndLayersAreNamedWithTheirType()
    {
        var (data, _, _) = SequentialRun();
        var sections = Sections(RunReport.Render(data));
        var activations = sections["activations"];
        foreach (var layer in new[] { "1 (Linear)", "2 (ReLU)", "3 (Linear)" })
            Assert.Contains($"<title>{layer} [16, ", activations, StringComparison.Ordinal); // the histogram plot's title: name, type, shape
        foreach (Match m in Regex.Matches(activations, "<figure class=\"strip\"[^>]*>(<svg.*?</svg>)</figure>", RegexOptions.Singleline))
        {
            var doc = XDocument.Parse(m.Groups[1].Value);
            Assert.Single(doc.Descendants(Svg + "image"));
            var labels = doc.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == "axis-label").Select(t => t.Value).ToList();
            Assert.Equal(["step", "value"], labels);
            Assert.True(doc.Descendants(Svg + "text").Count(t => (string?)t.Attribute("class") == "tick") >= 4);
        }
        // Legends of the per-layer charts name layers with their type, not bare indices.
        Assert.Contains(">2 (ReLU)</text>", activations, StringComparison.Ordinal);
        Assert.Contains(">1 (Linear)</text>", sections["gradients"], StringComparison.Ordinal);
        Assert.DoesNotMatch(">[0-9]+</text><", Regex.Replace(activations, "class=\"tick\">[^<]*<", ""));
    }

    [Fact]
    public void AccuracyIsInPercentAndThereIsNoDebugLine()
    {
        var (data, _, _) = SequentialRun();
        var html = RunReport.Render(data);
        var curves = Sections(html)["curves"];
        var chart = XDocument.Parse(Regex.Match(curves, "<svg[^>]*><title>Accuracy per epoch \\(%\\)</title>.*?</svg>", RegexOptions.Singleline).Value);
        Assert.Contains(chart.Descendants(Svg + "text"), t => t.Value == "accuracy (%)");
        var yTicks = Axes(chart).YTicks.Select(t => double.Parse(t.Value, CultureInfo.InvariantCulture)).ToList();
        Assert.True(yTicks.Max() > 1.5, $"accuracy axis looks like a fraction: {string.Join(", ", yTicks)}");
        // No visible debug text: the render marker is hidden and empty; "rendered:" appears only in the script.
        Assert.Contains("<div id=\"render-marker\" hidden></div>", html, StringComparison.Ordinal);
        var withoutScript = Regex.Replace(html, "<script>.*?</script>", "", RegexOptions.Singleline);
        Assert.DoesNotContain("rendered:", withoutScript, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfusionMatrixLabelsAreNotCut()
    {
        string[] names = ["alpha-class-with-a-long-name", "beta", "gamma-class-with-a-long-name"];
        var svg = SvgChart.Heatmap([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]], names, names, "confusion", "true", "predicted");
        var doc = XDocument.Parse(svg);
        foreach (var name in names) Assert.Equal(2, doc.Descendants(Svg + "text").Count(t => t.Value == name));
        var rowLabel = doc.Descendants(Svg + "text").First(t => t.Value == names[0] && (string?)t.Attribute("text-anchor") == "end");
        Assert.True(Attr(rowLabel, "x") - SvgChart.TextWidth(names[0], 10) >= 0, "the row label starts left of the picture");
    }
}
