using System.Globalization;
using System.Text;
using DeepSharp.Data;
using DeepSharp.Serialization;

namespace DeepSharp.Insight;

/// <summary>
/// Writes a run report: one self-contained HTML file (inline CSS, inline SVG charts, PNG images as
/// base64 data URIs, a few lines of inline JS) that needs no network to view. Sections, by id:
/// summary, curves, activations, gradients, confusion, misclassified, attributions, filters, attention.
/// After the page loads, the script records which sections rendered (non-zero height) and how many
/// images decoded in data attributes of the hidden element #render-marker and logs the same on the console.
/// </summary>
public static class RunReport
{
    /// <summary>The report's file name in a run folder.</summary>
    public const string FileName = "report.html";

    /// <summary>The section ids, in page order.</summary>
    public static IReadOnlyList<string> SectionIds { get; } =
        ["summary", "curves", "activations", "gradients", "confusion", "misclassified", "attributions", "filters", "attention"];

    /// <summary>Writes <see cref="FileName"/> into <paramref name="directory"/> atomically; returns its path.</summary>
    public static string Write(string directory, ReportData data)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        AtomicFile.WriteAllText(path, Render(data));
        return path;
    }

    /// <summary>The report as one self-contained HTML page.</summary>
    public static string Render(ReportData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append("<title>").Append(E(data.Title)).Append("</title><style>").Append(Css).Append("</style></head><body>\n");
        sb.Append("<header><h1>").Append(E(data.Title)).Append("</h1><p class=\"note\">DeepSharp run report. Everything on this page is inline: it needs no network.</p>");
        sb.Append("<nav>");
        foreach (var id in SectionIds) sb.Append("<a href=\"#").Append(id).Append("\">").Append(Heading(id)).Append("</a> ");
        sb.Append("</nav></header>\n");

        Section(sb, data, "summary", s => SummaryTable(s, data));
        Section(sb, data, "curves", s => Curves(s, data));
        Section(sb, data, "activations", s => Activations(s, data));
        Section(sb, data, "gradients", s => Gradients(s, data));
        Section(sb, data, "confusion", s => Confusion(s, data));
        Section(sb, data, "misclassified", s => Gallery(s, data.Misclassified));
        Section(sb, data, "attributions", s => AttributionRows(s, data));
        Section(sb, data, "filters", s => Filters(s, data));
        Section(sb, data, "attention", s => Attention(s, data));

        sb.Append("<footer><div id=\"render-marker\" hidden></div></footer>\n<script>").Append(Script).Append("</script>\n</body></html>\n");
        return sb.ToString();
    }

    private static string Heading(string id) => id switch
    {
        "summary" => "Summary",
        "curves" => "Training curves",
        "activations" => "Activations",
        "gradients" => "Gradient flow",
        "confusion" => "Confusion matrix",
        "misclassified" => "Misclassified",
        "attributions" => "Attributions",
        "filters" => "Filters and feature maps",
        "attention" => "Attention and gates",
        _ => id,
    };

    /// <summary>A section whose body is written by <paramref name="body"/>; false from the body means "nothing to show".</summary>
    private static void Section(StringBuilder sb, ReportData data, string id, Func<StringBuilder, bool> body)
    {
        sb.Append("<section id=\"").Append(id).Append("\" data-section=\"").Append(id).Append("\"><h2>").Append(Heading(id)).Append("</h2>\n");
        var content = new StringBuilder();
        bool any = body(content);
        sb.Append(content);
        if (!any || data.Notes.ContainsKey(id))
            sb.Append("<p class=\"empty\">").Append(E(data.Notes.TryGetValue(id, out var note) ? note : "Nothing recorded for this run.")).Append("</p>");
        sb.Append("</section>\n");
    }

    private static bool SummaryTable(StringBuilder sb, ReportData data)
    {
        if (data.Summary.Count == 0) return false;
        sb.Append("<table class=\"summary\">");
        foreach (var (k, v) in data.Summary) sb.Append("<tr><th>").Append(E(k)).Append("</th><td>").Append(E(v)).Append("</td></tr>");
        sb.Append("</table>");
        return true;
    }

    private static bool Curves(StringBuilder sb, ReportData data)
    {
        bool any = false;
        var epochs = data.History.Select((h, i) => h.TryGetValue("epoch", out double e) ? e : i + 1).ToArray();
        double[] Column(string key, double scale = 1) => data.History.Select(h => h.TryGetValue(key, out double v) ? v * scale : double.NaN).ToArray();
        bool Has(string key) => data.History.Any(h => h.ContainsKey(key));
        sb.Append("<div class=\"figures\">");
        if (data.History.Count > 0)
        {
            var loss = new List<ChartSeries>();
            if (Has("loss")) loss.Add(new ChartSeries("train loss", epochs, Column("loss"), SvgChart.Palette[0]));
            if (Has("val_loss")) loss.Add(new ChartSeries("validation loss", epochs, Column("val_loss"), SvgChart.Palette[1], Dashed: true));
            if (loss.Count > 0) any |= Figure(sb, SvgChart.Line(loss, new ChartOptions("Loss per epoch", "epoch", "loss", IntegerX: true)));
            // Accuracy in percent, as everywhere else (console, summary, confusion matrix).
            var acc = new List<ChartSeries>();
            if (Has("accuracy")) acc.Add(new ChartSeries("train accuracy", epochs, Column("accuracy", 100), SvgChart.Palette[0]));
            if (Has("val_accuracy")) acc.Add(new ChartSeries("validation accuracy", epochs, Column("val_accuracy", 100), SvgChart.Palette[1], Dashed: true));
            if (acc.Count > 0) any |= Figure(sb, SvgChart.Line(acc, new ChartOptions("Accuracy per epoch (%)", "epoch", "accuracy (%)", IntegerX: true)));
        }
        var stats = data.Statistics;
        var markers = stats?.EpochEnds.Select(e => (double)e).ToArray();
        if (stats is { BatchLosses.Count: > 0 })
        {
            var (x, y) = Downsample(stats.BatchLosses, stats.FirstStep, 400);
            any |= Figure(sb, SvgChart.Line([new ChartSeries("batch loss", x, y, SvgChart.Palette[0])],
                new ChartOptions("Training loss per step (window mean)", "step", "loss", Markers: markers)));
        }
        if (stats is { Lrs.Count: > 0 })
        {
            // The learning rate of every step (a per-epoch schedule shows as steps at the epoch ends).
            var (x, y) = Sample(stats.Lrs, stats.FirstStep, 400);
            any |= Figure(sb, SvgChart.Line([new ChartSeries("learning rate", x, y, SvgChart.Palette[2])], new ChartOptions("Learning rate per step", "step", "lr", Markers: markers)));
            if (stats.Lrs.Distinct().Count() == 1)
                sb.Append("<p class=\"note\">The learning rate was ").Append(N(stats.Lrs[0]))
                  .Append(" on every step of this run (a schedule stepped once per epoch changes it only between epochs).</p>");
        }
        else if (stats is { Steps.Count: > 0 } && stats.Steps.Any(s => double.IsFinite(s.Lr)))
            any |= Figure(sb, SvgChart.Line([new ChartSeries("learning rate", stats.Steps.Select(s => (double)s.Step).ToArray(), stats.Steps.Select(s => s.Lr).ToArray(), SvgChart.Palette[2])],
                new ChartOptions("Learning rate on the recorded steps", "step", "lr", Markers: markers)));
        else if (Has("lr"))
            any |= Figure(sb, SvgChart.Line([new ChartSeries("learning rate", epochs, Column("lr"), SvgChart.Palette[2])], new ChartOptions("Learning rate per epoch", "epoch", "lr", IntegerX: true)));
        sb.Append("</div>");
        return any;
    }

    /// <summary>A layer as charts and captions name it: its dotted name and its type, e.g. "3 (ReLU)" or "layer1.0.conv1 (Conv2d)".</summary>
    private static string LayerLabel(string layer, IReadOnlyDictionary<string, string> types) =>
        types.TryGetValue(layer, out var type) ? $"{layer} ({type})" : layer;

    private static bool Activations(StringBuilder sb, ReportData data)
    {
        if (data.Statistics is not { Steps.Count: > 0 } stats || stats.Layers.Count == 0) return false;
        var layers = stats.Layers.Select(l => l.Name).ToList();
        var types = LayerTypes(stats);
        sb.Append("<p class=\"note\">Recorded every ").Append(stats.Every).Append(" steps through forward hooks. Zeros: exact zeros (dead ReLUs). ")
          .Append("Saturation: sigmoid/tanh outputs within 0.02 of their limits. Histograms: one column per recorded step (x: step) on a common value axis per layer (y: value), brightness = log(1 + count).</p>");
        var steps = stats.Steps.Select(s => (double)s.Step).ToArray();
        double[] Series(string layer, Func<ActivationSummary, double> pick) =>
            stats.Steps.Select(s => s.Activations.FirstOrDefault(a => a.Layer == layer) is { } a ? pick(a) : double.NaN).ToArray();
        sb.Append("<div class=\"figures\">");
        Figure(sb, SvgChart.Line(layers.Select((l, i) => new ChartSeries(LayerLabel(l, types), steps, Series(l, a => a.Std), Color(i))).ToList(),
            new ChartOptions("Activation std per layer", "step", "std")));
        Figure(sb, SvgChart.Line(layers.Select((l, i) => new ChartSeries(LayerLabel(l, types), steps, Series(l, a => a.ZeroFraction), Color(i))).ToList(),
            new ChartOptions("Fraction of exact zeros per layer", "step", "fraction")));
        var saturating = stats.Layers.Where(l => stats.Steps.Any(s => s.Activations.Any(a => a.Layer == l.Name && a.Saturation is not null))).Select(l => l.Name).ToList();
        if (saturating.Count > 0)
            Figure(sb, SvgChart.Line(saturating.Select((l, i) => new ChartSeries(LayerLabel(l, types), steps, Series(l, a => a.Saturation ?? double.NaN), Color(i))).ToList(),
                new ChartOptions("Saturated fraction (sigmoid/tanh)", "step", "fraction")));
        sb.Append("</div><div class=\"strips\">");
        foreach (var layer in stats.Layers)
        {
            var records = stats.Steps.Select(s => s.Activations.FirstOrDefault(a => a.Layer == layer.Name)).Where(a => a is not null).Select(a => a!).ToList();
            if (records.Count == 0) continue;
            var (strip, lo, hi) = HistogramStrip(records);
            long first = stats.Steps.First(s => s.Activations.Any(a => a.Layer == layer.Name)).Step, last = stats.Steps.Last(s => s.Activations.Any(a => a.Layer == layer.Name)).Step;
            // Column c covers recorded step c: the x axis runs from the first to the last recorded step across the image.
            sb.Append("<figure class=\"strip\" aria-label=\"histograms of ").Append(E(layer.Name)).Append("\">")
              .Append(SvgChart.ImagePlot(strip, $"{LayerLabel(layer.Name, types)} {Shapes.Format(layer.Shape)}", first, Math.Max(last, first + 1), lo, hi, "step", "value"))
              .Append("</figure>");
        }
        sb.Append("</div><table><tr><th>layer</th><th>type</th><th>mean</th><th>std</th><th>zeros</th><th>saturated</th><th>min</th><th>max</th></tr>");
        foreach (var a in stats.Steps[^1].Activations)
            sb.Append("<tr><td>").Append(E(a.Layer)).Append("</td><td>").Append(E(a.Type)).Append("</td><td>").Append(N(a.Mean)).Append("</td><td>").Append(N(a.Std))
              .Append("</td><td>").Append(P(a.ZeroFraction)).Append("</td><td>").Append(a.Saturation is double s ? P(s) : "–").Append("</td><td>").Append(N(a.Min))
              .Append("</td><td>").Append(N(a.Max)).Append("</td></tr>");
        sb.Append("</table><p class=\"note\">Table: the last recorded step (").Append(stats.Steps[^1].Step).Append(").</p>");
        return true;
    }

    /// <summary>
    /// Histograms over time as an image: x = recorded step, y = value (high on top) on the layer's
    /// common range, brightness = log(1 + count) per column.
    /// </summary>
    private static (Image Image, double Lo, double Hi) HistogramStrip(List<ActivationSummary> records)
    {
        const int bins = 40;
        double lo = records.Min(r => r.HistogramMin), hi = records.Max(r => r.HistogramMax);
        int stride = Math.Max(1, (records.Count + 199) / 200);
        int columns = (records.Count + stride - 1) / stride;
        var values = new double[bins * columns];
        for (int c = 0; c < columns; c++)
        {
            var r = records[c * stride];
            var counts = ActivationStatistics.Rebin(r.Counts, r.HistogramMin, r.HistogramMax, lo, hi, bins);
            double top = Math.Log(1 + counts.Max());
            for (int b = 0; b < bins; b++)
                values[(bins - 1 - b) * columns + c] = top > 0 ? Math.Log(1 + counts[b]) / top : 0;
        }
        return (Raster.Heat(Tensor.From(values, bins, columns), 0, 1), lo, hi);
    }

    private static bool Gradients(StringBuilder sb, ReportData data)
    {
        if (data.Statistics is not { Steps.Count: > 0 } stats || stats.Steps.All(s => s.Gradients.Count == 0)) return false;
        sb.Append("<p class=\"note\">Per layer, the L2 norm of the gradient (all its parameters) and the update-to-weight ratio ||w_after − w_before|| / ||w_before|| of the optimizer step, on every recorded step. ")
          .Append("Warnings: a parameter's gradient norm below ").Append(N(stats.VanishingThreshold)).Append(" (vanishing), above ").Append(N(stats.ExplodingThreshold))
          .Append(" (exploding) or not finite.</p><div class=\"figures\">");
        var types = LayerTypes(stats);
        var norms = stats.LayerGradientNorms();
        Figure(sb, SvgChart.Line(norms.Select((l, i) => new ChartSeries(LayerLabel(l.Layer, types), l.Steps.Select(s => (double)s).ToArray(), l.Norms, Color(i))).ToList(),
            new ChartOptions("Gradient norm per layer (log scale)", "step", "||grad||", LogY: true)));
        var ratios = stats.LayerUpdateRatios();
        Figure(sb, SvgChart.Line(ratios.Select((l, i) => new ChartSeries(LayerLabel(l.Layer, types), l.Steps.Select(s => (double)s).ToArray(), l.Ratios, Color(i))).ToList(),
            new ChartOptions("Update / weight ratio per layer (log scale)", "step", "ratio", LogY: true)));
        sb.Append("</div><table><tr><th>parameter</th><th>grad norm</th><th>weight norm</th><th>update norm</th><th>update / weight</th></tr>");
        foreach (var g in stats.Steps[^1].Gradients)
            sb.Append("<tr><td>").Append(E(g.Parameter)).Append("</td><td>").Append(N(g.GradNorm)).Append("</td><td>").Append(N(g.WeightNorm))
              .Append("</td><td>").Append(N(g.UpdateNorm)).Append("</td><td>").Append(N(g.UpdateRatio)).Append("</td></tr>");
        sb.Append("</table>");
        if (stats.Warnings.Count == 0) sb.Append("<p class=\"ok\">No vanishing, exploding or non-finite gradients on the recorded steps.</p>");
        else
        {
            sb.Append("<ul class=\"warnings\">");
            foreach (var w in stats.Warnings.Take(50)) sb.Append("<li>").Append(E(w.Message)).Append("</li>");
            if (stats.Warnings.Count > 50) sb.Append("<li>… and ").Append(stats.Warnings.Count - 50).Append(" more</li>");
            sb.Append("</ul>");
        }
        return true;
    }

    private static bool Confusion(StringBuilder sb, ReportData data)
    {
        if (data.ConfusionMatrix is not { Length: > 0 } m) return false;
        var colors = m.Select(row =>
        {
            double total = row.Sum();
            return row.Select(v => total > 0 ? v / total : 0).ToArray();
        }).ToArray();
        var text = m.Select(row => row.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray()).ToArray();
        long correct = 0, all = 0;
        for (int i = 0; i < m.Length; i++)
            for (int j = 0; j < m[i].Length; j++)
            {
                all += m[i][j];
                if (i == j) correct += m[i][j];
            }
        sb.Append("<p class=\"note\">Rows: true class; columns: predicted class; colour: fraction of the row. Accuracy ")
          .Append(all > 0 ? P((double)correct / all) : "–").Append(" over ").Append(all).Append(" test samples.</p>");
        Figure(sb, SvgChart.Heatmap(colors, text, data.ClassNames, data.ClassNames, "Confusion matrix", "true", "predicted"));
        return true;
    }

    private static bool Gallery(StringBuilder sb, IReadOnlyList<LabeledImage> images)
    {
        if (images.Count == 0) return false;
        sb.Append("<div class=\"gallery\">");
        foreach (var item in images) Img(sb, item.Image, item.Caption, "thumb");
        sb.Append("</div>");
        return true;
    }

    private static bool AttributionRows(StringBuilder sb, ReportData data)
    {
        if (data.Attributions.Count == 0) return false;
        sb.Append("<p class=\"note\">For the predicted class: gradient saliency |∂logit/∂x|, Integrated Gradients (zero baseline, trapezoid rule) and Grad-CAM")
          .Append(data.GradCamLayer is { } l ? " on layer <code>" + E(l) + "</code>" : "").Append(", overlaid on the input (bright = important).</p>");
        sb.Append("<table class=\"attributions\"><tr><th>example</th><th>input</th><th>saliency</th><th>integrated gradients</th><th>Grad-CAM</th></tr>");
        foreach (var a in data.Attributions)
        {
            sb.Append("<tr><td>").Append(E(a.Caption).Replace("\n", "<br>", StringComparison.Ordinal));
            if (a.Note is not null) sb.Append("<br><span class=\"note\">").Append(E(a.Note)).Append("</span>");
            sb.Append("</td>");
            foreach (var (image, name) in new[] { (a.Input, "input"), (a.Saliency, "saliency"), (a.IntegratedGradients, "integrated gradients"), (a.GradCam, "Grad-CAM") })
            {
                sb.Append("<td>");
                if (image is not null) Img(sb, image, null, "attr", name);
                else sb.Append('–');
                sb.Append("</td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</table>");
        return true;
    }

    private static bool Filters(StringBuilder sb, ReportData data)
    {
        if (data.Filters is null && data.FeatureMaps is null) return false;
        sb.Append("<div class=\"gallery\">");
        if (data.Filters is { } f) Img(sb, f.Image, f.Caption, "wide");
        if (data.FeatureMaps is { } m) Img(sb, m.Image, m.Caption, "wide");
        sb.Append("</div>");
        return true;
    }

    private static bool Attention(StringBuilder sb, ReportData data)
    {
        if (data.Attention.Count == 0 && data.Gates.Count == 0) return false;
        sb.Append("<div class=\"gallery\">");
        foreach (var a in data.Attention) Img(sb, a.Image, a.Caption, "wide");
        foreach (var g in data.Gates) Img(sb, g.Image, g.Caption, "wide");
        sb.Append("</div>");
        return true;
    }

    private static bool Figure(StringBuilder sb, string svg)
    {
        sb.Append("<figure>").Append(svg).Append("</figure>");
        return true;
    }

    private static void Img(StringBuilder sb, Image image, string? caption, string cls, string? alt = null)
    {
        sb.Append("<figure class=\"").Append(cls).Append("\"><img alt=\"").Append(E(alt ?? caption ?? "image")).Append("\" width=\"").Append(image.Width)
          .Append("\" height=\"").Append(image.Height).Append("\" src=\"").Append(Raster.DataUri(image)).Append("\">");
        if (caption is not null) sb.Append("<figcaption>").Append(E(caption).Replace("\n", "<br>", StringComparison.Ordinal)).Append("</figcaption>");
        sb.Append("</figure>");
    }

    /// <summary>Layer name to module type, from the hooked layers of the log.</summary>
    private static Dictionary<string, string> LayerTypes(InsightLog stats)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var l in stats.Layers) types.TryAdd(l.Name, l.Type);
        return types;
    }

    /// <summary>Every k-th value (and the last), so that at most about <paramref name="points"/> points are drawn; values are kept exact (a learning-rate step stays a step).</summary>
    private static (double[] X, double[] Y) Sample(List<double> values, long firstStep, int points)
    {
        int stride = Math.Max(1, (values.Count + points - 1) / points);
        var index = Enumerable.Range(0, (values.Count + stride - 1) / stride).Select(i => i * stride).ToList();
        if (index[^1] != values.Count - 1) index.Add(values.Count - 1);
        return (index.Select(i => (double)(firstStep + i)).ToArray(), index.Select(i => values[i]).ToArray());
    }

    /// <summary>Window means so that at most <paramref name="points"/> points are drawn.</summary>
    private static (double[] X, double[] Y) Downsample(List<double> values, long firstStep, int points)
    {
        int window = Math.Max(1, (values.Count + points - 1) / points);
        int n = (values.Count + window - 1) / window;
        var x = new double[n];
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            int start = i * window, end = Math.Min(values.Count, start + window);
            double sum = 0;
            for (int k = start; k < end; k++) sum += values[k];
            x[i] = firstStep + (start + end - 1) / 2.0;
            y[i] = sum / (end - start);
        }
        return (x, y);
    }

    private static string Color(int i) => SvgChart.Palette[i % SvgChart.Palette.Count];

    private static string E(string s) => SvgChart.Escape(s);

    private static string N(double v) => double.IsFinite(v) ? v.ToString(Math.Abs(v) >= 1e4 || (Math.Abs(v) < 1e-3 && v != 0) ? "0.###e0" : "0.####", CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);

    private static string P(double v) => double.IsFinite(v) ? (v * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%" : "–";

    private const string Css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1240px;padding:0 18px 40px;color:#222;background:#fff}
        h1{font-size:24px;margin:18px 0 4px}h2{font-size:19px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:30px}
        nav a{margin-right:10px;color:#4e79a7;text-decoration:none}section{margin-bottom:10px}
        .figures,.gallery,.strips{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
        figure{margin:0}figcaption{font-size:12px;color:#444;max-width:420px}
        figure.thumb img{width:84px;height:84px;image-rendering:pixelated;border:1px solid #ccc}
        figure.attr img{width:112px;height:112px;image-rendering:pixelated}
        figure.wide img,figure.strip img{image-rendering:pixelated;border:1px solid #ccc;max-width:100%}
        table{border-collapse:collapse;margin:10px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
        th:first-child,td:first-child{text-align:left}table.attributions td,table.attributions th{text-align:center;vertical-align:middle}
        .note{color:#666;font-size:13px}.empty{color:#8a6d3b;background:#fcf8e3;padding:6px 10px;border-radius:4px}
        .ok{color:#3c763d}.warnings li{color:#a94442}
        svg text{font-family:system-ui,sans-serif}.chart-title{font-size:13px;font-weight:600}.tick{font-size:10px;fill:#555}
        .axis-label{font-size:11px;fill:#333}.legend{font-size:11px;fill:#333}.cell{font-size:10px}
        .grid{stroke:#eee}.frame{fill:none;stroke:#bbb}.marker{stroke:#ccc;stroke-dasharray:2 3}
        .axis{stroke:#888}
        """;

    // Marks what rendered once everything (images included) has loaded, in attributes of a hidden element and on the
    // console (nothing visible on the page); the headless-browser test reads them.
    private const string Script = """
        window.addEventListener('load', function () {
          var ok = [], sections = document.querySelectorAll('section[data-section]');
          for (var i = 0; i < sections.length; i++) {
            if (sections[i].getBoundingClientRect().height > 0 && sections[i].children.length > 1) ok.push(sections[i].id);
          }
          var images = document.images, broken = 0;
          for (var j = 0; j < images.length; j++) if (!images[j].complete || images[j].naturalWidth === 0) broken++;
          var marker = document.getElementById('render-marker');
          marker.setAttribute('data-rendered', ok.join(','));
          marker.setAttribute('data-images', String(images.length));
          marker.setAttribute('data-broken', String(broken));
          console.log('deepsharp-report rendered:' + ok.join(',') + ';images:' + images.length + ';broken:' + broken);
        });
        """;
}
