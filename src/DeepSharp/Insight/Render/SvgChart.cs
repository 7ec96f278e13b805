using System.Globalization;
using System.Text;
using DeepSharp.Data;

namespace DeepSharp.Insight;

/// <summary>One line of a chart: points (X[i], Y[i]); non-finite points (and non-positive ones on a log axis) break the line.</summary>
public sealed record ChartSeries(string Name, double[] X, double[] Y, string Color, bool Dashed = false);

/// <summary>
/// Chart settings. <see cref="Markers"/> are x positions drawn as faint vertical lines (e.g. epoch ends). With
/// <see cref="IntegerX"/> (epochs) the x axis has ticks at whole numbers only, and a single x value sits in the
/// middle of an axis from x - 0.5 to x + 0.5. <see cref="Width"/> and <see cref="Height"/> are those of the plot and
/// its axes; the legend, sized to the longest series name, is added on the right.
/// </summary>
public sealed record ChartOptions(string Title, string XLabel = "", string YLabel = "", bool LogY = false, int Width = 520, int Height = 280, double[]? Markers = null,
    bool IntegerX = false);

/// <summary>
/// Maps a data interval [<see cref="Min"/>, <see cref="Max"/>] onto pixels [<see cref="From"/>, <see cref="To"/>],
/// linearly or (with <see cref="Log"/>) linearly in log10.
/// </summary>
public readonly record struct Axis(double Min, double Max, double From, double To, bool Log = false)
{
    /// <summary>The pixel coordinate of data value <paramref name="v"/> (the middle of the range when Min == Max).</summary>
    public double Map(double v)
    {
        double lo = Log ? Math.Log10(Min) : Min, hi = Log ? Math.Log10(Max) : Max, x = Log ? Math.Log10(v) : v;
        return hi > lo ? From + (x - lo) / (hi - lo) * (To - From) : (From + To) / 2;
    }

    /// <summary>Whether v can be drawn on this axis (finite, and positive on a log axis).</summary>
    public bool Accepts(double v) => double.IsFinite(v) && (!Log || v > 0);
}

/// <summary>
/// Self-contained SVG charts (no scripts, no fonts to download): line charts with linear or log y
/// axes, nice ticks and a legend, and labelled heat maps (the confusion matrix).
/// </summary>
public static class SvgChart
{
    /// <summary>Tableau 10: distinct colours for series.</summary>
    public static IReadOnlyList<string> Palette { get; } =
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

    private const int Left = 64, Top = 30, Bottom = 44, LegendWidth = 150, LegendRow = 16;

    /// <summary>
    /// A generous estimate of the width of <paramref name="text"/> in the 11-pixel sans-serif of legends and tick
    /// labels (wide letters count more), so that space reserved for a label is never too small.
    /// </summary>
    public static double TextWidth(string text, double fontSize = 11)
    {
        ArgumentNullException.ThrowIfNull(text);
        double em = 0;
        foreach (char c in text)
            em += c switch
            {
                'i' or 'l' or 'j' or '.' or ',' or ':' or ';' or '\'' or '|' or '!' => 0.3,
                'f' or 't' or 'r' or ' ' or '(' or ')' or '[' or ']' or '-' => 0.4,
                'm' or 'w' or 'M' or 'W' or '%' or '@' => 0.9,
                >= 'A' and <= 'Z' => 0.72,
                _ => 0.6,
            };
        return em * fontSize;
    }

