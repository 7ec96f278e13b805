using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>Shared plumbing of the attribution methods: eval mode, target scores, batched input gradients.</summary>
internal static class ModelProbe
{
    /// <summary>Puts the model in eval mode and restores every module's own mode on Dispose.</summary>
    public static ModeScope Eval(Module model) => new(model);

    public readonly struct ModeScope : IDisposable
    {
        private readonly List<(Module Module, bool Training)> _modes;

        public ModeScope(Module model)
        {
            _modes = model.Modules().Select(m => (m, m.Training)).ToList();
            model.Eval();
        }

        // Pre-order: a parent's Train() resets its children, which are restored right after it.
        public void Dispose()
        {
            foreach (var (m, training) in _modes) m.Train(training);
        }
    }

    /// <summary>Checks that <paramref name="input"/> is one sample with a leading batch dim of 1.</summary>
    public static void CheckSingle(string op, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2 || input.Size(0) != 1)
            throw new ArgumentException($"{op}: expected one sample with a batch dim, e.g. [1, C, H, W] or [1, F], got {Shapes.Format(input.ShapeArray)}");
        if (!input.IsFloatingPoint) throw new ArgumentException($"{op}: the input must be float32 or float64, got {input.DType.Name()}");
    }

    /// <summary>The target class score of each sample: logits [N, K] column <paramref name="target"/>, or the output itself for [N] / [N, 1].</summary>
    public static Tensor Scores(string op, Tensor output, int target)
    {
        if (output.Rank == 1 || (output.Rank == 2 && output.Size(1) == 1 && target == 0)) return output.Reshape(output.Size(0));
        if (output.Rank != 2) throw new ArgumentException($"{op}: the model output must be logits [N, K], got {Shapes.Format(output.ShapeArray)}");
        if (target < 0 || target >= output.Size(1)) throw new ArgumentOutOfRangeException(nameof(target), $"{op}: target class {target} is outside the model's {output.Size(1)} outputs");
        return output.Select(1, target);
    }

    /// <summary>The model's scores for a batch, without gradients.</summary>
    public static double[] ScoresNoGrad(string op, Module<Tensor, Tensor> model, Tensor batch, int target)
    {
        using var _ = Autograd.NoGrad();
        return Scores(op, model.Call(batch), target).ToDoubleArray();
    }

    /// <summary>The predicted class (argmax of the logits) of one sample, in eval mode.</summary>
    public static int Predict(Module<Tensor, Tensor> model, Tensor input)
    {
        using var mode = Eval(model);
        using var _ = Autograd.NoGrad();
        var output = model.Call(input);
        if (output.Rank == 2 && output.Size(1) == 1) return 0;
        return (int)output.Reshape(-1).Argmax().ToDouble();
    }

    /// <summary>
    /// d score_target / d x for every sample of <paramref name="batch"/> [N, ...], computed in chunks
    /// (samples are independent in eval mode, so the gradient of the summed scores is per-sample).
    /// Parameters' .Grad is left untouched (Autograd.Grad does not accumulate).
    /// </summary>
    public static Tensor InputGradients(string op, Module<Tensor, Tensor> model, Tensor batch, int target, int chunk = 32)
    {
        var parts = new List<Tensor>();
        for (int start = 0; start < batch.Size(0); start += chunk)
        {
            int n = Math.Min(chunk, batch.Size(0) - start);
            var x = batch.Narrow(0, start, n).Detach().Contiguous().Clone().SetRequiresGrad();
            using var _ = Autograd.EnableGrad();
            var score = Scores(op, model.Call(x), target).Sum();
            parts.Add(Autograd.Grad(score, [x])[0]);
        }
        return parts.Count == 1 ? parts[0] : Tensor.Cat(parts);
    }
}
