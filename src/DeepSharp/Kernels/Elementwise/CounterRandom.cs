using System.Numerics;
using System.Runtime.CompilerServices;

namespace DeepSharp.Kernels;

/// <summary>
/// The library's counter-based random numbers (SplitMix64 finaliser over seed and counter): any element of a stream
/// can be computed on its own, in any order, on any thread. <c>Generator</c> draws through it. The span fills compute
/// <see cref="Vector{T}.Count"/> counters at once with the same integer arithmetic as <see cref="Bits"/>, so every
/// instruction set gives bit-identical streams.
/// </summary>
internal static class CounterRandom
{
    private const ulong SeedMix = 0xD1B54A32D192ED03UL, Golden = 0x9E3779B97F4A7C15UL;
    private const ulong Mix1 = 0xBF58476D1CE4E5B9UL, Mix2 = 0x94D049BB133111EBUL;
    private const float SingleUnit = 1.0f / (1 << 24);
    private const double DoubleUnit = 1.0 / (1UL << 53);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bits(ulong seed, long counter)
    {
        ulong z = seed * SeedMix + (ulong)counter * Golden + Golden;
        z = (z ^ (z >> 30)) * Mix1;
        z = (z ^ (z >> 27)) * Mix2;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (exactly representable as float).</summary>
    public static float Single(ulong bits) => (bits >> 40) * SingleUnit;

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public static double Double(ulong bits) => (bits >> 11) * DoubleUnit;

    /// <summary>dst[i] = low + span * Single(Bits(seed, counter + i)).</summary>
    public static void FillUniform(ulong seed, long counter, Span<float> dst, float low, float span) =>
        Fill(seed, counter, dst, new UniformSingle(low, span));

    /// <summary>dst[i] = low + span * Double(Bits(seed, counter + i)).</summary>
    public static void FillUniform(ulong seed, long counter, Span<double> dst, double low, double span) =>
        Fill(seed, counter, dst, new UniformDouble(low, span));

    /// <summary>
    /// An inverted-dropout mask: dst[i] = 0 where the uniform draw u_i = Single(Bits(seed, counter + i)) is below
    /// <paramref name="p"/>, else <paramref name="scale"/> (the same draws as <see cref="FillUniform(ulong, long, Span{float}, float, float)"/>
    /// over [0, 1), compared without a branch: a random branch mispredicts a quarter of the time at p = 0.25).
    /// </summary>
    public static void FillDropoutMask(ulong seed, long counter, Span<float> dst, float p, float scale) =>
        Fill(seed, counter, dst, new MaskSingle(p, scale));

    /// <summary>The float64 mask of <see cref="FillDropoutMask(ulong, long, Span{float}, float, float)"/>, from 53-bit draws.</summary>
    public static void FillDropoutMask(ulong seed, long counter, Span<double> dst, double p, double scale) =>
        Fill(seed, counter, dst, new MaskDouble(p, scale));

    /// <summary>How a stream of draws becomes elements: one scalar form and one vector form of the same formula.</summary>
    private interface IDraw<T> where T : unmanaged
    {
        T Scalar(ulong bits);

        /// <summary>Elements from 2 <see cref="Vector{T}"/>s of bits (float32, 2 x ulong lanes per float vector) or 1 (float64).</summary>
        Vector<T> Vector(Vector<ulong> lo, Vector<ulong> hi);
    }

    // About a nanosecond per element on one core: from 64k elements a second thread pays for its wake-up.
    private const int ParallelMinElements = 1 << 16;

    /// <summary>Fills dst; long spans are split over the worker pool (each element depends only on its counter, so the split changes nothing).</summary>
    private static unsafe void Fill<T, TDraw>(ulong seed, long counter, Span<T> dst, TDraw draw) where T : unmanaged where TDraw : IDraw<T>
    {
        int parts = WorkerPool.Parts(dst.Length, ParallelMinElements);
        if (parts <= 1)
        {
            FillRange(seed, counter, dst, draw);
            return;
        }
        fixed (T* p = dst)
            WorkerPool.For(parts, new FillTask<T, TDraw>(seed, counter, p, dst.Length, parts, draw));
    }

    private sealed unsafe class FillTask<T, TDraw>(ulong seed, long counter, T* dst, int n, int parts, TDraw draw) : IParallelTask
        where T : unmanaged where TDraw : IDraw<T>
    {
        public void Run(int index)
        {
            var (start, end) = WorkerPool.Range(index, parts, n, 64);
            FillRange(seed, counter + start, new Span<T>(dst + start, end - start), draw);
        }
    }

    private static void FillRange<T, TDraw>(ulong seed, long counter, Span<T> dst, TDraw draw) where T : unmanaged where TDraw : IDraw<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<T>.Count)
        {
            // Lane l of the first vector holds counter + l; every step advances all lanes by the vector's element count.
            int words = Vector<ulong>.Count, perVector = Vector<T>.Count;
            Span<ulong> lanes = stackalloc ulong[words];
            for (int l = 0; l < words; l++) lanes[l] = seed * SeedMix + (ulong)(counter + l) * Golden + Golden;
            var z = new Vector<ulong>(lanes);
            var step = new Vector<ulong>((ulong)words * Golden);
            var stepElements = new Vector<ulong>((ulong)perVector * Golden);
            for (; i + perVector <= dst.Length; i += perVector)
            {
                var lo = Mixed(z);
                var hi = perVector == words ? lo : Mixed(z + step);
                draw.Vector(lo, hi).CopyTo(dst[i..]);
                z += stepElements;
            }
        }
        for (; i < dst.Length; i++) dst[i] = draw.Scalar(Bits(seed, counter + i));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<ulong> Mixed(Vector<ulong> z)
    {
        z = (z ^ Vector.ShiftRightLogical(z, 30)) * new Vector<ulong>(Mix1);
        z = (z ^ Vector.ShiftRightLogical(z, 27)) * new Vector<ulong>(Mix2);
        return z ^ Vector.ShiftRightLogical(z, 31);
    }

