using System.Globalization;
using DeepSharp.Data;
using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>What <see cref="ReportBuilder.Build"/> needs: a test set and what training recorded.</summary>
public sealed record ReportInputs
{
    /// <summary>The report's title.</summary>
    public required string Title { get; init; }

    /// <summary>Test inputs [N, ...] as the model takes them (images [N, C, H, W] or flat [N, F]).</summary>
    public required Tensor TestInputs { get; init; }

    /// <summary>Class ids [N] (int64).</summary>
    public required Tensor TestTargets { get; init; }

    /// <summary>Class names by id (ids are shown when empty).</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];

    /// <summary>Per-epoch logs (loss, accuracy, val_loss, val_accuracy, lr, epoch) for the learning curves.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> History { get; init; } = [];

    /// <summary>Activation and gradient statistics recorded during training, if any.</summary>
    public InsightLog? Statistics { get; init; }

    /// <summary>Key figures shown at the top (model, data, ...).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Summary { get; init; } = [];

    /// <summary>
    /// Counts [true][predicted] (e.g. from the run's metrics); computed from the test set when null. When
    /// given, the test set is evaluated only until <see cref="MisclassifiedCount"/> mistakes are found.
    /// </summary>
    public long[][]? ConfusionMatrix { get; init; }

    /// <summary>How many misclassified test examples are shown (default 16).</summary>
    public int MisclassifiedCount { get; init; } = 16;

    /// <summary>Test images explained with saliency, Integrated Gradients and Grad-CAM (one per class, first ones found).</summary>
    public int AttributionCount { get; init; } = 4;

    /// <summary>Interpolation steps of Integrated Gradients (default 128).</summary>
    public int IntegratedGradientsSteps { get; init; } = 128;

    /// <summary>At most this many test samples are evaluated for the confusion matrix and misclassified examples.</summary>
    public int MaxTestSamples { get; init; } = 10_000;
}

