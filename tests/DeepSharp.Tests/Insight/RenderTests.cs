using System.Xml.Linq;
using DeepSharp.Data;
using DeepSharp.Insight;

namespace DeepSharp.Tests.Insight;

public sealed class RenderTests
{
    [Fact]
    public void ColorMapsHitTheirEndpointsAndClamp()
    {
        Assert.Equal(new Rgb(68, 1, 84), ColorMap.Viridis(0));
        Assert.Equal(new Rgb(253, 231, 37), ColorMap.Viridis(1));
        Assert.Equal(ColorMap.Viridis(0), ColorMap.Viridis(-3));
        Assert.Equal(ColorMap.Viridis(1), ColorMap.Viridis(7));
        Assert.Equal(ColorMap.Viridis(0), ColorMap.Viridis(double.NaN));
        Assert.Equal(new Rgb(33, 102, 172), ColorMap.Diverging(-1));
        Assert.Equal(new Rgb(247, 247, 247), ColorMap.Diverging(0));
        Assert.Equal(new Rgb(178, 24, 43), ColorMap.Diverging(1));
        Assert.Equal("#440154", ColorMap.Viridis(0).Hex);
        // Monotone brightness along viridis (perceptually ordered).
        double Luma(Rgb c) => 0.299 * c.R + 0.587 * c.G + 0.114 * c.B;
        for (int i = 1; i <= 20; i++) Assert.True(Luma(ColorMap.Viridis(i / 20.0)) > Luma(ColorMap.Viridis((i - 1) / 20.0)));
    }

    [Fact]
    public void SvgPathOfAKnownSeries()
    {
        var x = new Axis(0, 2, 0, 100);
        var y = new Axis(0, 1, 100, 0);
        Assert.Equal("M0,100L50,0L100,100", SvgChart.PathData([0, 1, 2], [0, 1, 0], x, y));
        // A gap (NaN) starts a new subpath.
        Assert.Equal("M0,100L50,50M100,0", SvgChart.PathData([0, 1, 1.5, 2], [0, 0.5, double.NaN, 1], x, y));
        // Log axis: decades are equally spaced, non-positive values are skipped.
        var log = new Axis(1e-4, 1, 100, 0, Log: true);
        Assert.Equal("M0,100L50,50M100,0", SvgChart.PathData([0, 1, 1.5, 2], [1e-4, 1e-2, 0, 1], x, log));
    }

    [Fact]
    public void NiceTicksCoverTheRange()
    {
        Assert.Equal([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1], SvgChart.Ticks(0, 1));
        var t = SvgChart.Ticks(0.13, 2.71);
        Assert.True(t[0] <= 0.13 && t[^1] >= 2.71);
        double step = t[1] - t[0], mantissa = step / Math.Pow(10, Math.Floor(Math.Log10(step) + 1e-9));
        Assert.Contains(Math.Round(mantissa, 9), new[] { 1.0, 2.0, 5.0 });
        Assert.True(SvgChart.Ticks(5, 5).Length >= 2);
    }

    [Fact]
    public void LineChartIsWellFormedSvgWithTitleLegendAndPaths()
    {
        var svg = SvgChart.Line([new ChartSeries("train <loss>", [1, 2, 3], [2.3, 1.1, 0.7], "#4e79a7"), new ChartSeries("val", [1, 2, 3], [2.4, 1.3, double.NaN], "#f28e2b", Dashed: true)],
            new ChartOptions("Loss & friends", "epoch", "loss", LogY: true, Markers: [2]));
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        Assert.Equal("Loss & friends", doc.Root.Element(ns + "title")!.Value);
        Assert.Equal(2, doc.Descendants(ns + "path").Count());
        Assert.Contains(doc.Descendants(ns + "text"), e => e.Value == "train <loss>");
        Assert.Contains(doc.Descendants(ns + "text"), e => e.Value == "1e0");
        Assert.Single(doc.Descendants(ns + "line"), e => (string?)e.Attribute("class") == "marker");
    }

    [Fact]
    public void HeatmapHasOneCellPerEntry()
    {
        var svg = SvgChart.Heatmap([[1, 0], [0.25, 0.75]], [["9", "0"], ["1", "3"]], ["a", "b"], ["a", "b"], "confusion", "true", "predicted");
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        var rects = doc.Descendants(ns + "rect").ToList();
        Assert.Equal(4, rects.Count);
        Assert.Equal(ColorMap.Viridis(1).Hex, (string?)rects[0].Attribute("fill"));
        Assert.Equal(ColorMap.Viridis(0).Hex, (string?)rects[1].Attribute("fill"));
    }

