namespace DeepSharp.Kernels;

/// <summary>
/// Cache blocking of the packed GEMM, derived from the running CPU's cache sizes (<see cref="CpuInfo"/>) in
/// the manner of BLIS's analytical model: the KC x NR micro-panel of B stays in L1 while a whole MC-row block
/// of A streams past it, the MC x KC block of A stays in L2, and the KC x NC panel of B in this core's share of
/// L3.
/// </summary>
internal static class GemmBlocking
{
    public static long L2Bytes => CpuInfo.L2Bytes;

    /// <summary>KC, MC and NC in elements for a kernel of MR x NR tiles.</summary>
    public static (int Kc, int Mc, int Nc) For(int mr, int nr, int elementSize)
    {
        // A kernel on 512-bit vectors that the cores execute in halves consumes its B panel at half the rate.
        bool halfRate = CpuInfo.HalvesWideVectors && nr * elementSize == 2 * 64;
        var (kc, mc, nc) = For(mr, nr, elementSize, CpuInfo.L1DataBytes, CpuInfo.L2Bytes, CpuInfo.L3BytesPerCore, halfRate);
        // DEEPSHARP_GEMM_BLOCKING=KC,MC,NC overrides the model, for measuring it on a new CPU.
        string[] custom = (Environment.GetEnvironmentVariable("DEEPSHARP_GEMM_BLOCKING") ?? "").Split(',');
        if (custom.Length == 3 && int.TryParse(custom[0], out int k) && int.TryParse(custom[1], out int m) && int.TryParse(custom[2], out int n) && k > 0 && m > 0 && n > 0)
            (kc, mc, nc) = (k, (m + mr - 1) / mr * mr, (n + nr - 1) / nr * nr);
        return (kc, mc, nc);
    }

    internal static (int Kc, int Mc, int Nc) For(int mr, int nr, int elementSize, long l1, long l2, long l3PerCore, bool halfRate = false)
    {
        // The KC x NR micro-panel of B takes half of L1, leaving the other half to the A micro-panel streaming
        // past it and to C (measured on an Intel Xeon with a 48 KiB L1: KC 192 gives 142 GFLOPS at n=1024, KC
        // 384, which fills L1 with B alone, 132).
        int kc = (int)Math.Clamp(l1 / 2 / ((long)nr * elementSize) / 16 * 16, 64, 512);
        // A kernel that takes two cycles per vector FMA reads B slowly enough for L2 to feed it, so B need not
        // stay in L1 and KC goes as deep as an A block of eight tiles in a quarter of L2 allows: fewer passes
        // over C. (Zen 4, 32 KiB L1: KC 128 gives 93-100 GFLOPS at n=1024 and 2048 on one core, KC 512 99-108.)
        if (halfRate)
            kc = (int)Math.Clamp(l2 / 4 / (8L * mr * elementSize) / 16 * 16, kc, 512);
        // The MC x KC block of A in a quarter of L2; larger blocks measured no faster.
        int mc = (int)Math.Clamp(l2 / 4 / ((long)kc * elementSize) / mr * mr, mr, 40L * mr);
        // The KC x NC panel of B in half of this core's share of L3.
        int nc = (int)Math.Clamp(l3PerCore / 2 / ((long)kc * elementSize) / nr * nr, 16L * nr, 128L * nr);
        return (kc, mc, nc);
    }
}
