namespace DeepSharp;

/// <summary>
/// Seeded, counter-based random number generator. Element i of a draw is a pure function of
/// (seed, offset + i), so streams are reproducible run after run, can be filled in parallel,
/// and do not depend on the thread count. The whole state is (Seed, Offset): save it in a
/// checkpoint and training resumes with exactly the same random numbers.
/// </summary>
public sealed class Generator
{
    private long _offset;

    /// <summary>A generator with the given seed and offset 0.</summary>
    public Generator(ulong seed = 0x5DEECE66DUL) => ManualSeed(seed);

    /// <summary>The process-wide generator used when an op is given none.</summary>
    public static Generator Default { get; } = new();

    /// <summary>The seed the stream was started from.</summary>
    public ulong Seed { get; private set; }

    /// <summary>Number of 64-bit values consumed so far.</summary>
    public long Offset => Interlocked.Read(ref _offset);

    /// <summary>Restarts the stream: sets the seed and resets <see cref="Offset"/> to 0 (torch.Generator.manual_seed). Returns this generator.</summary>
    public Generator ManualSeed(ulong seed)
    {
        Seed = seed;
        Interlocked.Exchange(ref _offset, 0);
        return this;
    }

    /// <summary>The whole state, (Seed, Offset); pass it to <see cref="SetState"/> to continue the same stream later.</summary>
    public (ulong Seed, long Offset) GetState() => (Seed, Offset);

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    public void SetState((ulong Seed, long Offset) state)
    {
        Seed = state.Seed;
        Interlocked.Exchange(ref _offset, state.Offset);
    }

    /// <summary>Reserves <paramref name="count"/> counter values and returns the first.</summary>
    internal long Reserve(long count) => Interlocked.Add(ref _offset, count) - count;

    /// <summary>The 64 random bits at a counter position (SplitMix64 finaliser over seed and counter).</summary>
    internal ulong Bits(long counter) => Kernels.CounterRandom.Bits(Seed, counter);

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    internal double UniformDouble(long counter) => Kernels.CounterRandom.Double(Bits(counter));

    /// <summary>Uniform in [0, 1) with 24 random bits (exactly representable as float).</summary>
    internal float UniformSingle(long counter) => Kernels.CounterRandom.Single(Bits(counter));

    internal void FillUniform(Span<float> dst, double low, double high) =>
        Kernels.CounterRandom.FillUniform(Seed, Reserve(dst.Length), dst, (float)low, (float)(high - low));

    internal void FillUniform(Span<double> dst, double low, double high) =>
        Kernels.CounterRandom.FillUniform(Seed, Reserve(dst.Length), dst, low, high - low);

    /// <summary>
    /// An inverted-dropout mask from the draws of a uniform fill: 0 where the draw is below <paramref name="p"/>, else
    /// <paramref name="scale"/> (exactly the mask <c>Rand(...) &lt; p ? 0 : scale</c> would give, without the branch).
    /// </summary>
    internal void FillDropoutMask(Span<float> dst, double p, double scale) =>
        Kernels.CounterRandom.FillDropoutMask(Seed, Reserve(dst.Length), dst, (float)p, (float)scale);

    internal void FillDropoutMask(Span<double> dst, double p, double scale) =>
        Kernels.CounterRandom.FillDropoutMask(Seed, Reserve(dst.Length), dst, p, scale);

    /// <summary>Standard normal samples by the Box-Muller transform, two per pair of uniforms.</summary>
    internal void FillNormal(Span<double> dst, double mean, double std)
    {
        long c = Reserve(dst.Length + (dst.Length & 1));
        for (int i = 0; i < dst.Length; i += 2)
        {
            double u1 = 1.0 - UniformDouble(c + i); // (0, 1]: log is finite
            double u2 = UniformDouble(c + i + 1);
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            var (s, co) = Math.SinCos(2.0 * Math.PI * u2);
            dst[i] = mean + std * r * co;
            if (i + 1 < dst.Length) dst[i + 1] = mean + std * r * s;
        }
    }

    internal void FillNormal(Span<float> dst, double mean, double std)
    {
        const int Chunk = 256;
        Span<double> tmp = stackalloc double[Chunk];
        for (int start = 0; start < dst.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, dst.Length - start);
            var t = tmp[..n];
            FillNormal(t, mean, std);
            for (int i = 0; i < n; i++) dst[start + i] = (float)t[i];
        }
    }

    /// <summary>Integers uniform in [low, high) (Lemire's multiply-shift; bias below 2^-32 for spans under 2^32).</summary>
    internal void FillInt(Span<long> dst, long low, long high)
    {
        if (high <= low) throw new ArgumentException($"randint: empty range [{low}, {high})");
        ulong span = (ulong)(high - low);
        long c = Reserve(dst.Length);
        for (int i = 0; i < dst.Length; i++)
            dst[i] = low + (long)Math.BigMul(Bits(c + i), span, out _);
    }

    /// <summary>A random permutation of 0..n-1 (Fisher-Yates driven by the counter stream).</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        long c = Reserve(n);
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)Math.BigMul(Bits(c + i), (ulong)(i + 1), out _);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    /// <summary>One uniform double in [0, 1).</summary>
    public double NextDouble() => UniformDouble(Reserve(1));
}
