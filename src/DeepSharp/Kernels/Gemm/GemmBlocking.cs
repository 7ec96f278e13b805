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
    public static (int Kc, int Mc, int Nc) For(int mr, int nr, int elementSize) =>
        For(mr, nr, elementSize, CpuInfo.L1DataBytes, CpuInfo.L2Bytes, CpuInfo.L3BytesPerCore);

    internal static (int Kc, int Mc, int Nc) For(int mr, int nr, int elementSize, long l1, long l2, long l3PerCore)
    {
        // A deep KC amortises loading and storing the C tile over more FMAs; bounded so a panel pair stays cached.
        int kc = (int)Math.Clamp(l1 / ((long)nr * elementSize) / 16 * 16, 128, 512);
        int mc = (int)Math.Clamp(l2 / 2 / ((long)kc * elementSize) / mr * mr, mr, 120L * mr);
        int nc = (int)Math.Clamp(l3PerCore / 2 / ((long)kc * elementSize) / nr * nr, 16L * nr, 512L * nr);
        return (kc, mc, nc);
    }
}
