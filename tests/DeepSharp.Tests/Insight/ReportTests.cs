using System.Text.RegularExpressions;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Insight;

[Collection("WorkerPool")]
public sealed partial class ReportTests
{
    [GeneratedRegex("<section id=\"([a-z]+)\" data-section=\"[a-z]+\">(.*?)</section>", RegexOptions.Singleline)]
    private static partial Regex SectionPattern();

    [GeneratedRegex("(?:src|href)=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")]
    private static partial Regex ImagePattern();

    private static Dictionary<string, string> Sections(string html) =>
        SectionPattern().Matches(html).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);

    [Fact]
    public void EverySectionIsPresentAndFilledForAConvAttentionModel()
    {
        var data = ReportFixture.Data;
        var html = RunReport.Render(data);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        var sections = Sections(html);
        Assert.Equal(RunReport.SectionIds, sections.Keys);
        foreach (var (id, body) in sections)
            Assert.False(body.Contains("class=\"empty\"", StringComparison.Ordinal), $"section {id} is empty: {body[..Math.Min(300, body.Length)]}");

        Assert.Equal(4, Regex.Count(sections["curves"], "<svg")); // loss, accuracy, batch loss, learning rate
        Assert.Equal(2, Regex.Count(sections["activations"], "<figure><svg")); // std and zeros (no sigmoid/tanh layer, so no saturation chart)
        Assert.Equal(5, Regex.Count(sections["activations"], "<figure class=\"strip\"[^>]*><svg")); // one histogram plot per hooked layer
        Assert.Contains("histograms of conv", sections["activations"], StringComparison.Ordinal);
        Assert.Equal(2, Regex.Count(sections["gradients"], "<svg"));
        Assert.Contains("<svg", sections["confusion"], StringComparison.Ordinal);
        Assert.Equal(3, Regex.Count(sections["attributions"], "<tr>") - 1);
        Assert.Contains("Grad-CAM on layer <code>pool</code>", sections["attributions"], StringComparison.Ordinal);
        Assert.Equal(2, Regex.Count(sections["filters"], "<img"));
        Assert.Contains("Attention of attention", sections["attention"], StringComparison.Ordinal);

        // Every image is a valid PNG made by the project's encoder.
        var images = ImagePattern().Matches(html);
        Assert.True(images.Count >= 20, $"{images.Count} images");
        foreach (Match m in images) Assert.True(Image.Decode(Convert.FromBase64String(m.Groups[1].Value)).Width > 0);
        // Self-contained: no external resources.
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);
    }

    [Fact]
    public void ReportDataIsCorrectForTheRun()
    {
        var data = ReportFixture.Data;
        Assert.Equal(24, data.ConfusionMatrix!.Sum(r => r.Sum()));
        long wrong = data.ConfusionMatrix!.Select((r, i) => r.Sum() - r[i]).Sum();
        Assert.Equal(Math.Min(wrong, 8), data.Misclassified.Count);
        Assert.Equal(3, data.Attributions.Count);
        Assert.All(data.Attributions, a => Assert.NotNull(a.GradCam));
        Assert.Equal("pool", data.GradCamLayer);
        Assert.Single(data.Attention);
        Assert.Equal(3, data.History.Count);
        Assert.Equal(18, data.Statistics!.BatchLosses.Count);
    }

    [Fact]
    public void AnMlpReportHasAttributionsButNoConvSections()
    {
        var g = new Generator(8);
        var model = new Sequential(new Flatten(), new Linear(144, 16, generator: g), new Relu(), new Linear(16, 3, generator: g));
        var data = ReportBuilder.Build(model, new ReportInputs
        {
            Title = "mlp",
            TestInputs = Tensor.Rand([40, 144], g), // flat inputs of a square size are shown as 12x12 images
            TestTargets = Tensor.Randint(0, 3, [40], g),
            AttributionCount = 2,
            IntegratedGradientsSteps = 8,
        });
        Assert.Equal(2, data.Attributions.Count);
        Assert.All(data.Attributions, a => Assert.Null(a.GradCam));
        Assert.Null(data.Filters);
        Assert.Contains("no convolutional layer", data.Notes["filters"], StringComparison.Ordinal);
        Assert.Contains("no conv-like layer", data.Notes["attributions"], StringComparison.Ordinal);
        Assert.Contains("No statistics were recorded", data.Notes["activations"], StringComparison.Ordinal);
        Assert.Equal(40, data.ConfusionMatrix!.Sum(r => r.Sum()));
        Assert.Equal(36, data.Misclassified[0].Image.Width); // 12x12 shown three times larger
    }

    [Fact]
    public void AnEmptyReportExplainsEveryMissingSection()
    {
        var html = RunReport.Render(new ReportData { Title = "empty <run>" });
        var sections = Sections(html);
        Assert.Equal(RunReport.SectionIds, sections.Keys);
        Assert.All(sections.Values, body => Assert.Contains("class=\"empty\"", body, StringComparison.Ordinal));
        Assert.Contains("<title>empty &lt;run&gt;</title>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteCreatesTheReportFile()
    {
        using var dir = new TempDir();
        var path = RunReport.Write(Path.Combine(dir.Path, "run"), new ReportData { Title = "t" });
        Assert.Equal(Path.Combine(dir.Path, "run", RunReport.FileName), path);
        Assert.Contains("render-marker", File.ReadAllText(path), StringComparison.Ordinal);
    }
}

/// <summary>An LSTM over a batch-first sequence, self-attention over its outputs, mean, linear head.</summary>
internal sealed class LstmAttentionNet : Module<Tensor, Tensor>
{
    private readonly Lstm _lstm;
    private readonly TokenAttention _attention = new();
    private readonly Linear _head;

    public LstmAttentionNet()
    {
        var g = new Generator(5);
        _lstm = RegisterModule("lstm", new Lstm(3, 6, batchFirst: true, generator: g));
        RegisterModule("attention", _attention);
        _head = RegisterModule("head", new Linear(6, 2, generator: g));
    }

    public override Tensor Forward(Tensor input)
    {
        var (output, _, _) = _lstm.Call(input);
        var (context, _) = _attention.Call(output);
        return _head.Call(context.Mean(1));
    }
}

public sealed class SequenceReportTests
{
    [Fact]
    public void SequenceViewsShowAttentionAndLstmGatesOverTime()
    {
        var model = new LstmAttentionNet();
        var x = Tensor.Randn([1, 7, 3], new Generator(6));
        var (attention, gates) = ReportBuilder.SequenceViews(model, x);
        Assert.Single(attention);
        Assert.Contains("attention", attention[0].Caption, StringComparison.Ordinal);
        Assert.Equal(4, gates.Count); // i, f, o, c
        Assert.Contains("input gate", gates[0].Caption, StringComparison.Ordinal);
        // Rows are hidden units, columns time steps: 6 x 7 scaled by 240 / 7.
        Assert.Equal((7 * 34, 6 * 34), (gates[0].Image.Width, gates[0].Image.Height));

        var html = RunReport.Render(new ReportData { Title = "seq", Attention = attention, Gates = gates });
        Assert.Contains("LSTM lstm: forget gate f over time", html, StringComparison.Ordinal);
    }
}
