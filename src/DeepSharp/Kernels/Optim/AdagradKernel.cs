using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// Adagrad for one parameter in one pass (PyTorch 1.13 <c>_single_tensor_adagrad</c>), at step t:
/// <code>
/// g = ±grad + wd·p        s = s + g²        p = p − lr/(1 + (t − 1)·lr_decay) · g / (√s + eps)
/// </code>
/// </summary>
internal static class AdagradKernel
{
    /// <remarks><paramref name="step"/>: The step count t after incrementing (1 on the first step).</remarks>
    public static void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> sum,
        double step, double lr, double lrDecay, double weightDecay, double eps, bool maximize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        FusedUpdate.CheckLengths("adagrad", n, grad.Length, sum.Length);
        double clr = lr / (1 + (step - 1) * lrDecay);
        var update = new Update<T>(ref MemoryMarshal.GetReference(param), ref MemoryMarshal.GetReference(grad), ref MemoryMarshal.GetReference(sum))
        {
            Maximize = maximize,
            HasDecay = weightDecay != 0,
            WeightDecay = FusedUpdate.Of<T>(weightDecay),
            Eps = FusedUpdate.Of<T>(eps),
            NegClr = FusedUpdate.Of<T>(-clr),
        };
        FusedUpdate.Run<T, Update<T>>(n, update);
    }

    private ref struct Update<T>(ref T p, ref T g, ref T sum) : IFusedUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _p = ref p, _g = ref g, _sum = ref sum;
        public bool Maximize, HasDecay;
        public T WeightDecay, Eps, NegClr;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>
        {
            TV p = TS.Load(ref _p, i), g = TS.Load(ref _g, i);
            if (Maximize) g = TS.Neg(g);
            if (HasDecay) g = TS.Fma(p, TS.Splat(WeightDecay), g);
            TV s = TS.Fma(g, g, TS.Load(ref _sum, i));
            TS.Store(s, ref _sum, i);
            TV std = TS.Add(TS.Sqrt(s), TS.Splat(Eps));
            TS.Store(TS.Fma(TS.Div(g, std), TS.Splat(NegClr), p), ref _p, i);
        }
    }
}