    /// <summary>An SVG line chart of <paramref name="series"/>, with axes, ticks, optional markers and a legend when there is more than one series.</summary>
    public static string Line(IReadOnlyList<ChartSeries> series, ChartOptions options)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(options);
        bool legend = series.Count > 1;
        // The plot keeps its place (options.Width - LegendWidth); the legend gets what its longest name needs.
        int plotRight = legend ? options.Width - LegendWidth : options.Width - 16;
        int legendWidth = legend ? 10 + 24 + (int)Math.Ceiling(series.Max(l => TextWidth(l.Name))) + 8 : 16;
        int width = plotRight + legendWidth;
        int height = legend ? Math.Max(options.Height, Top + 6 + LegendRow * series.Count + 4) : options.Height;
        var (xMin, xMax, yMin, yMax) = Extent(series, options.LogY);
        if (options.IntegerX && series.SelectMany(l => l.X.Where(double.IsFinite)).Distinct().Count() == 1)
            (xMin, xMax) = (xMin + 0.5, xMax - 0.5); // one epoch: x ± 0.5 (Extent widened it by 1 on each side)
        // Only ticks inside the axis: rounded tick ranges may start before the data (a stray "0" left of the axis).
        var xTicks = (options.IntegerX ? IntegerTicks(xMin, xMax) : Ticks(xMin, xMax)).Where(t => t >= xMin - 1e-9 * Math.Abs(xMax - xMin) && t <= xMax + 1e-9 * Math.Abs(xMax - xMin)).ToArray();
        double[] yTicks;
        if (options.LogY)
        {
            double lo = Math.Pow(10, Math.Floor(Math.Log10(yMin))), hi = Math.Pow(10, Math.Ceiling(Math.Log10(yMax)));
            if (hi <= lo) hi = lo * 10;
            (yMin, yMax) = (lo, hi);
            yTicks = LogTicks(lo, hi);
        }
        else
        {
            yTicks = Ticks(yMin, yMax);
            (yMin, yMax) = (Math.Min(yMin, yTicks[0]), Math.Max(yMax, yTicks[^1]));
        }
        var xa = new Axis(xMin, xMax, Left, plotRight);
        var ya = new Axis(yMin, yMax, options.Height - Bottom, Top, options.LogY);

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
        sb.Append("<title>").Append(Escape(options.Title)).Append("</title>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"18\" class=\"chart-title\">{Escape(options.Title)}</text>");
        // Grid and tick labels.
        foreach (double t in yTicks)
        {
            double y = ya.Map(t);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(xa.From)}\" y1=\"{F(y)}\" x2=\"{F(xa.To)}\" y2=\"{F(y)}\" class=\"grid\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\" class=\"tick\">{Label(t, options.LogY)}</text>");
        }
        foreach (double t in xTicks)
        {
            double x = xa.Map(t);
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{options.Height - Bottom + 16}\" text-anchor=\"middle\" class=\"tick\">{Label(t, false)}</text>");
        }
        foreach (double m in options.Markers ?? [])
            if (m >= xMin && m <= xMax)
                sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(xa.Map(m))}\" y1=\"{Top}\" x2=\"{F(xa.Map(m))}\" y2=\"{options.Height - Bottom}\" class=\"marker\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{F(xa.To - Left)}\" height=\"{options.Height - Bottom - Top}\" class=\"frame\"/>");
        if (options.XLabel.Length > 0)
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F((xa.From + xa.To) / 2)}\" y=\"{options.Height - 8}\" text-anchor=\"middle\" class=\"axis-label\">{Escape(options.XLabel)}</text>");
        if (options.YLabel.Length > 0)
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{F((ya.From + ya.To) / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {F((ya.From + ya.To) / 2)})\" class=\"axis-label\">{Escape(options.YLabel)}</text>");
        // Series and legend.
        for (int s = 0; s < series.Count; s++)
        {
            var line = series[s];
            string d = PathData(line.X, line.Y, xa, ya);
            string dash = line.Dashed ? " stroke-dasharray=\"5 3\"" : "";
            if (d.Length > 0) sb.Append(CultureInfo.InvariantCulture, $"<path d=\"{d}\" fill=\"none\" stroke=\"{line.Color}\" stroke-width=\"1.6\"{dash}><title>{Escape(line.Name)}</title></path>");
            // Few points (e.g. one per epoch): mark them, a single point has no visible line.
            if (line.X.Length <= 40)
                for (int i = 0; i < Math.Min(line.X.Length, line.Y.Length); i++)
                    if (xa.Accepts(line.X[i]) && ya.Accepts(line.Y[i]))
                        sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(xa.Map(line.X[i]))}\" cy=\"{F(ya.Map(line.Y[i]))}\" r=\"2.5\" fill=\"{line.Color}\"/>");
            if (legend)
            {
                double ly = Top + 6 + LegendRow * s, lx = plotRight + 10;
                sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(lx)}\" y1=\"{F(ly)}\" x2=\"{F(lx + 18)}\" y2=\"{F(ly)}\" stroke=\"{line.Color}\" stroke-width=\"2.5\"{dash}/>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(lx + 24)}\" y=\"{F(ly + 4)}\" class=\"legend\">{Escape(line.Name)}</text>");
            }
        }
        return sb.Append("</svg>").ToString();
    }

    /// <summary>SVG path commands for the points: "M x,y L x,y ...", starting a new "M" after every gap.</summary>
    public static string PathData(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Axis xAxis, Axis yAxis)
    {
        var sb = new StringBuilder();
        bool pen = false;
        int n = Math.Min(x.Length, y.Length);
        for (int i = 0; i < n; i++)
        {
            if (!xAxis.Accepts(x[i]) || !yAxis.Accepts(y[i]))
            {
                pen = false;
                continue;
            }
            sb.Append(pen ? 'L' : 'M').Append(F(xAxis.Map(x[i]))).Append(',').Append(F(yAxis.Map(y[i])));
            pen = true;
        }
        return sb.ToString();
    }

    /// <summary>About <paramref name="count"/> round tick values (1, 2 or 5 times a power of ten apart) covering [min, max].</summary>
    public static double[] Ticks(double min, double max, int count = 5)
    {
        if (!(max > min))
        {
            double pad = Math.Abs(min) > 0 ? Math.Abs(min) * 0.5 : 1;
            (min, max) = (min - pad, max + pad);
        }
        double raw = (max - min) / Math.Max(count, 1);
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = (raw / magnitude) switch { <= 1 => magnitude, <= 2 => 2 * magnitude, <= 5 => 5 * magnitude, _ => 10 * magnitude };
        double start = Math.Floor(min / step) * step, end = Math.Ceiling(max / step) * step;
        var ticks = new List<double>();
        for (double t = start; t <= end + step * 1e-9; t += step) ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return [.. ticks];
    }

    /// <summary>Whole-number ticks in [min, max], 1, 2 or 5 times a power of ten apart (at least 1), about <paramref name="count"/> of them.</summary>
    public static double[] IntegerTicks(double min, double max, int count = 6)
    {
        double first = Math.Ceiling(min - 1e-9), last = Math.Floor(max + 1e-9);
        if (last < first) return [];
        double raw = Math.Max(1, (last - first) / Math.Max(count, 1));
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = Math.Max(1, (raw / magnitude) switch { <= 1 => magnitude, <= 2 => 2 * magnitude, <= 5 => 5 * magnitude, _ => 10 * magnitude });
        var ticks = new List<double>();
        for (double t = Math.Ceiling(first / step) * step; t <= last; t += step) ticks.Add(t);
        if (ticks.Count == 0) ticks.Add(first);
        return [.. ticks];
    }

    /// <summary>
    /// An image (e.g. histograms over time, one column per recorded step) in a frame with axes: x from
    /// <paramref name="xMin"/> to <paramref name="xMax"/> across the image, y from <paramref name="yMin"/> (bottom) to
    /// <paramref name="yMax"/> (top), with ticks, axis labels and a title.
    /// </summary>
    public static string ImagePlot(Image image, string title, double xMin, double xMax, double yMin, double yMax, string xLabel, string yLabel,
        int plotWidth = 300, int plotHeight = 160)
    {
        ArgumentNullException.ThrowIfNull(image);
        var yTicks = Ticks(yMin, yMax, 4).Where(t => t >= yMin && t <= yMax).ToArray();
        var xTicks = (xMax - xMin >= 2 ? IntegerTicks(xMin, xMax, 5) : Ticks(xMin, xMax, 5)).Where(t => t >= xMin && t <= xMax).ToArray();
        int left = Math.Max(Left, 14 + 8 + (int)Math.Ceiling(yTicks.Select(t => TextWidth(Label(t, false), 10)).DefaultIfEmpty(0).Max())), top = Top;
        int width = left + plotWidth + 16, height = top + plotHeight + Bottom;
        double titleWidth = TextWidth(title, 13) * 1.05;
        if (titleWidth + 4 > width) width = (int)Math.Ceiling(titleWidth) + 4;
        var xa = new Axis(xMin, xMax, left, left + plotWidth);
        var ya = new Axis(yMin, yMax, top + plotHeight, top);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
        sb.Append("<title>").Append(Escape(title)).Append("</title>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"18\" class=\"chart-title\">{Escape(title)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<image x=\"{left}\" y=\"{top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"{Raster.DataUri(image)}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" class=\"frame\"/>");
        foreach (double t in yTicks)
        {
            double y = ya.Map(t);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left - 4}\" y1=\"{F(y)}\" x2=\"{left}\" y2=\"{F(y)}\" class=\"axis\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\" class=\"tick\">{Label(t, false)}</text>");
        }
        foreach (double t in xTicks)
        {
            double x = xa.Map(t);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x)}\" y1=\"{top + plotHeight}\" x2=\"{F(x)}\" y2=\"{top + plotHeight + 4}\" class=\"axis\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{top + plotHeight + 16}\" text-anchor=\"middle\" class=\"tick\">{Label(t, false)}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + plotWidth / 2.0)}\" y=\"{height - 8}\" text-anchor=\"middle\" class=\"axis-label\">{Escape(xLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{F(top + plotHeight / 2.0)}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {F(top + plotHeight / 2.0)})\" class=\"axis-label\">{Escape(yLabel)}</text>");
        return sb.Append("</svg>").ToString();
    }

    private static double[] LogTicks(double lo, double hi)
    {
        var ticks = new List<double>();
        int a = (int)Math.Round(Math.Log10(lo)), b = (int)Math.Round(Math.Log10(hi));
        int stride = Math.Max(1, (b - a + 5) / 6);
        for (int e = a; e <= b; e += stride) ticks.Add(Math.Pow(10, e));
        return [.. ticks];
    }

    /// <summary>
    /// A heat map (rows x columns) with row and column labels; cell colours
    /// come from <paramref name="colors"/> in [0, 1] (viridis), cell text from <paramref name="text"/>.
    /// </summary>
    public static string Heatmap(double[][] colors, string[][] text, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string title, string rowTitle, string columnTitle, int cell = 34)
    {
        ArgumentNullException.ThrowIfNull(colors);
        ArgumentNullException.ThrowIfNull(text);
        int rows = colors.Length, cols = rows > 0 ? colors[0].Length : 0;
        // Room for the longest label (rows: horizontal; columns: rotated by 50 degrees), so that no name is cut.
        double longestRow = Enumerable.Range(0, rows).Select(i => TextWidth(Label(rowLabels, i), 10)).DefaultIfEmpty(0).Max();
        double longestColumn = Enumerable.Range(0, cols).Select(j => TextWidth(Label(columnLabels, j), 10)).DefaultIfEmpty(0).Max();
        int labelW = Math.Max(96, (int)Math.Ceiling(longestRow) + 12), labelH = Math.Max(90, (int)Math.Ceiling(longestColumn * 0.77) + 24);
        int width = labelW + cols * cell + Math.Max(20, (int)Math.Ceiling(longestColumn * 0.65 - cell / 2.0) + 8), height = labelH + rows * cell + 20;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\">");
        sb.Append("<title>").Append(Escape(title)).Append("</title>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"14\" class=\"axis-label\">{Escape(rowTitle)} ↓ / {Escape(columnTitle)} →</text>");
        for (int j = 0; j < cols; j++)
        {
            double x = labelW + j * cell + cell / 2.0;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{labelH - 6}\" transform=\"rotate(-50 {F(x)} {labelH - 6})\" class=\"tick\">{Escape(Label(columnLabels, j))}</text>");
        }
        for (int i = 0; i < rows; i++)
        {
            double y = labelH + i * cell;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{labelW - 6}\" y=\"{F(y + cell / 2.0 + 4)}\" text-anchor=\"end\" class=\"tick\">{Escape(Label(rowLabels, i))}</text>");
            for (int j = 0; j < cols; j++)
            {
                double t = colors[i][j];
                var c = ColorMap.Viridis(t);
                string fg = t > 0.6 ? "#000" : "#fff";
                double x = labelW + j * cell;
                sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"{cell}\" height=\"{cell}\" fill=\"{c.Hex}\"><title>{Escape(Label(rowLabels, i))} → {Escape(Label(columnLabels, j))}: {Escape(text[i][j])}</title></rect>");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + cell / 2.0)}\" y=\"{F(y + cell / 2.0 + 4)}\" text-anchor=\"middle\" class=\"cell\" fill=\"{fg}\">{Escape(text[i][j])}</text>");
            }
        }
        return sb.Append("</svg>").ToString();
    }

    /// <summary>Escapes text for XML/HTML content and attributes.</summary>
    public static string Escape(string text) => System.Net.WebUtility.HtmlEncode(text ?? "");

    private static (double XMin, double XMax, double YMin, double YMax) Extent(IReadOnlyList<ChartSeries> series, bool logY)
    {
        double xMin = double.PositiveInfinity, xMax = double.NegativeInfinity, yMin = double.PositiveInfinity, yMax = double.NegativeInfinity;
        foreach (var s in series)
            for (int i = 0; i < Math.Min(s.X.Length, s.Y.Length); i++)
            {
                if (!double.IsFinite(s.X[i]) || !double.IsFinite(s.Y[i]) || (logY && s.Y[i] <= 0)) continue;
                xMin = Math.Min(xMin, s.X[i]);
                xMax = Math.Max(xMax, s.X[i]);
                yMin = Math.Min(yMin, s.Y[i]);
                yMax = Math.Max(yMax, s.Y[i]);
            }
        if (double.IsInfinity(xMin)) (xMin, xMax) = (0, 1);
        if (double.IsInfinity(yMin)) (yMin, yMax) = logY ? (0.1, 1) : (0, 1);
        if (xMax <= xMin) (xMin, xMax) = (xMin - 1, xMax + 1);
        if (yMax <= yMin) (yMin, yMax) = logY ? (yMin / 10, yMax * 10) : (yMin - (Math.Abs(yMin) > 0 ? Math.Abs(yMin) * 0.5 : 1), yMax + (Math.Abs(yMax) > 0 ? Math.Abs(yMax) * 0.5 : 1));
        return (xMin, xMax, yMin, yMax);
    }

    private static string Label(double v, bool log) => log
        ? "1e" + Math.Round(Math.Log10(v)).ToString(CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 1e5 || (Math.Abs(v) < 1e-3 && v != 0) ? v.ToString("0.##e0", CultureInfo.InvariantCulture) : v.ToString("0.####", CultureInfo.InvariantCulture);

    private static string Label(IReadOnlyList<string> labels, int i) => i < labels.Count ? labels[i] : i.ToString(CultureInfo.InvariantCulture);


    /// <summary>Pixel coordinates with at most one decimal, invariant culture.</summary>
    internal static string F(double v) => Math.Round(v, 1).ToString("0.#", CultureInfo.InvariantCulture);
}
