using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// Adam and AdamW for one parameter in one pass (PyTorch 1.13 <c>_single_tensor_adam(w)</c>), at step t:
/// <code>
/// g = ±grad (+ wd·p for Adam)           p = p·(1 − lr·wd) for AdamW
/// m = β1·m + (1 − β1)·g                 v = β2·v + (1 − β2)·g²         v̂ = max(v̂, v) if amsgrad
/// p = p − lr/(1 − β1^t) · m / (√v̂ / √(1 − β2^t) + eps)
/// </code>
/// </summary>
internal static class AdamKernel
{
    /// <remarks><paramref name="maxExpAvgSq"/>: Used only when <paramref name="amsgrad"/>; may be empty otherwise. <paramref name="step"/>: The step count t after incrementing (1 on the first step).</remarks>
    public static unsafe void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> expAvg, Span<T> expAvgSq, Span<T> maxExpAvgSq,
        double step, double lr, double beta1, double beta2, double eps, double weightDecay,
        bool decoupledWeightDecay, bool amsgrad, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        FusedUpdate.CheckLengths("adam", n, grad.Length, expAvg.Length, expAvgSq.Length, amsgrad ? maxExpAvgSq.Length : n);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        var settings = new Settings<T>
        {
            Maximize = maximize,
            CoupledDecay = weightDecay != 0 && !decoupledWeightDecay,
            DecoupledDecay = weightDecay != 0 && decoupledWeightDecay,
            Amsgrad = amsgrad,
            WeightDecay = FusedUpdate.Of<T>(weightDecay),
            DecayFactor = FusedUpdate.Of<T>(1 - lr * weightDecay),
            Beta1 = FusedUpdate.Of<T>(beta1),
            OneMinusBeta1 = FusedUpdate.Of<T>(1 - beta1),
            Beta2 = FusedUpdate.Of<T>(beta2),
            OneMinusBeta2 = FusedUpdate.Of<T>(1 - beta2),
            InvBiasCorrection2Sqrt = FusedUpdate.Of<T>(1 / Math.Sqrt(biasCorrection2)),
            Eps = FusedUpdate.Of<T>(eps),
            NegStepSize = FusedUpdate.Of<T>(-(lr / biasCorrection1)),
        };
        int parts = WorkerPool.Parts(n, ParallelMinElements);
        if (parts <= 1)
        {
            FusedUpdate.Run<T, Update<T>>(n, new Update<T>(ref MemoryMarshal.GetReference(param), ref MemoryMarshal.GetReference(grad),
                ref MemoryMarshal.GetReference(expAvg), ref MemoryMarshal.GetReference(expAvgSq), ref MemoryMarshal.GetReference(maxExpAvgSq), settings));
            return;
        }
        fixed (T* pp = param, pg = grad, pm = expAvg, pv = expAvgSq, px = maxExpAvgSq)
            OverThePool(pp, pg, pm, pv, px, n, parts, settings);
    }

    /// <summary>
    /// Element-wise, so ranges of whole vectors over the pool compute exactly what one thread does. A large layer's
    /// update (the cnn model's 803k-weight linear layer: a square root and a division per weight) ran on the calling
    /// thread while the others waited. Its own method: the lambda's closure is allocated only here.
    /// </summary>
    private static unsafe void OverThePool<T>(T* p, T* g, T* m, T* v, T* vMax, int n, int parts, Settings<T> settings)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        WorkerPool.For(parts, part =>
        {
            var (start, end) = WorkerPool.Range(part, parts, n, 64);
            FusedUpdate.Run<T, Update<T>>(end - start, new Update<T>(ref p[start], ref g[start], ref m[start], ref v[start],
                ref (vMax == null ? ref Unsafe.NullRef<T>() : ref vMax[start]), settings));
        });
    }

    // Below this many weights a second thread costs more to hand off than it saves.
    private const int ParallelMinElements = 1 << 15;

    /// <summary>The update's hyper-parameters in the element type, and which of its branches apply.</summary>
    private struct Settings<T> where T : unmanaged
    {
        public bool Maximize, CoupledDecay, DecoupledDecay, Amsgrad;
        public T WeightDecay, DecayFactor, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, InvBiasCorrection2Sqrt, Eps, NegStepSize;
    }

    private readonly ref struct Update<T>(ref T p, ref T g, ref T m, ref T v, ref T vMax, Settings<T> settings) : IFusedUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _p = ref p, _g = ref g, _m = ref m, _v = ref v, _vMax = ref vMax;
        private readonly Settings<T> _s = settings;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>
        {
            TV p = TS.Load(ref _p, i), g = TS.Load(ref _g, i);
            if (_s.Maximize) g = TS.Neg(g);
            if (_s.CoupledDecay) g = TS.Fma(p, TS.Splat(_s.WeightDecay), g);
            if (_s.DecoupledDecay) p = TS.Mul(p, TS.Splat(_s.DecayFactor));
            TV m = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(g, TS.Splat(_s.OneMinusBeta1), TS.Mul(TS.Load(ref _m, i), TS.Splat(_s.Beta1))));
            TV v = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(TS.Mul(TS.Splat(_s.OneMinusBeta2), g), g, TS.Mul(TS.Load(ref _v, i), TS.Splat(_s.Beta2))));
            TS.Store(m, ref _m, i);
            TS.Store(v, ref _v, i);
            if (_s.Amsgrad)
            {
                v = TS.Max(TS.Load(ref _vMax, i), v);
                TS.Store(v, ref _vMax, i);
            }
            // PyTorch divides √v by √(1 − β2^t); one FMA by the reciprocal saves a division (within an ulp).
            TV denom = TS.Fma(TS.Sqrt(v), TS.Splat(_s.InvBiasCorrection2Sqrt), TS.Splat(_s.Eps));
            TS.Store(TS.Fma(TS.Div(m, denom), TS.Splat(_s.NegStepSize), p), ref _p, i);
        }
    }
}