/// <summary>
/// Computes the model-dependent parts of a report from trained weights and a test set: the confusion
/// matrix, misclassified examples, saliency / Integrated Gradients / Grad-CAM overlays, first-layer
/// filters, feature maps, attention maps and LSTM gates when the model has them.
/// </summary>
public static class ReportBuilder
{
    /// <summary>Evaluates <paramref name="model"/> on the test set and computes every model-dependent section of the report.</summary>
    public static ReportData Build(Module<Tensor, Tensor> model, ReportInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        var x = inputs.TestInputs;
        var y = inputs.TestTargets;
        if (x.Rank < 2 || y.Rank != 1 || x.Size(0) != y.Size(0))
            throw new ArgumentException($"report: expected test inputs [N, ...] and targets [N], got {Shapes.Format(x.ShapeArray)} and {Shapes.Format(y.ShapeArray)}");
        var notes = new Dictionary<string, string>();
        int n = Math.Min(x.Size(0), inputs.MaxTestSamples);
        var labels = y.ToDoubleArray();
        var imageShape = ImageShape(x);

        // Predictions over the test set (eval mode, no gradients, batches of 500). With a confusion matrix
        // given, only until enough misclassified examples are found.
        int classes = 0, evaluated = 0, wrong = 0;
        var predicted = new int[n];
        var confidence = new double[n];
        using (ModelProbe.Eval(model))
        using (Autograd.NoGrad())
        {
            for (int start = 0; start < n; start += 500)
            {
                if (inputs.ConfusionMatrix is not null && wrong >= inputs.MisclassifiedCount) break;
                int count = Math.Min(500, n - start);
                var logits = model.Call(x.Narrow(0, start, count));
                if (logits.Rank != 2 || logits.Size(1) < 2) break;
                classes = logits.Size(1);
                var p = TensorValues.ToDoubles(logits.Softmax(1));
                for (int i = 0; i < count; i++)
                {
                    int best = 0;
                    for (int k = 1; k < classes; k++) if (p[i * classes + k] > p[i * classes + best]) best = k;
                    predicted[start + i] = best;
                    confidence[start + i] = p[i * classes + best];
                    if (best != (int)labels[start + i]) wrong++;
                }
                evaluated = start + count;
            }
        }
        string Name(int k) => k < inputs.ClassNames.Count ? inputs.ClassNames[k] : k.ToString(CultureInfo.InvariantCulture);

        long[][]? confusion = inputs.ConfusionMatrix;
        var misclassified = new List<LabeledImage>();
        if (classes == 0)
        {
            notes["misclassified"] = "The model does not output class logits [N, K] with K >= 2, so there are no class predictions to show.";
            if (confusion is null) notes["confusion"] = notes["misclassified"];
        }
        else
        {
            if (confusion is null)
            {
                confusion = Enumerable.Range(0, classes).Select(_ => new long[classes]).ToArray();
                for (int i = 0; i < evaluated; i++)
                    if (labels[i] >= 0 && labels[i] < classes) confusion[(int)labels[i]][predicted[i]]++;
            }
            if (imageShape is null) notes["misclassified"] = "The inputs are not images, so misclassified examples are listed only in the confusion matrix.";
            else
                for (int i = 0; i < evaluated && misclassified.Count < inputs.MisclassifiedCount; i++)
                    if (predicted[i] != (int)labels[i])
                        misclassified.Add(new LabeledImage(Raster.Upscale(Raster.Gray(AsImage(x[i], imageShape.Value)), 3),
                            $"#{i} true: {Name((int)labels[i])}\npredicted: {Name(predicted[i])} ({confidence[i] * 100:F0}%)"));
        }

        // Attributions, filters, feature maps: only for image inputs.
        var attributions = new List<AttributionExample>();
        string? camLayerName = null;
        LabeledImage? filters = null, featureMaps = null;
        if (imageShape is { } shape && classes > 0)
        {
            var first = Sample(x, 0);
            var camLayer = first.Rank == 4 ? GradCam.LastConvLayer(model, first) : null;
            camLayerName = camLayer?.Name;
            if (camLayer is null) notes["attributions"] = "The model has no conv-like layer (output [N, C, H, W]), so Grad-CAM is not shown.";
            foreach (int i in Examples(labels, evaluated, inputs.AttributionCount))
            {
                var input = Sample(x, i);
                int target = predicted[i];
                var gray = Normalize(AsImage(x[i], shape));
                var saliency = ChannelSum(Attributions.Saliency(model, input, target));
                var ig = Attributions.IntegratedGradients(model, input, target, new IntegratedGradientsOptions(inputs.IntegratedGradientsSteps));
                var igMap = ChannelSum(ig.Attributions.Relu());
                Image? cam = null;
                if (camLayer is { } layer && input.Rank == 4) cam = Big(Raster.Overlay(gray, GradCam.Compute(model, layer.Module, input, target).Map));
                attributions.Add(new AttributionExample($"#{i} true: {Name((int)labels[i])}\npredicted: {Name(target)}", Big(Raster.Gray(gray, 0, 1)),
                    Big(Raster.Overlay(gray, saliency)), Big(Raster.Overlay(gray, igMap)), cam,
                    $"IG completeness error {ig.CompletenessError:G2} (f(x) − f(0) = {ig.Score - ig.BaselineScore:G3})"));
            }
            var weight = FeatureViews.FirstConvWeight(model);
            if (weight is { } w)
                filters = new LabeledImage(FeatureViews.FilterGrid(w.Weight), $"First-layer filters {w.Name} {Shapes.Format(w.Weight.ShapeArray)} (blue negative, white zero, red positive)");
            var conv = first.Rank == 4 ? FirstConvLayer(model, first) : null;
            if (conv is { } c)
            {
                var maps = FeatureViews.FeatureMaps(model, c.Module, first);
                featureMaps = new LabeledImage(FeatureViews.FeatureMapGrid(maps), $"Feature maps of layer {c.Name} for test image #0 ({maps.Size(0)} channels)");
            }
            if (weight is null && conv is null) notes["filters"] = "The model has no convolutional layer, so there are no filters or feature maps to show.";
        }
        else notes["attributions"] = "Attributions are drawn for image inputs with class logits only.";

        // Attention weights and LSTM gates for one input.
        var (attention, gates) = SequenceViews(model, x.Narrow(0, 0, 1));
        if (attention.Count == 0 && gates.Count == 0)
            notes["attention"] = "No module of this model returns attention weights (a tuple with a row-stochastic weight tensor), and it has no LSTM.";

        return new ReportData
        {
            Title = inputs.Title,
            Summary = inputs.Summary,
            History = inputs.History,
            Statistics = inputs.Statistics,
            ConfusionMatrix = confusion,
            ClassNames = inputs.ClassNames,
            Misclassified = misclassified,
            Attributions = attributions,
            GradCamLayer = camLayerName,
            Filters = filters,
            FeatureMaps = featureMaps,
            Attention = attention,
            Gates = gates,
            Notes = WithStatisticsNotes(notes, inputs.Statistics),
        };
    }

