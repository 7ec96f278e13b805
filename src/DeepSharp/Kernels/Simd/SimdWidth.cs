using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// The vector width kernels run at: the widest the runtime accelerates (it honours
/// <c>DOTNET_EnableAVX512=0</c>, <c>DOTNET_EnableAVX2=0</c>, <c>DOTNET_EnableHWIntrinsic=0</c> and
/// <c>DOTNET_PreferredVectorBitWidth</c>), or a narrower one forced on the calling thread, so that tests can run
/// every path on one machine. Every kernel entry point reads <see cref="Current"/> once, on the calling thread,
/// and hands the chosen instantiation to its workers.
/// </summary>
internal static class SimdWidth
{
    /// <summary>The widest accelerated width in bits: 512, 256, 128, or 0 (scalar code).</summary>
    public static readonly int Hardware =
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>
    /// Architectural vector registers the JIT allocates: 32 with AVX-512 (EVEX encodes xmm/ymm/zmm16-31) and on
    /// ARM64, 16 with AVX2 or SSE. Register-blocked kernels size their tiles to this.
    /// </summary>
    public static readonly int VectorRegisters = Avx512F.IsSupported || AdvSimd.Arm64.IsSupported ? 32 : 16;

    [ThreadStatic] private static int t_forced; // 0: not forced; -1: scalar; otherwise the width

    /// <summary>The width kernels called on this thread use.</summary>
    public static int Current => t_forced == 0 ? Hardware : Math.Max(t_forced, 0);

    /// <summary>Widths this machine can run, widest first (always ends with 0, scalar).</summary>
    public static IReadOnlyList<int> Supported { get; } = new[] { 512, 256, 128, 0 }.Where(w => w <= Hardware).ToArray();

    /// <summary>Runs kernels called on this thread at <paramref name="bits"/> until the scope is disposed.</summary>
    public static Scope Force(int bits)
    {
        if (bits is not (512 or 256 or 128 or 0))
            throw new ArgumentException($"vector width must be 512, 256, 128 or 0 (scalar), not {bits}");
        if (bits > Hardware)
            throw new NotSupportedException($"this CPU (or runtime configuration) runs vectors of at most {Hardware} bits, not {bits}");
        int previous = t_forced;
        t_forced = bits == 0 ? -1 : bits;
        return new Scope(previous);
    }

    public readonly struct Scope(int previous) : IDisposable
    {
        public void Dispose() => t_forced = previous;
    }
}
