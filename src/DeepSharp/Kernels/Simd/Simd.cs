using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// The arithmetic a kernel needs, at one width: <see cref="Simd512{T}"/>, <see cref="Simd256{T}"/>,
/// <see cref="Simd128{T}"/> (SSE on x64, NEON on ARM64) or <see cref="Simd1{T}"/> (one element: the scalar
/// tail, and the whole loop where SIMD is unavailable). A kernel is written once against this interface,
/// generic over <c>TV</c> (the register type) and <c>S</c> (this struct); <see cref="SimdWidth"/> picks the
/// instantiation the running CPU supports. The JIT specialises each instantiation and inlines every call, so
/// the generic form costs nothing over hand-written intrinsics.
/// </summary>
internal interface ISimd<TV, T> where T : unmanaged
{
    /// <summary>Lanes per register.</summary>
    static abstract int Count { get; }
    static abstract TV Zero { get; }
    static abstract TV Splat(T value);

    static abstract unsafe TV Load(T* source);
    static abstract unsafe void Store(TV value, T* destination);
    static abstract TV Load(ref T source, nuint index);
    static abstract void Store(TV value, ref T destination, nuint index);

    /// <summary>Lanes [0, count) from memory, the others zero; nothing at or past <c>source + count</c> is read.</summary>
    static abstract unsafe TV LoadFirst(T* source, int count);

    /// <summary>Stores lanes [0, count); nothing at or past <c>destination + count</c> is written.</summary>
    static abstract unsafe void StoreFirst(TV value, T* destination, int count);

    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Neg(TV a);
    static abstract TV Abs(TV a);

    /// <summary>
    /// a * b + c, fused (one rounding) where the CPU has FMA (x64 FMA3, every ARM64), a multiply and an add
    /// otherwise. The choice is the same at every width, so a scalar tail computes what a vector lane would.
    /// </summary>
    static abstract TV Fma(TV a, TV b, TV c);
    static abstract TV Sqrt(TV a);

    /// <summary>IEEE maximum/minimum: NaN if either input is NaN (as torch.maximum and clamp).</summary>
    static abstract TV Max(TV a, TV b);
    static abstract TV Min(TV a, TV b);

    /// <summary>All-ones lanes where a &gt; b (false for NaN), zero elsewhere.</summary>
    static abstract TV GreaterThan(TV a, TV b);

    /// <summary>All-ones lanes where a &lt;= b (false for NaN), zero elsewhere.</summary>
    static abstract TV LessThanOrEqual(TV a, TV b);

    /// <summary>Lanes of a where mask is set, of b elsewhere.</summary>
    static abstract TV Select(TV mask, TV a, TV b);

    /// <summary>
    /// Float lanes 0, 2, 4, ... of a followed by b: lane i is lane 2i of the concatenation (a stride-2 gather from two
    /// consecutive loads, as the phase planes of a strided convolution read their input).
    /// </summary>
    static abstract TV Evens(TV a, TV b);

    /// <summary>
    /// The lanes of a and b interleaved, a0 b0 a1 b1 ...: the lower halves' (<see cref="ZipLow"/>) or the upper halves'
    /// (<see cref="ZipHigh"/>); float lanes. Store ZipLow at p and ZipHigh at p + Count to write both vectors interleaved.
    /// </summary>
    static abstract TV ZipLow(TV a, TV b);
    static abstract TV ZipHigh(TV a, TV b);

    /// <summary>The sum of the lanes.</summary>
    static abstract T Sum(TV a);

    /// <summary>
    /// 2^n for lanes holding whole numbers n in the normal exponent range (float [-126, 127], double
    /// [-1022, 1023]), built from the exponent bits: the scaling step of exp.
    /// </summary>
    static abstract TV Pow2(TV n);
}

/// <summary>
/// Whether FMA is fused on this CPU: one answer for every width. The vector <c>Fma</c>s spell the test out instead of
/// calling this: the JIT folds a property only after inlining it, so both branches of their body were imported and an
/// argument used in both (a broadcast load) was spilled to a register instead of becoming the FMA's memory operand.
/// </summary>
internal static class FmaSupport
{
    public static bool IsFused
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Fma.IsSupported || AdvSimd.IsSupported;
    }
}

