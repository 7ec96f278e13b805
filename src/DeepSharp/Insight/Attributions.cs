using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>SmoothGrad settings: <see cref="Samples"/> noisy copies with Gaussian noise of std NoiseLevel * (max(x) - min(x)).</summary>
public sealed record SmoothGradOptions(int Samples = 25, double NoiseLevel = 0.15, ulong Seed = 0);

/// <summary>Integrated Gradients settings: <see cref="Steps"/> trapezoid intervals along the straight path from the baseline (zeros when null).</summary>
public sealed record IntegratedGradientsOptions(int Steps = 64, Tensor? Baseline = null);

/// <summary>Occlusion settings: a <see cref="Patch"/> x Patch square of <see cref="BaselineValue"/> slid with <see cref="Stride"/> over all channels.</summary>
public sealed record OcclusionOptions(int Patch = 4, int Stride = 2, double BaselineValue = 0);

/// <summary>
/// Integrated Gradients with its completeness check: the attributions should sum to
/// f(x) - f(baseline); <see cref="CompletenessError"/> is |sum - (f(x) - f(baseline))|, the error of
/// the trapezoid rule (it shrinks like 1/steps^2 for smooth models).
/// </summary>
public sealed record IntegratedGradientsResult(Tensor Attributions, double Score, double BaselineScore, double AttributionSum, double CompletenessError);