    /// <summary>The top 24 bits of each word as exact floats in [0, 1), lo's lanes first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Singles(Vector<ulong> lo, Vector<ulong> hi) =>
        Vector.ConvertToSingle(Vector.AsVectorInt32(Vector.Narrow(Vector.ShiftRightLogical(lo, 40), Vector.ShiftRightLogical(hi, 40)))) *
        new Vector<float>(SingleUnit);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Doubles(Vector<ulong> bits) =>
        Vector.ConvertToDouble(Vector.AsVectorInt64(Vector.ShiftRightLogical(bits, 11))) * new Vector<double>(DoubleUnit);

    private readonly struct UniformSingle(float low, float span) : IDraw<float>
    {
        public float Scalar(ulong bits) => low + span * Single(bits);
        public Vector<float> Vector(Vector<ulong> lo, Vector<ulong> hi) => new Vector<float>(low) + new Vector<float>(span) * Singles(lo, hi);
    }

    private readonly struct UniformDouble(double low, double span) : IDraw<double>
    {
        public double Scalar(ulong bits) => low + span * Double(bits);
        public Vector<double> Vector(Vector<ulong> lo, Vector<ulong> hi) => new Vector<double>(low) + new Vector<double>(span) * Doubles(lo);
    }

    private readonly struct MaskSingle(float p, float scale) : IDraw<float>
    {
        public float Scalar(ulong bits) => Single(bits) < p ? 0f : scale;
        public Vector<float> Vector(Vector<ulong> lo, Vector<ulong> hi) =>
            System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.LessThan(Singles(lo, hi), new Vector<float>(p)), Vector<float>.Zero, new Vector<float>(scale));
    }

    private readonly struct MaskDouble(double p, double scale) : IDraw<double>
    {
        public double Scalar(ulong bits) => Double(bits) < p ? 0 : scale;
        public Vector<double> Vector(Vector<ulong> lo, Vector<ulong> hi) =>
            System.Numerics.Vector.ConditionalSelect(System.Numerics.Vector.LessThan(Doubles(lo), new Vector<double>(p)), Vector<double>.Zero, new Vector<double>(scale));
    }
}
