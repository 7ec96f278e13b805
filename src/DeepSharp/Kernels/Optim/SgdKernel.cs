using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// SGD for one parameter in one pass (PyTorch 1.13 <c>_single_tensor_sgd</c>):
/// <code>
/// d = ±grad + wd·p
/// b = d on the first step, else momentum·b + (1 − dampening)·d      (when momentum ≠ 0)
/// d = d + momentum·b if nesterov, else b
/// p = p − lr·d
/// </code>
/// </summary>
internal static class SgdKernel
{
    /// <remarks><paramref name="momentumBuffer"/>: Used only when <paramref name="momentum"/> ≠ 0; may be empty otherwise. <paramref name="firstStep"/>: The buffer does not exist yet: it starts as a copy of d (PyTorch clones it).</remarks>
    public static void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> momentumBuffer,
        double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool maximize, bool firstStep)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        bool hasMomentum = momentum != 0;
        FusedUpdate.CheckLengths("sgd", n, grad.Length, hasMomentum ? momentumBuffer.Length : n);
        var update = new Update<T>(ref MemoryMarshal.GetReference(param), ref MemoryMarshal.GetReference(grad), ref MemoryMarshal.GetReference(momentumBuffer))
        {
            Maximize = maximize,
            HasDecay = weightDecay != 0,
            HasMomentum = hasMomentum,
            FirstStep = firstStep,
            Nesterov = nesterov,
            WeightDecay = FusedUpdate.Of<T>(weightDecay),
            Momentum = FusedUpdate.Of<T>(momentum),
            OneMinusDampening = FusedUpdate.Of<T>(1 - dampening),
            NegLr = FusedUpdate.Of<T>(-lr),
        };
        FusedUpdate.Run<T, Update<T>>(n, update);
    }

    private ref struct Update<T>(ref T p, ref T g, ref T buf) : IFusedUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _p = ref p, _g = ref g, _buf = ref buf;
        public bool Maximize, HasDecay, HasMomentum, FirstStep, Nesterov;
        public T WeightDecay, Momentum, OneMinusDampening, NegLr;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>
        {
            TV p = TS.Load(ref _p, i), d = TS.Load(ref _g, i);
            if (Maximize) d = TS.Neg(d);
            if (HasDecay) d = TS.Fma(p, TS.Splat(WeightDecay), d);
            if (HasMomentum)
            {
                TV b = FusedUpdate.FlushSubnormal<T, TV, TS>(FirstStep ? d : TS.Fma(d, TS.Splat(OneMinusDampening), TS.Mul(TS.Load(ref _buf, i), TS.Splat(Momentum))));
                TS.Store(b, ref _buf, i);
                d = Nesterov ? TS.Fma(b, TS.Splat(Momentum), d) : b;
            }
            TS.Store(TS.Fma(d, TS.Splat(NegLr), p), ref _p, i);
        }
    }
}
