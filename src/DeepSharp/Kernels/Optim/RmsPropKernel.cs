using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// RMSprop for one parameter in one pass (PyTorch 1.13 <c>_single_tensor_rmsprop</c>):
/// <code>
/// g = ±grad + wd·p                  s = α·s + (1 − α)·g²
/// a = α·a + (1 − α)·g if centered   r = √(s − a²) + eps if centered, else √s + eps
/// b = momentum·b + g/r, p = p − lr·b if momentum > 0, else p = p − lr·g/r
/// </code>
/// </summary>
internal static class RmsPropKernel
{
    /// <remarks><paramref name="gradAvg"/>: Used only when <paramref name="centered"/>; may be empty otherwise. <paramref name="momentumBuffer"/>: Used only when <paramref name="momentum"/> &gt; 0; may be empty otherwise.</remarks>
    public static void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> squareAvg, Span<T> gradAvg, Span<T> momentumBuffer,
        double lr, double alpha, double eps, double weightDecay, double momentum, bool centered, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        bool hasMomentum = momentum > 0;
        FusedUpdate.CheckLengths("rmsprop", n, grad.Length, squareAvg.Length, centered ? gradAvg.Length : n, hasMomentum ? momentumBuffer.Length : n);
        var update = new Update<T>(ref MemoryMarshal.GetReference(param), ref MemoryMarshal.GetReference(grad),
            ref MemoryMarshal.GetReference(squareAvg), ref MemoryMarshal.GetReference(gradAvg), ref MemoryMarshal.GetReference(momentumBuffer))
        {
            Maximize = maximize,
            HasDecay = weightDecay != 0,
            Centered = centered,
            HasMomentum = hasMomentum,
            WeightDecay = FusedUpdate.Of<T>(weightDecay),
            Alpha = FusedUpdate.Of<T>(alpha),
            OneMinusAlpha = FusedUpdate.Of<T>(1 - alpha),
            Eps = FusedUpdate.Of<T>(eps),
            Momentum = FusedUpdate.Of<T>(momentum),
            NegLr = FusedUpdate.Of<T>(-lr),
        };
        FusedUpdate.Run<T, Update<T>>(n, update);
    }

    private ref struct Update<T>(ref T p, ref T g, ref T squareAvg, ref T gradAvg, ref T buf) : IFusedUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _p = ref p, _g = ref g, _s = ref squareAvg, _a = ref gradAvg, _buf = ref buf;
        public bool Maximize, HasDecay, Centered, HasMomentum;
        public T WeightDecay, Alpha, OneMinusAlpha, Eps, Momentum, NegLr;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>
        {
            TV p = TS.Load(ref _p, i), g = TS.Load(ref _g, i);
            if (Maximize) g = TS.Neg(g);
            if (HasDecay) g = TS.Fma(p, TS.Splat(WeightDecay), g);
            TV s = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(TS.Mul(TS.Splat(OneMinusAlpha), g), g, TS.Mul(TS.Load(ref _s, i), TS.Splat(Alpha))));
            TS.Store(s, ref _s, i);
            TV r;
            if (Centered)
            {
                TV a = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(g, TS.Splat(OneMinusAlpha), TS.Mul(TS.Load(ref _a, i), TS.Splat(Alpha))));
                TS.Store(a, ref _a, i);
                r = TS.Sqrt(TS.Fma(TS.Neg(a), a, s));
            }
            else
            {
                r = TS.Sqrt(s);
            }
            r = TS.Add(r, TS.Splat(Eps));
            if (HasMomentum)
            {
                TV b = FusedUpdate.FlushSubnormal<T, TV, TS>(TS.Fma(TS.Load(ref _buf, i), TS.Splat(Momentum), TS.Div(g, r)));
                TS.Store(b, ref _buf, i);
                TS.Store(TS.Fma(b, TS.Splat(NegLr), p), ref _p, i);
            }
            else
            {
                TS.Store(TS.Fma(TS.Div(g, r), TS.Splat(NegLr), p), ref _p, i);
            }
        }
    }
}
