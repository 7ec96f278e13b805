using DeepSharp.Data;
using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>
/// A Grad-CAM map: <see cref="Map"/> [H, W] at the input's resolution (bilinear, align_corners=False),
/// <see cref="Coarse"/> [h, w] at the layer's resolution, the channel weights α_k and the target score.
/// Values are not normalised (divide by the maximum to display).
/// </summary>
public sealed record GradCamResult(Tensor Map, Tensor Coarse, double[] ChannelWeights, double Score);

/// <summary>
/// Grad-CAM (Selvaraju et al. 2017) for a chosen conv-like module (output [N, K, h, w]): a forward
/// hook keeps the module's output activations A, a backward hook the gradient dy_c/dA; with
/// α_k = mean over (h, w) of dy_c/dA_k the map is ReLU(Σ_k α_k A_k), upsampled bilinearly to the input size.
/// </summary>
public static class GradCam
{
    /// <summary>Grad-CAM of class <paramref name="target"/> for one image, computed at <paramref name="layer"/>; the model runs in eval mode.</summary>
    /// <param name="model">A classifier giving logits [1, K].</param>
    /// <param name="layer">A module inside <paramref name="model"/> whose output is [1, K, h, w] (usually the last convolution).</param>
    /// <param name="input">One image [1, C, H, W].</param>
    /// <param name="target">The class whose score is explained.</param>
    /// <exception cref="ArgumentException">The input is not [1, C, H, W], the layer is not called or its output is not [1, K, h, w], or no gradient reaches it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="target"/> is not one of the model's outputs.</exception>
    public static GradCamResult Compute(Module<Tensor, Tensor> model, Module layer, Tensor input, int target)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layer);
        ModelProbe.CheckSingle("grad-cam", input);
        if (input.Rank != 4) throw new ArgumentException($"grad-cam: needs an image input [1, C, H, W], got {Shapes.Format(input.ShapeArray)}");
        Tensor? activations = null, gradient = null;
        using var mode = ModelProbe.Eval(model);
        using var forward = layer.RegisterForwardHook((_, _, output) =>
        {
            if (activations is null && output is Tensor t) activations = t;
        });
        using var backward = layer.RegisterBackwardHook((_, g) => gradient = gradient is null ? g : gradient + g);
        var x = input.Detach().Contiguous().Clone().SetRequiresGrad();
        double score;
        using (Autograd.EnableGrad())
        {
            var s = ModelProbe.Scores("grad-cam", model.Call(x), target).Sum();
            score = s.ToDouble();
            Autograd.Grad(s, [x]);
        }
        if (activations is null) throw new ArgumentException($"grad-cam: layer {layer.TypeName} was not called during the forward pass (is it part of the model?)");
        if (activations.Rank != 4 || activations.Size(0) != 1)
            throw new ArgumentException($"grad-cam: layer {layer.TypeName} must output conv-like activations [1, K, h, w], got {Shapes.Format(activations.ShapeArray)}");
        if (gradient is null) throw new ArgumentException($"grad-cam: no gradient reached layer {layer.TypeName}; the target score does not depend on it");

        int k = activations.Size(1), h = activations.Size(2), w = activations.Size(3);
        var a = TensorValues.ToDoubles(activations);
        var g = TensorValues.ToDoubles(gradient);
        var alpha = new double[k];
        var cam = new double[h * w];
        for (int c = 0; c < k; c++)
        {
            double sum = 0;
            for (int i = 0; i < h * w; i++) sum += g[c * h * w + i];
            alpha[c] = sum / (h * w);
            for (int i = 0; i < h * w; i++) cam[i] += alpha[c] * a[c * h * w + i];
        }
        for (int i = 0; i < cam.Length; i++) cam[i] = Math.Max(cam[i], 0);
        var coarse = Tensor.From(cam, h, w);
        var map = ImageOps.ResizeBilinear(coarse, input.Size(2), input.Size(3));
        return new GradCamResult(map, coarse, alpha, score);
    }

    /// <summary>
    /// The default Grad-CAM layer: the last leaf module whose output is conv-like ([1, K, h, w] with
    /// h * w &gt; 1) in one forward pass on <paramref name="input"/>; null when the model has none.
    /// </summary>
    public static (string Name, Module Module)? LastConvLayer(Module<Tensor, Tensor> model, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(model);
        (string, Module)? last = null;
        var handles = new List<HookHandle>();
        foreach (var (name, module) in model.NamedModules())
        {
            if (module.Children().Any()) continue;
            string n = name;
            handles.Add(module.RegisterForwardHook((m, _, output) =>
            {
                if (output is Tensor t && t.Rank == 4 && t.Size(2) * t.Size(3) > 1) last = (n, m);
            }));
        }
        try
        {
            using var mode = ModelProbe.Eval(model);
            using var _ = Autograd.NoGrad();
            model.Call(input);
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
        }
        return last;
    }
}