    [Fact]
    public void HeatMapsSurviveAPngRoundTrip()
    {
        var values = Tensor.From(new double[] { 0, 1, 2, 3, 4, 5 }, 2, 3);
        var heat = Raster.Heat(values);
        Assert.Equal((3, 2, 3), (heat.Width, heat.Height, heat.Channels));
        Assert.Equal([68, 1, 84], heat.Pixels[..3]);
        Assert.Equal([253, 231, 37], heat.Pixels[^3..]);
        var decoded = Image.Decode(Png.Encode(heat));
        Assert.Equal(heat, decoded with { Pixels = heat.Pixels });
        Assert.Equal(heat.Pixels, decoded.Pixels);

        var uri = Raster.DataUri(heat);
        Assert.StartsWith("data:image/png;base64,", uri, StringComparison.Ordinal);
        Assert.Equal(heat.Pixels, Image.Decode(Convert.FromBase64String(uri[22..])).Pixels);
    }

    [Fact]
    public void OverlayGridAndUpscaleComposeImages()
    {
        var gray = Tensor.Full([2, 2], 0.5);
        var cold = Raster.Overlay(gray, Tensor.Zeros(2, 2), dim: 1);
        Assert.All(cold.Pixels, p => Assert.Equal(128, p));
        var hot = Raster.Overlay(gray, Tensor.From(new float[] { 0, 0, 0, 1 }, 2, 2), alpha: 1);
        Assert.Equal([253, 231, 37], hot.Pixels[9..12]);

        var big = Raster.Upscale(new Image(2, 1, 1, [10, 20]), 3);
        Assert.Equal((6, 3), (big.Width, big.Height));
        Assert.Equal([10, 10, 10, 20, 20, 20], big.Pixels[..6]);

        var grid = Raster.Grid([new Image(2, 2, 1, [0, 0, 0, 0]), new Image(2, 2, 1, [9, 9, 9, 9]), new Image(2, 2, 1, [5, 5, 5, 5])], columns: 2, padding: 1, background: 255);
        Assert.Equal((7, 7, 3), (grid.Width, grid.Height, grid.Channels));
        Assert.Equal(255, grid.Pixels[0]);
        Assert.Equal(0, grid.Pixels[(1 * 7 + 1) * 3]);
        Assert.Equal(9, grid.Pixels[(1 * 7 + 4) * 3]);
        Assert.Equal(5, grid.Pixels[(4 * 7 + 1) * 3]);
        Assert.Equal(255, grid.Pixels[(4 * 7 + 4) * 3]);
    }

    [Fact]
    public void HistogramsRebinOntoACommonAxisKeepingTheirMass()
    {
        Assert.Equal([2.0, 2, 0, 0], ActivationStatistics.Rebin([2, 2], 0, 2, 0, 4, 4));
        Assert.Equal([1.0, 1, 1, 1], ActivationStatistics.Rebin([2, 2], 0, 2, 0, 2, 4));
        Assert.Equal([2.0, 2], ActivationStatistics.Rebin([2, 2], 0, 2, 0.5, 1.5, 2)); // mass outside goes to the end bins
        Assert.Equal([0.0, 0, 3], ActivationStatistics.Rebin([3], 5, 6, 0, 3, 3));
        var counts = new long[] { 5, 0, 7, 1, 9 };
        Assert.Equal(22, ActivationStatistics.Rebin(counts, -1.3, 2.1, -2, 3, 7).Sum(), 9);
    }

    [Fact]
    public void FilterGridShowsOneTilePerFilter()
    {
        var weight = Tensor.From(new float[] { -1, 0, 0, 1, 2, 2, 2, 2 }, 2, 1, 2, 2);
        var grid = FeatureViews.FilterGrid(weight, scale: 1, columns: 8);
        Assert.Equal((10, 6), (grid.Width, grid.Height)); // two 2x2 tiles with 2 pixels of padding
        Assert.Equal([33, 102, 172], grid.Pixels[(((2 * grid.Width) + 2) * 3)..((((2 * grid.Width) + 2) * 3) + 3)]); // -1: full blue
        Assert.Equal([178, 24, 43], grid.Pixels[(((2 * grid.Width) + 6) * 3)..((((2 * grid.Width) + 6) * 3) + 3)]); // filter 2: all red
    }
}