/// <summary>
/// Attribution methods for one input: which input values the score of class <c>target</c> (the
/// logit, before softmax) depends on. Inputs are one sample with a batch dim ([1, C, H, W] or [1, F]);
/// results have the input's shape. The model runs in eval mode (restored afterwards) and parameters'
/// gradients are left untouched. Perturbed copies are evaluated in batches.
/// </summary>
public static class Attributions
{
    /// <summary>d logit_target / d x: the raw (signed) input gradient.</summary>
    public static Tensor InputGradient(Module<Tensor, Tensor> model, Tensor input, int target)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelProbe.CheckSingle("input gradient", input);
        using var mode = ModelProbe.Eval(model);
        return ModelProbe.InputGradients("input gradient", model, input, target);
    }

    /// <summary>Gradient saliency (Simonyan et al. 2013): |d logit_target / d x|.</summary>
    public static Tensor Saliency(Module<Tensor, Tensor> model, Tensor input, int target) => InputGradient(model, input, target).Abs();

    /// <summary>
    /// SmoothGrad (Smilkov et al. 2017): the mean of the saliency maps |d logit / d x| of
    /// <see cref="SmoothGradOptions.Samples"/> copies of the input with Gaussian noise of std
    /// NoiseLevel * (max(x) - min(x)), drawn from a generator seeded with <see cref="SmoothGradOptions.Seed"/>.
    /// </summary>
    public static Tensor SmoothGrad(Module<Tensor, Tensor> model, Tensor input, int target, SmoothGradOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelProbe.CheckSingle("smoothgrad", input);
        var o = options ?? new SmoothGradOptions();
        if (o.Samples < 1) throw new ArgumentOutOfRangeException(nameof(options), $"smoothgrad: samples must be at least 1, got {o.Samples}");
        if (!(o.NoiseLevel >= 0)) throw new ArgumentOutOfRangeException(nameof(options), $"smoothgrad: noise level must be non-negative, got {o.NoiseLevel}");
        using var mode = ModelProbe.Eval(model);
        Tensor noisy;
        using (Autograd.NoGrad())
        {
            double range = input.Max().ToDouble() - input.Min().ToDouble();
            var shape = input.ShapeArray.ToArray();
            shape[0] = o.Samples;
            var noise = Tensor.Normal(shape, 0, o.NoiseLevel * range, new Generator(o.Seed), input.DType);
            noisy = input.Detach().Expand(shape) + noise;
        }
        var grads = ModelProbe.InputGradients("smoothgrad", model, noisy, target);
        using (Autograd.NoGrad()) return grads.Abs().Mean(0, keepDim: true);
    }

    /// <summary>
    /// Integrated Gradients (Sundararajan et al. 2017): (x - b) ⊙ ∫_0^1 ∇f(b + α (x - b)) dα, the
    /// integral by the trapezoid rule over <see cref="IntegratedGradientsOptions.Steps"/> intervals
    /// (steps + 1 gradient evaluations, α = k / steps).
    /// </summary>
    public static IntegratedGradientsResult IntegratedGradients(Module<Tensor, Tensor> model, Tensor input, int target, IntegratedGradientsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelProbe.CheckSingle("integrated gradients", input);
        var o = options ?? new IntegratedGradientsOptions();
        if (o.Steps < 1) throw new ArgumentOutOfRangeException(nameof(options), $"integrated gradients: steps must be at least 1, got {o.Steps}");
        var baseline = o.Baseline ?? Tensor.ZerosLike(input);
        if (baseline.Shape != input.Shape)
            throw new ArgumentException($"integrated gradients: baseline {Shapes.Format(baseline.ShapeArray)} must have the input's shape {Shapes.Format(input.ShapeArray)}");
        baseline = baseline.To(input.DType);
        using var mode = ModelProbe.Eval(model);
        int m = o.Steps;
        Tensor path, delta;
        using (Autograd.NoGrad())
        {
            delta = input.Detach() - baseline.Detach();
            var alphaShape = new int[input.Rank];
            Array.Fill(alphaShape, 1);
            alphaShape[0] = m + 1;
            var alphas = Tensor.Linspace(0, 1, m + 1, input.DType).Reshape(alphaShape);
            path = baseline.Detach() + alphas * delta; // [m + 1, ...]
        }
        var grads = ModelProbe.InputGradients("integrated gradients", model, path, target);
        Tensor attributions;
        using (Autograd.NoGrad())
        {
            // Trapezoid weights: 1/(2m) at both ends, 1/m inside.
            var w = new double[m + 1];
            Array.Fill(w, 1.0 / m);
            w[0] = w[m] = 0.5 / m;
            var weightShape = new int[input.Rank];
            Array.Fill(weightShape, 1);
            weightShape[0] = m + 1;
            var weights = Tensor.From(w, weightShape).To(input.DType);
            attributions = delta * (grads * weights).Sum(0, keepDim: true);
        }
        var ends = ModelProbe.ScoresNoGrad("integrated gradients", model, Tensor.Cat([input.Detach(), baseline.Detach()]), target);
        double sum = attributions.Sum().ToDouble();
        return new IntegratedGradientsResult(attributions, ends[0], ends[1], sum, Math.Abs(sum - (ends[0] - ends[1])));
    }

    /// <summary>
    /// Occlusion sensitivity (Zeiler and Fergus 2014): slide a patch of the baseline value over the
    /// image (all channels at once); each pixel's attribution is the mean drop of the target score
    /// f(x) - f(x occluded) over the patch positions that cover it (0 where none does). Input [1, C, H, W].
    /// </summary>
    public static Tensor Occlusion(Module<Tensor, Tensor> model, Tensor input, int target, OcclusionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ModelProbe.CheckSingle("occlusion", input);
        if (input.Rank != 4) throw new ArgumentException($"occlusion: needs an image input [1, C, H, W], got {Shapes.Format(input.ShapeArray)}");
        var o = options ?? new OcclusionOptions();
        int c = input.Size(1), h = input.Size(2), w = input.Size(3);
        if (o.Patch < 1 || o.Stride < 1) throw new ArgumentOutOfRangeException(nameof(options), $"occlusion: patch ({o.Patch}) and stride ({o.Stride}) must be positive");
        if (o.Patch > h || o.Patch > w) throw new ArgumentException($"occlusion: patch {o.Patch} is larger than the image {h}x{w}");
        var ys = Positions(h, o.Patch, o.Stride);
        var xs = Positions(w, o.Patch, o.Stride);
        using var mode = ModelProbe.Eval(model);
        var pixels = TensorValues.ToDoubles(input);
        var sum = new double[h * w];
        var covered = new int[h * w];
        double original = ModelProbe.ScoresNoGrad("occlusion", model, input.Detach(), target)[0];
        var positions = (from y in ys from x in xs select (y, x)).ToList();
        const int chunk = 64;
        for (int start = 0; start < positions.Count; start += chunk)
        {
            int n = Math.Min(chunk, positions.Count - start);
            var batch = new double[n * pixels.Length];
            for (int k = 0; k < n; k++)
            {
                var (py, px) = positions[start + k];
                var dst = batch.AsSpan(k * pixels.Length, pixels.Length);
                pixels.CopyTo(dst);
                for (int ch = 0; ch < c; ch++)
                    for (int yy = py; yy < py + o.Patch; yy++)
                        dst.Slice((ch * h + yy) * w + px, o.Patch).Fill(o.BaselineValue);
            }
            var scores = ModelProbe.ScoresNoGrad("occlusion", model, Tensor.From(batch, n, c, h, w).To(input.DType), target);
            for (int k = 0; k < n; k++)
            {
                var (py, px) = positions[start + k];
                double drop = original - scores[k];
                for (int yy = py; yy < py + o.Patch; yy++)
                    for (int xx = px; xx < px + o.Patch; xx++)
                    {
                        sum[yy * w + xx] += drop;
                        covered[yy * w + xx]++;
                    }
            }
        }
        var map = new double[c * h * w];
        for (int i = 0; i < h * w; i++)
        {
            double v = covered[i] > 0 ? sum[i] / covered[i] : 0;
            for (int ch = 0; ch < c; ch++) map[ch * h * w + i] = v;
        }
        return Tensor.From(map, 1, c, h, w).To(input.DType);
    }

    /// <summary>Top-left corners 0, stride, 2 stride, ... that keep the patch inside, plus the last one flush with the edge.</summary>
    private static List<int> Positions(int size, int patch, int stride)
    {
        var result = new List<int>();
        for (int p = 0; p + patch <= size; p += stride) result.Add(p);
        if (result[^1] + patch < size) result.Add(size - patch);
        return result;
    }
}
