using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// Adadelta for one parameter in one pass (PyTorch 1.13 <c>_single_tensor_adadelta</c>):
/// <code>
/// g = ±grad + wd·p          s = ρ·s + (1 − ρ)·g²
/// Δ = √(u + eps) / √(s + eps) · g          u = ρ·u + (1 − ρ)·Δ²          p = p − lr·Δ
/// </code>
/// </summary>
internal static class AdadeltaKernel
{
    public static void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> squareAvg, Span<T> accDelta,
        double lr, double rho, double eps, double weightDecay, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        FusedUpdate.CheckLengths("adadelta", n, grad.Length, squareAvg.Length, accDelta.Length);
        var update = new Update<T>(ref MemoryMarshal.GetReference(param), ref MemoryMarshal.GetReference(grad),
            ref MemoryMarshal.GetReference(squareAvg), ref MemoryMarshal.GetReference(accDelta))
        {
            Maximize = maximize,
            HasDecay = weightDecay != 0,
            WeightDecay = FusedUpdate.Of<T>(weightDecay),
            Rho = FusedUpdate.Of<T>(rho),
            OneMinusRho = FusedUpdate.Of<T>(1 - rho),
            Eps = FusedUpdate.Of<T>(eps),
            NegLr = FusedUpdate.Of<T>(-lr),
        };
        FusedUpdate.Run<T, Update<T>>(n, update);
    }

    private ref struct Update<T>(ref T p, ref T g, ref T squareAvg, ref T accDelta) : IFusedUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _p = ref p, _g = ref g, _s = ref squareAvg, _u = ref accDelta;
        public bool Maximize, HasDecay;
        public T WeightDecay, Rho, OneMinusRho, Eps, NegLr;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>
        {
            TV p = TS.Load(ref _p, i), g = TS.Load(ref _g, i);
            if (Maximize) g = TS.Neg(g);
            if (HasDecay) g = TS.Fma(p, TS.Splat(WeightDecay), g);
            TV s = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(TS.Mul(TS.Splat(OneMinusRho), g), g, TS.Mul(TS.Load(ref _s, i), TS.Splat(Rho))));
            TS.Store(s, ref _s, i);
            TV eps = TS.Splat(Eps), u = TS.Load(ref _u, i);
            TV delta = TS.Mul(TS.Div(TS.Sqrt(TS.Add(u, eps)), TS.Sqrt(TS.Add(s, eps))), g);
            TS.Store(FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(TS.Mul(TS.Splat(OneMinusRho), delta), delta, TS.Mul(u, TS.Splat(Rho)))), ref _u, i);
            TS.Store(TS.Fma(delta, TS.Splat(NegLr), p), ref _p, i);
        }
    }
}
