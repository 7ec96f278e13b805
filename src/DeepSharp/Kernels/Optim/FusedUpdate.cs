using System.Numerics;
using System.Runtime.Intrinsics;

namespace DeepSharp.Kernels.Optim;

/// <summary>
/// An element-wise optimizer update over a parameter, its gradient and its state buffers, written
/// once against <see cref="ISimd{TV, T}"/>. Implementations are ref structs holding refs to the
/// arrays, so that one pass reads and writes each array once.
/// </summary>
public interface IFusedUpdate<T> where T : unmanaged
{
    /// <summary>Updates the elements [i, i + TS.Count).</summary>
    void Apply<TV, TS>(nuint i) where TS : ISimd<TV, T>;
}

public static class FusedUpdate
{
    /// <summary>Runs <paramref name="update"/> over [0, length): Vector512, then Vector256, then one at a time.</summary>
    public static void Run<T, TUpdate>(int length, TUpdate update)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TUpdate : IFusedUpdate<T>, allows ref struct
    {
        nuint n = (nuint)length, i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i + (nuint)Vector512<T>.Count <= n; i += (nuint)Vector512<T>.Count)
                update.Apply<Vector512<T>, Simd512<T>>(i);
        }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            for (; i + (nuint)Vector256<T>.Count <= n; i += (nuint)Vector256<T>.Count)
                update.Apply<Vector256<T>, Simd256<T>>(i);
        }
        for (; i < n; i++) update.Apply<T, Simd1<T>>(i);
    }

    /// <summary>Throws unless every state span has the parameter's length (empty spans are skipped by the caller).</summary>
    internal static void CheckLengths(string kernel, int length, int grad, params ReadOnlySpan<int> states)
    {
        if (grad != length) throw new ArgumentException($"{kernel}: gradient has {grad} elements, the parameter {length}");
        foreach (int s in states)
            if (s != length) throw new ArgumentException($"{kernel}: a state buffer has {s} elements, the parameter {length}");
    }

    /// <summary>A double hyper-parameter in the element type (how PyTorch passes Python floats to a float32 kernel).</summary>
    internal static T Of<T>(double value) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(value);
}
