using System.Numerics;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// An element-wise optimizer update over a parameter, its gradient and its state buffers, written
/// once against <see cref="ISimd{TV, T}"/>. Implementations are ref structs holding refs to the
/// arrays, so that one pass reads and writes each array once.
/// </summary>
internal interface IFusedUpdate<T> where T : unmanaged
{
    /// <summary>Updates the elements [i, i + TS.Count).</summary>
    void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>;
}

internal static class FusedUpdate
{
    /// <summary>Runs <paramref name="update"/> over [0, length) at the calling thread's vector width, then one at a time.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Run<T, TUpdate>(int length, TUpdate update)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TUpdate : IFusedUpdate<T>, allows ref struct
    {
        nuint n = (nuint)length;
        nuint i = SimdWidth.Current switch
        {
            512 => Vectors<T, TUpdate, Vector512<T>, Simd512<T>>(n, update),
            256 => Vectors<T, TUpdate, Vector256<T>, Simd256<T>>(n, update),
            128 => Vectors<T, TUpdate, Vector128<T>, Simd128<T>>(n, update),
            _ => 0,
        };
        for (; i < n; i++) update.Apply<T, Simd1<T>>(i);
    }

    // Whole vectors from the start; returns where the scalar tail begins. Fully optimised from the first call:
    // a tier-0 loop calls Apply per vector.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static nuint Vectors<T, TUpdate, TV, S>(nuint n, TUpdate update)
        where T : unmanaged where TUpdate : IFusedUpdate<T>, allows ref struct where S : ISimd<TV, T>
    {
        nuint i = 0, w = (nuint)S.Count;
        for (; i + w <= n; i += w)
            update.Apply<TV, S>(i);
        return i;
    }

    /// <summary>Throws unless every state span has the parameter's length (empty spans are skipped by the caller).</summary>
    internal static void CheckLengths(string kernel, int length, int grad, params ReadOnlySpan<int> states)
    {
        if (grad != length) throw new ArgumentException($"{kernel}: gradient has {grad} elements, the parameter {length}");
        foreach (int s in states)
            if (s != length) throw new ArgumentException($"{kernel}: a state buffer has {s} elements, the parameter {length}");
    }

    /// <summary>
    /// x with subnormal lanes replaced by zero (flush to zero). Optimizer state decays geometrically where a
    /// gradient is zero (SGD momentum, Adam's moments): it passes through the subnormal range, where every
    /// multiply costs a microcode assist (about 100x on Intel cores). Storing such state as zero, as a CPU in
    /// flush-to-zero mode would, changes nothing above 1e-38 (float) and keeps the update at memory speed.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static TV FlushSubnormal<T, TV, TS>(TV x) where T : unmanaged, IFloatingPointIeee754<T> where TS : ISimd<TV, T> =>
        TS.Select(TS.GreaterThan(TS.Splat(SmallestNormal<T>()), TS.Abs(x)), TS.Zero, x);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static T SmallestNormal<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? T.CreateTruncating(1.17549435E-38f) : T.CreateTruncating(2.2250738585072014E-308);

    /// <summary>A double hyper-parameter in the element type (how PyTorch passes Python floats to a float32 kernel).</summary>
    internal static T Of<T>(double value) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(value);
}