    /// <summary>
    /// Attention maps (from modules returning weights, see <see cref="AttentionCapture"/>) and LSTM gate
    /// activations over time (i, f, o and the cell state of every LSTM module, first layer, forward
    /// direction) for one input [1, ...], from one forward pass in eval mode.
    /// </summary>
    public static (List<LabeledImage> Attention, List<LabeledImage> Gates) SequenceViews(Module<Tensor, Tensor> model, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        var lstmInputs = new List<(string Name, RecurrentBase Module, Tensor Input)>();
        var handles = new List<HookHandle>();
        foreach (var (name, module) in model.NamedModules())
            if (module is RecurrentBase { Cell: RecurrentCell.Lstm } lstm)
                handles.Add(module.RegisterForwardPreHook((m, value) =>
                {
                    if (value is Tensor t && !lstmInputs.Exists(l => ReferenceEquals(l.Module, m))) lstmInputs.Add((name, lstm, t));
                }));
        var attention = new List<LabeledImage>();
        var gates = new List<LabeledImage>();
        try
        {
            using var capture = new AttentionCapture(model);
            using (ModelProbe.Eval(model))
            using (Autograd.NoGrad())
                model.Call(input);
            foreach (var map in capture.Maps.Take(6))
            {
                var m = map.Weights;
                while (m.Rank > 2) m = m[0];
                attention.Add(new LabeledImage(Raster.Upscale(Raster.Heat(m, 0, null), Math.Max(1, 240 / Math.Max(m.Size(0), m.Size(1)))),
                    $"Attention of {map.Layer} ({map.Type}) for input #0: rows = queries, columns = keys"));
            }
        }
        finally
        {
            foreach (var h in handles) h.Dispose();
        }
        foreach (var (name, lstm, value) in lstmInputs)
        {
            var sequence = value.Rank == 2 ? value : lstm.BatchFirst ? value[0] : value.Select(1, 0);
            var trace = LstmGates.Compute(lstm, sequence.Detach());
            int scale = Math.Max(1, 240 / Math.Max(trace.Input.Size(0), trace.Input.Size(1)));
            foreach (var (gate, label, signed) in new[] { (trace.Input, "input gate i", false), (trace.Forget, "forget gate f", false), (trace.Output, "output gate o", false), (trace.CellState, "cell state c", true) })
            {
                var image = signed ? Raster.Signed(gate.T().Contiguous()) : Raster.Heat(gate.T().Contiguous(), 0, 1);
                gates.Add(new LabeledImage(Raster.Upscale(image, scale), $"LSTM {name}: {label} over time (rows: {trace.Input.Size(1)} hidden units, columns: {trace.Input.Size(0)} steps), input #0"));
            }
        }
        return (attention, gates);
    }

    private static Dictionary<string, string> WithStatisticsNotes(Dictionary<string, string> notes, InsightLog? stats)
    {
        if (stats is null || stats.Steps.Count == 0)
        {
            notes["activations"] = "No statistics were recorded for this run (train with --report to record them).";
            notes["gradients"] = notes["activations"];
        }
        return notes;
    }

    /// <summary>[C, H, W] of one image sample: rank-4 inputs as they are, flat inputs of a square size as [1, s, s]; null otherwise.</summary>
    private static (int C, int H, int W)? ImageShape(Tensor x)
    {
        if (x.Rank == 4) return (x.Size(1), x.Size(2), x.Size(3));
        if (x.Rank == 3) return (1, x.Size(1), x.Size(2));
        if (x.Rank == 2)
        {
            int s = (int)Math.Round(Math.Sqrt(x.Size(1)));
            if (s > 1 && s * s == x.Size(1)) return (1, s, s);
        }
        return null;
    }

    /// <summary>Sample i as the model takes it, [1, ...].</summary>
    private static Tensor Sample(Tensor x, int i) => x.Narrow(0, i, 1).Contiguous();

    /// <summary>One sample as a gray [H, W] image (channel mean).</summary>
    private static Tensor AsImage(Tensor sample, (int C, int H, int W) shape)
    {
        var v = sample.Reshape(shape.C, shape.H, shape.W);
        using var _ = Autograd.NoGrad();
        return shape.C == 1 ? v[0] : v.Mean(0);
    }

    private static Tensor ChannelSum(Tensor attribution)
    {
        using var _ = Autograd.NoGrad();
        var a = attribution[0];
        return a.Rank == 3 ? a.Sum(0) : a.Reshape((int)Math.Round(Math.Sqrt(a.Numel)), -1);
    }

    private static Tensor Normalize(Tensor image)
    {
        using var _ = Autograd.NoGrad();
        double lo = image.Min().ToDouble(), hi = image.Max().ToDouble();
        return hi > lo ? (image - lo) / (hi - lo) : Tensor.ZerosLike(image);
    }

    private static Image Big(Image image) => Raster.Upscale(image, Math.Max(1, 112 / Math.Max(image.Width, 1)));

    /// <summary>Up to <paramref name="count"/> test indices, the first of each class in turn.</summary>
    private static List<int> Examples(double[] labels, int n, int count)
    {
        var picked = new List<int>();
        var seen = new HashSet<double>();
        for (int i = 0; i < n && picked.Count < count; i++)
            if (seen.Add(labels[i])) picked.Add(i);
        for (int i = 0; i < n && picked.Count < count; i++)
            if (!picked.Contains(i)) picked.Add(i);
        return picked;
    }

    /// <summary>The first leaf module with a conv-like output [1, C, h, w].</summary>
    private static (string Name, Module Module)? FirstConvLayer(Module<Tensor, Tensor> model, Tensor input)
    {
        (string, Module)? first = null;
        var handles = new List<HookHandle>();
        foreach (var (name, module) in model.NamedModules())
        {
            if (module.Children().Any()) continue;
            string nm = name;
            handles.Add(module.RegisterForwardHook((m, _, output) =>
            {
                if (first is null && output is Tensor t && t.Rank == 4) first = (nm, m);
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
        return first;
    }
}
