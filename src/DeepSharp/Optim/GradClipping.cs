using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Optim;

/// <summary>Gradient clipping (PyTorch's torch.nn.utils.clip_grad_norm_ and clip_grad_value_), in place on .Grad.</summary>
public static class GradClipping
{
    /// <summary>
    /// Scales all gradients together so that their joint <paramref name="normType"/>-norm is at most
    /// <paramref name="maxNorm"/>: g ← g · min(1, maxNorm / (total + 1e-6)). Parameters without a
    /// gradient are skipped. Returns the total norm before clipping (0 when no parameter has a gradient).
    /// </summary>
    /// <param name="parameters">The parameters whose gradients are clipped in place.</param>
    /// <param name="maxNorm">The largest total norm allowed.</param>
    /// <param name="normType">p of the p-norm (&gt; 0), or <see cref="double.PositiveInfinity"/> for the max-norm.</param>
    /// <param name="errorIfNonfinite">Throw instead of scaling when the total norm is NaN or infinite.</param>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(normType > 0)) throw new ArgumentOutOfRangeException(nameof(normType), normType, "ClipGradNorm: normType must be > 0 or +infinity");
        var grads = Grads(parameters);
        if (grads.Count == 0) return 0;

        double total = 0;
        foreach (var g in grads)
        {
            var c = g.ContiguousData();
            double part = c.DType == DType.Float32 ? Accumulate<float>(c, normType) : Accumulate<double>(c, normType);
            total = double.IsPositiveInfinity(normType) ? Math.Max(total, part) : total + part;
        }
        if (!double.IsPositiveInfinity(normType))
            total = normType == 2 ? Math.Sqrt(total) : Math.Pow(total, 1 / normType);

        if (errorIfNonfinite && !double.IsFinite(total))
            throw new InvalidOperationException($"ClipGradNorm: the total norm of order {normType} for gradients from the parameters is non-finite ({total}), " +
                "so it cannot be clipped. To scale the gradients by the non-finite norm anyway, pass errorIfNonfinite: false");

        // Math.Min keeps a NaN coefficient, as torch.clamp does: the gradients become NaN rather than silently unclipped.
        double coefficient = Math.Min(maxNorm / (total + 1e-6), 1.0);
        if (coefficient != 1.0)
            foreach (var g in grads) Scale(g, coefficient);
        return total;
    }

    /// <summary>Clamps every gradient element to [-clipValue, clipValue].</summary>
    public static void ClipGradValue(IEnumerable<Tensor> parameters, double clipValue)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var g in Grads(parameters))
        {
            if (!g.IsContiguous)
            {
                using var _ = Autograd.NoGrad();
                g.ClampInPlace(-clipValue, clipValue);
                continue;
            }
            if (g.DType == DType.Float32) ClipKernel.Clamp(g.Span<float>(), (float)-clipValue, (float)clipValue);
            else ClipKernel.Clamp(g.Span<double>(), -clipValue, clipValue);
            g.BumpVersion();
        }
    }

    private static List<Tensor> Grads(IEnumerable<Tensor> parameters)
    {
        var grads = new List<Tensor>();
        foreach (var p in parameters)
            if (p?.Grad is { } g)
            {
                if (!g.IsFloatingPoint) throw new ArgumentException($"gradient clipping: a gradient is {g.DType.Name()}, expected float32 or float64");
                grads.Add(g);
            }
        return grads;
    }

    /// <summary>Σ|g|^p for finite p (Σg² for p = 2), or max|g| for p = ∞.</summary>
    private static double Accumulate<T>(Tensor g, double p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = g.ReadSpan<T>();
        double result = double.IsPositiveInfinity(p) ? ClipKernel.MaxAbs(x) : p == 2 ? ClipKernel.SumOfSquares(x) : ClipKernel.SumOfPowers(x, p);
        Tensor.KeepAlive(g); // may be a contiguous copy of a gradient
        return result;
    }

    private static void Scale(Tensor g, double factor)
    {
        if (!g.IsContiguous)
        {
            using var _ = Autograd.NoGrad();
            g.MulInPlace(factor);
            return;
        }
        if (g.DType == DType.Float32) ClipKernel.Scale(g.Span<float>(), (float)factor);
        else ClipKernel.Scale(g.Span<double>(), factor);
        g.BumpVersion();
    }
}