internal readonly unsafe struct Simd512<T> : ISimd<Vector512<T>, T> where T : unmanaged, INumber<T>
{
    public static int Count => Vector512<T>.Count;
    public static Vector512<T> Zero => Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Splat(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(T* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, T* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T source, nuint index) => Vector512.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

    /// <summary>Lanes l with l &lt; count set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> FirstLanes(int count) =>
        Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(count)));

    /// <summary>Lanes l with from &lt;= l &lt; to set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LaneRange(int from, int to) =>
        Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(from))) & FirstLanes(to);

    /// <summary>The lanes in mask from memory (others zero); memory outside them is never touched (AVX-512 masking).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadMasked(T* source, Vector512<T> mask)
    {
        if (typeof(T) == typeof(float))
            return Avx512F.MaskLoad((float*)source, mask.AsSingle(), Vector512<float>.Zero).As<float, T>();
        if (typeof(T) == typeof(double))
            return Avx512F.MaskLoad((double*)source, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();
        if (typeof(T) == typeof(int))
            return Avx512F.MaskLoad((int*)source, mask.AsInt32(), Vector512<int>.Zero).As<int, T>();
        if (typeof(T) == typeof(long))
            return Avx512F.MaskLoad((long*)source, mask.AsInt64(), Vector512<long>.Zero).As<long, T>();
        return SimdLanes.Gather<Vector512<T>, T>(source, mask, Count);
    }

    /// <summary>Stores the lanes in mask; memory outside them is never touched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreMasked(Vector512<T> value, T* destination, Vector512<T> mask)
    {
        if (typeof(T) == typeof(float))
            Avx512F.MaskStore((float*)destination, mask.AsSingle(), value.AsSingle());
        else if (typeof(T) == typeof(double))
            Avx512F.MaskStore((double*)destination, mask.AsDouble(), value.AsDouble());
        else if (typeof(T) == typeof(int))
            Avx512F.MaskStore((int*)destination, mask.AsInt32(), value.AsInt32());
        else if (typeof(T) == typeof(long))
            Avx512F.MaskStore((long*)destination, mask.AsInt64(), value.AsInt64());
        else
            SimdLanes.Scatter(value, destination, mask, Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadFirst(T* source, int count) => LoadMasked(source, FirstLanes(count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector512<T> value, T* destination, int count) => StoreMasked(value, destination, FirstLanes(count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sub(Vector512<T> a, Vector512<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Mul(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Div(Vector512<T> a, Vector512<T> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Neg(Vector512<T> a) => -a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Abs(Vector512<T> a) => Vector512.Abs(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        // The JIT drops the untaken branches: FusedMultiplyAdd exists only for float and double.
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || AdvSimd.IsSupported) // FmaSupport.IsFused, spelled out (see there)
        {
            if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sqrt(Vector512<T> a) => Vector512.Sqrt(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Min(Vector512<T> a, Vector512<T> b) => Vector512.Min(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> GreaterThan(Vector512<T> a, Vector512<T> b) => Vector512.GreaterThan(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LessThanOrEqual(Vector512<T> a, Vector512<T> b) => Vector512.LessThanOrEqual(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Select(Vector512<T> mask, Vector512<T> a, Vector512<T> b) => Vector512.ConditionalSelect(mask, a, b);

    public static Vector512<T> Evens(Vector512<T> a, Vector512<T> b) =>
        typeof(T) == typeof(float) ? Vector512.Narrow(a.AsUInt64(), b.AsUInt64()).As<uint, T>() : throw new NotSupportedException("Evens: float lanes only");

    // Each 64-bit lane of the result is a float of a in its low half and the float of b beside it in its high half.
    public static Vector512<T> ZipLow(Vector512<T> a, Vector512<T> b) =>
        typeof(T) == typeof(float) ? (Vector512.WidenLower(a.AsUInt32()) | Vector512.ShiftLeft(Vector512.WidenLower(b.AsUInt32()), 32)).As<ulong, T>()
            : throw new NotSupportedException("ZipLow: float lanes only");

    public static Vector512<T> ZipHigh(Vector512<T> a, Vector512<T> b) =>
        typeof(T) == typeof(float) ? (Vector512.WidenUpper(a.AsUInt32()) | Vector512.ShiftLeft(Vector512.WidenUpper(b.AsUInt32()), 32)).As<ulong, T>()
            : throw new NotSupportedException("ZipHigh: float lanes only");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> a) => Vector512.Sum(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Pow2(Vector512<T> n)
    {
        if (typeof(T) == typeof(float))
            return Vector512.ShiftLeft(Vector512.ConvertToInt32(n.AsSingle()) + Vector512.Create(127), 23).As<int, T>();
        if (typeof(T) == typeof(double))
            return Vector512.ShiftLeft(Vector512.ConvertToInt64(n.AsDouble()) + Vector512.Create(1023L), 52).As<long, T>();
        throw new NotSupportedException("Pow2 is defined for float and double");
    }
}

internal readonly unsafe struct Simd256<T> : ISimd<Vector256<T>, T> where T : unmanaged, INumber<T>
{
    public static int Count => Vector256<T>.Count;
    public static Vector256<T> Zero => Vector256<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Splat(T value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(T* source) => Vector256.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> value, T* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T source, nuint index) => Vector256.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> FirstLanes(int count) =>
        Vector256.LessThan(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(count)));

    // AVX's vmaskmov reads and writes only the selected lanes (no fault on the others); other element types
    // and CPUs go lane by lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LoadFirst(T* source, int count)
    {
        if (Avx.IsSupported && typeof(T) == typeof(float))
            return Avx.MaskLoad((float*)source, FirstLanes(count).AsSingle()).As<float, T>();
        if (Avx.IsSupported && typeof(T) == typeof(double))
            return Avx.MaskLoad((double*)source, FirstLanes(count).AsDouble()).As<double, T>();
        return SimdLanes.LoadFirst<Vector256<T>, T>(source, count, Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector256<T> value, T* destination, int count)
    {
        if (Avx.IsSupported && typeof(T) == typeof(float))
            Avx.MaskStore((float*)destination, FirstLanes(count).AsSingle(), value.AsSingle());
        else if (Avx.IsSupported && typeof(T) == typeof(double))
            Avx.MaskStore((double*)destination, FirstLanes(count).AsDouble(), value.AsDouble());
        else
            SimdLanes.StoreFirst(value, destination, count, Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sub(Vector256<T> a, Vector256<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Mul(Vector256<T> a, Vector256<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Div(Vector256<T> a, Vector256<T> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Neg(Vector256<T> a) => -a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Abs(Vector256<T> a) => Vector256.Abs(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || AdvSimd.IsSupported) // see Simd512.Fma
        {
            if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sqrt(Vector256<T> a) => Vector256.Sqrt(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Min(Vector256<T> a, Vector256<T> b) => Vector256.Min(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> GreaterThan(Vector256<T> a, Vector256<T> b) => Vector256.GreaterThan(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LessThanOrEqual(Vector256<T> a, Vector256<T> b) => Vector256.LessThanOrEqual(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Select(Vector256<T> mask, Vector256<T> a, Vector256<T> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<T> Evens(Vector256<T> a, Vector256<T> b) =>
        typeof(T) == typeof(float) ? Vector256.Narrow(a.AsUInt64(), b.AsUInt64()).As<uint, T>() : throw new NotSupportedException("Evens: float lanes only");

    // Each 64-bit lane of the result is a float of a in its low half and the float of b beside it in its high half.
    public static Vector256<T> ZipLow(Vector256<T> a, Vector256<T> b) =>
        typeof(T) == typeof(float) ? (Vector256.WidenLower(a.AsUInt32()) | Vector256.ShiftLeft(Vector256.WidenLower(b.AsUInt32()), 32)).As<ulong, T>()
            : throw new NotSupportedException("ZipLow: float lanes only");

    public static Vector256<T> ZipHigh(Vector256<T> a, Vector256<T> b) =>
        typeof(T) == typeof(float) ? (Vector256.WidenUpper(a.AsUInt32()) | Vector256.ShiftLeft(Vector256.WidenUpper(b.AsUInt32()), 32)).As<ulong, T>()
            : throw new NotSupportedException("ZipHigh: float lanes only");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> a) => Vector256.Sum(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Pow2(Vector256<T> n)
    {
        if (typeof(T) == typeof(float))
            return Vector256.ShiftLeft(Vector256.ConvertToInt32(n.AsSingle()) + Vector256.Create(127), 23).As<int, T>();
        if (typeof(T) == typeof(double))
            return Vector256.ShiftLeft(Vector256.ConvertToInt64(n.AsDouble()) + Vector256.Create(1023L), 52).As<long, T>();
        throw new NotSupportedException("Pow2 is defined for float and double");
    }
}

/// <summary>128-bit registers: SSE on x64 without AVX2, and NEON (AdvSimd) on every ARM64 CPU.</summary>
internal readonly unsafe struct Simd128<T> : ISimd<Vector128<T>, T> where T : unmanaged, INumber<T>
{
    public static int Count => Vector128<T>.Count;
    public static Vector128<T> Zero => Vector128<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Splat(T value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(T* source) => Vector128.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> value, T* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Load(ref T source, nuint index) => Vector128.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> FirstLanes(int count) =>
        Vector128.LessThan(Vector128<T>.Indices, Vector128.Create(T.CreateTruncating(count)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LoadFirst(T* source, int count)
    {
        if (Avx.IsSupported && typeof(T) == typeof(float))
            return Avx.MaskLoad((float*)source, FirstLanes(count).AsSingle()).As<float, T>();
        if (Avx.IsSupported && typeof(T) == typeof(double))
            return Avx.MaskLoad((double*)source, FirstLanes(count).AsDouble()).As<double, T>();
        return SimdLanes.LoadFirst<Vector128<T>, T>(source, count, Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector128<T> value, T* destination, int count)
    {
        if (Avx.IsSupported && typeof(T) == typeof(float))
            Avx.MaskStore((float*)destination, FirstLanes(count).AsSingle(), value.AsSingle());
        else if (Avx.IsSupported && typeof(T) == typeof(double))
            Avx.MaskStore((double*)destination, FirstLanes(count).AsDouble(), value.AsDouble());
        else
            SimdLanes.StoreFirst(value, destination, count, Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Add(Vector128<T> a, Vector128<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Sub(Vector128<T> a, Vector128<T> b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Mul(Vector128<T> a, Vector128<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Div(Vector128<T> a, Vector128<T> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Neg(Vector128<T> a) => -a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Abs(Vector128<T> a) => Vector128.Abs(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Fma(Vector128<T> a, Vector128<T> b, Vector128<T> c)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || AdvSimd.IsSupported) // see Simd512.Fma
        {
            if (typeof(T) == typeof(float)) return Vector128.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        }
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Sqrt(Vector128<T> a) => Vector128.Sqrt(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Max(Vector128<T> a, Vector128<T> b) => Vector128.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Min(Vector128<T> a, Vector128<T> b) => Vector128.Min(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> GreaterThan(Vector128<T> a, Vector128<T> b) => Vector128.GreaterThan(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LessThanOrEqual(Vector128<T> a, Vector128<T> b) => Vector128.LessThanOrEqual(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Select(Vector128<T> mask, Vector128<T> a, Vector128<T> b) => Vector128.ConditionalSelect(mask, a, b);

    public static Vector128<T> Evens(Vector128<T> a, Vector128<T> b) =>
        typeof(T) == typeof(float) ? Vector128.Narrow(a.AsUInt64(), b.AsUInt64()).As<uint, T>() : throw new NotSupportedException("Evens: float lanes only");

    // Each 64-bit lane of the result is a float of a in its low half and the float of b beside it in its high half.
    public static Vector128<T> ZipLow(Vector128<T> a, Vector128<T> b) =>
        typeof(T) == typeof(float) ? (Vector128.WidenLower(a.AsUInt32()) | Vector128.ShiftLeft(Vector128.WidenLower(b.AsUInt32()), 32)).As<ulong, T>()
            : throw new NotSupportedException("ZipLow: float lanes only");

    public static Vector128<T> ZipHigh(Vector128<T> a, Vector128<T> b) =>
        typeof(T) == typeof(float) ? (Vector128.WidenUpper(a.AsUInt32()) | Vector128.ShiftLeft(Vector128.WidenUpper(b.AsUInt32()), 32)).As<ulong, T>()
            : throw new NotSupportedException("ZipHigh: float lanes only");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector128<T> a) => Vector128.Sum(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Pow2(Vector128<T> n)
    {
        if (typeof(T) == typeof(float))
            return Vector128.ShiftLeft(Vector128.ConvertToInt32(n.AsSingle()) + Vector128.Create(127), 23).As<int, T>();
        if (typeof(T) == typeof(double))
            return Vector128.ShiftLeft(Vector128.ConvertToInt64(n.AsDouble()) + Vector128.Create(1023L), 52).As<long, T>();
        throw new NotSupportedException("Pow2 is defined for float and double");
    }
}

/// <summary>One element: the scalar tail, and the whole loop where SIMD is unavailable.</summary>
internal readonly unsafe struct Simd1<T> : ISimd<T, T> where T : unmanaged, INumber<T>
{
    public static int Count => 1;
    public static T Zero => T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Splat(T value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(T* source) => *source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T value, T* destination) => *destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(ref T source, nuint index) => Unsafe.Add(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T value, ref T destination, nuint index) => Unsafe.Add(ref destination, index) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T LoadFirst(T* source, int count) => count > 0 ? *source : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(T value, T* destination, int count)
    {
        if (count > 0) *destination = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T a, T b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sub(T a, T b) => a - b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Mul(T a, T b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Div(T a, T b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Neg(T a) => -a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Abs(T a) => T.Abs(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Fma(T a, T b, T c)
    {
        if (FmaSupport.IsFused)
        {
            if (typeof(T) == typeof(float)) return Unsafe.BitCast<float, T>(MathF.FusedMultiplyAdd(Unsafe.BitCast<T, float>(a), Unsafe.BitCast<T, float>(b), Unsafe.BitCast<T, float>(c)));
            if (typeof(T) == typeof(double)) return Unsafe.BitCast<double, T>(Math.FusedMultiplyAdd(Unsafe.BitCast<T, double>(a), Unsafe.BitCast<T, double>(b), Unsafe.BitCast<T, double>(c)));
        }
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sqrt(T a)
    {
        if (typeof(T) == typeof(float)) return Unsafe.BitCast<float, T>(MathF.Sqrt(Unsafe.BitCast<T, float>(a)));
        if (typeof(T) == typeof(double)) return Unsafe.BitCast<double, T>(Math.Sqrt(Unsafe.BitCast<T, double>(a)));
        return T.CreateTruncating(Math.Sqrt(double.CreateTruncating(a)));
    }

    // NaN-propagating, as the vector Max/Min (IEEE maximum/minimum).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(T a, T b) => T.IsNaN(a) ? a : T.IsNaN(b) ? b : T.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Min(T a, T b) => T.IsNaN(a) ? a : T.IsNaN(b) ? b : T.Min(a, b);

    // The scalar "mask" is 1 (set) or 0; Select tests it against zero.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T GreaterThan(T a, T b) => a > b ? T.One : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T LessThanOrEqual(T a, T b) => a <= b ? T.One : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Select(T mask, T a, T b) => mask != T.Zero ? a : b;

    public static T Evens(T a, T b) => a;

    public static T ZipLow(T a, T b) => a;

    public static T ZipHigh(T a, T b) => b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(T a) => a;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Pow2(T n)
    {
        if (typeof(T) == typeof(float))
            return Unsafe.BitCast<int, T>(((int)Unsafe.BitCast<T, float>(n) + 127) << 23);
        if (typeof(T) == typeof(double))
            return Unsafe.BitCast<long, T>(((long)Unsafe.BitCast<T, double>(n) + 1023) << 52);
        throw new NotSupportedException("Pow2 is defined for float and double");
    }
}

/// <summary>Lane-by-lane partial loads and stores, for CPUs and element types without masked moves.</summary>
internal static unsafe class SimdLanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV LoadFirst<TV, T>(T* source, int count, int lanes) where TV : unmanaged where T : unmanaged
    {
        TV v = default;
        T* p = (T*)&v;
        for (int i = 0, n = Math.Min(count, lanes); i < n; i++)
            p[i] = source[i];
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst<TV, T>(TV value, T* destination, int count, int lanes) where TV : unmanaged where T : unmanaged
    {
        T* p = (T*)&value;
        for (int i = 0, n = Math.Min(count, lanes); i < n; i++)
            destination[i] = p[i];
    }

    public static TV Gather<TV, T>(T* source, TV mask, int lanes) where TV : unmanaged where T : unmanaged
    {
        TV v = default;
        T* p = (T*)&v;
        byte* m = (byte*)&mask;
        int size = sizeof(T);
        for (int i = 0; i < lanes; i++)
            if (m[i * size] != 0)
                p[i] = source[i];
        return v;
    }

    public static void Scatter<TV, T>(TV value, T* destination, TV mask, int lanes) where TV : unmanaged where T : unmanaged
    {
        T* p = (T*)&value;
        byte* m = (byte*)&mask;
        int size = sizeof(T);
        for (int i = 0; i < lanes; i++)
            if (m[i * size] != 0)
                destination[i] = p[i];
    }
}
