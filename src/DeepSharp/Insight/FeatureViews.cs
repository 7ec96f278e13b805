using DeepSharp.Data;
using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>Pictures of what a conv network learned: first-layer filters and a layer's feature maps for one input.</summary>
public static class FeatureViews
{
    /// <summary>The first 4-D parameter named "weight" (in parameter order): the first conv layer's filters [O, I, kh, kw], or null.</summary>
    public static (string Name, Tensor Weight)? FirstConvWeight(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var (name, p) in model.NamedParameters())
            if (p.Rank == 4 && (name == "weight" || name.EndsWith(".weight", StringComparison.Ordinal))) return (name, p);
        return null;
    }

    /// <summary>
    /// Filters [O, I, kh, kw] as a grid of tiles, one per output channel, each enlarged
    /// <paramref name="scale"/> times. RGB filters (I = 3) are shown in colour, min-max normalised per
    /// filter; others as the mean over input channels in blue (negative), white (0) and red (positive),
    /// scaled per filter by its largest |w|. A non-positive scale picks about 48 pixels per tile.
    /// </summary>
    public static Image FilterGrid(Tensor weight, int scale = 0, int columns = 8)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 4) throw new ArgumentException($"filter grid: expected conv weights [O, I, kh, kw], got {Shapes.Format(weight.ShapeArray)}");
        int outputs = weight.Size(0), inputs = weight.Size(1), kh = weight.Size(2), kw = weight.Size(3);
        if (outputs == 0 || inputs == 0 || kh == 0 || kw == 0) throw new ArgumentException($"filter grid: weights {Shapes.Format(weight.ShapeArray)} are empty");
        if (scale <= 0) scale = Math.Max(2, 48 / Math.Max(kh, kw)); // about 48 pixels per tile
        var w = TensorValues.ToDoubles(weight);
        var tiles = new List<Image>(outputs);
        int plane = kh * kw;
        for (int o = 0; o < outputs; o++)
        {
            if (inputs == 3)
            {
                int start = o * 3 * plane;
                double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
                for (int i = 0; i < 3 * plane; i++)
                {
                    lo = Math.Min(lo, w[start + i]);
                    hi = Math.Max(hi, w[start + i]);
                }
                var pixels = new byte[plane * 3];
                for (int i = 0; i < plane; i++)
                    for (int c = 0; c < 3; c++)
                        pixels[3 * i + c] = (byte)Math.Round(hi > lo ? (w[start + c * plane + i] - lo) / (hi - lo) * 255 : 128);
                tiles.Add(Raster.Upscale(new Image(kw, kh, 3, pixels), scale));
            }
            else
            {
                var mean = new double[plane];
                for (int c = 0; c < inputs; c++)
                    for (int i = 0; i < plane; i++) mean[i] += w[(o * inputs + c) * plane + i] / inputs;
                tiles.Add(Raster.Upscale(Raster.Signed(Tensor.From(mean, kh, kw)), scale));
            }
        }
        return Raster.Grid(tiles, columns, padding: 2);
    }

    /// <summary>The output of <paramref name="layer"/> for one input [1, ...] (eval mode, no gradients): [C, h, w].</summary>
    public static Tensor FeatureMaps(Module<Tensor, Tensor> model, Module layer, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layer);
        ModelProbe.CheckSingle("feature maps", input);
        Tensor? captured = null;
        using (var mode = ModelProbe.Eval(model))
        using (layer.RegisterForwardHook((_, _, output) => captured ??= output as Tensor))
        using (Autograd.NoGrad())
            model.Call(input);
        if (captured is null) throw new ArgumentException($"feature maps: layer {layer.TypeName} was not called during the forward pass");
        if (captured.Rank != 4) throw new ArgumentException($"feature maps: layer {layer.TypeName} outputs {Shapes.Format(captured.ShapeArray)}, expected conv-like [1, C, h, w]");
        return captured[0].Contiguous();
    }

    /// <summary>Feature maps [C, h, w] as a grid of viridis tiles, each min-max normalised and enlarged <paramref name="scale"/> times.</summary>
    public static Image FeatureMapGrid(Tensor maps, int scale = 3, int columns = 8)
    {
        ArgumentNullException.ThrowIfNull(maps);
        if (maps.Rank != 3) throw new ArgumentException($"feature map grid: expected [C, h, w], got {Shapes.Format(maps.ShapeArray)}");
        var tiles = new List<Image>(maps.Size(0));
        for (int c = 0; c < maps.Size(0); c++) tiles.Add(Raster.Upscale(Raster.Heat(maps[c]), scale));
        return Raster.Grid(tiles, columns, padding: 2);
    }
}
