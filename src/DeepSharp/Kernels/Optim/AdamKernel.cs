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
    public static void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> expAvg, Span<T> expAvgSq, Span<T> maxExpAvgSq,
        double step, double lr, double beta1, double beta2, double eps, double weightDecay,
        bool decoupledWeightDecay, bool amsgrad, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        FusedUpdate.CheckLengths("adam", n, grad.Length, expAvg.Length, expAvgSq.Length, amsgrad ? maxExpAvgSq.Length : n);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        var update = new Update<T>(ref MemoryMarshal.GetReference(param), ref MemoryMarshal.GetReference(grad),
            ref MemoryMarshal.GetReference(expAvg), ref MemoryMarshal.GetReference(expAvgSq), ref MemoryMarshal.GetReference(maxExpAvgSq))
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
        FusedUpdate.Run<T, Update<T>>(n, update);
    }

    private ref struct Update<T>(ref T p, ref T g, ref T m, ref T v, ref T vMax) : IFusedUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _p = ref p, _g = ref g, _m = ref m, _v = ref v, _vMax = ref vMax;
        public bool Maximize, CoupledDecay, DecoupledDecay, Amsgrad;
        public T WeightDecay, DecayFactor, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, InvBiasCorrection2Sqrt, Eps, NegStepSize;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>
        {
            TV p = TS.Load(ref _p, i), g = TS.Load(ref _g, i);
            if (Maximize) g = TS.Neg(g);
            if (CoupledDecay) g = TS.Fma(p, TS.Splat(WeightDecay), g);
            if (DecoupledDecay) p = TS.Mul(p, TS.Splat(DecayFactor));
            TV m = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(g, TS.Splat(OneMinusBeta1), TS.Mul(TS.Load(ref _m, i), TS.Splat(Beta1))));
            TV v = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(TS.Mul(TS.Splat(OneMinusBeta2), g), g, TS.Mul(TS.Load(ref _v, i), TS.Splat(Beta2))));
            TS.Store(m, ref _m, i);
            TS.Store(v, ref _v, i);
            if (Amsgrad)
            {
                v = TS.Max(TS.Load(ref _vMax, i), v);
                TS.Store(v, ref _vMax, i);
            }
            // PyTorch divides √v by √(1 − β2^t); one FMA by the reciprocal saves a division (within an ulp).
            TV denom = TS.Fma(TS.Sqrt(v), TS.Splat(InvBiasCorrection2Sqrt), TS.Splat(Eps));
            TS.Store(TS.Fma(TS.Div(m, denom), TS.Splat(NegStepSize), p), ref _p, i);
        }
    }
}
