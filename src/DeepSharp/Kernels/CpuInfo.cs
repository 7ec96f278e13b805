using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace DeepSharp.Kernels;

/// <summary>
/// What the running CPU reports about itself: its model name and the sizes of its data caches, read once from
/// Linux's sysfs (<c>/sys/devices/system/cpu/cpu0/cache</c>) and <c>/proc/cpuinfo</c>. Where the OS does not say
/// (other systems, containers that hide sysfs), typical sizes of current desktop and server cores are assumed
/// and <see cref="CachesFromOs"/> is false. Cache blocking and threading thresholds are derived from these
/// values, never from constants measured on one machine.
/// </summary>
internal static class CpuInfo
{
    private const long DefaultL1 = 32 << 10, DefaultL2 = 1 << 20, DefaultL3 = 8 << 20;

    static CpuInfo()
    {
        long l1 = 0, l2 = 0, l3 = 0;
        int l3Sharing = 1;
        try
        {
            const string root = "/sys/devices/system/cpu/cpu0/cache";
            if (Directory.Exists(root))
            {
                foreach (string dir in Directory.EnumerateDirectories(root, "index*"))
                {
                    string type = ReadLine(Path.Combine(dir, "type"));
                    if (type is not ("Data" or "Unified"))
                        continue;
                    long size = ParseSize(ReadLine(Path.Combine(dir, "size")));
                    switch (ReadLine(Path.Combine(dir, "level")))
                    {
                        case "1": l1 = size; break;
                        case "2": l2 = size; break;
                        case "3":
                            l3 = size;
                            l3Sharing = Math.Max(1, CountCpus(ReadLine(Path.Combine(dir, "shared_cpu_list"))));
                            break;
                    }
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        CachesFromOs = l1 > 0 && l2 > 0;
        L1DataBytes = l1 > 0 ? l1 : DefaultL1;
        L2Bytes = l2 > 0 ? l2 : DefaultL2;
        L3Bytes = l3 > 0 ? l3 : DefaultL3;
        L3BytesPerCore = Math.Max(L2Bytes, L3Bytes / l3Sharing);
        Model = ReadModel();
        HalvesWideVectors = ReadHalvesWideVectors();
    }

    /// <summary>The CPU's model name, e.g. "AMD EPYC 9R45" (falls back to the architecture).</summary>
    public static string Model { get; }

    /// <summary>Level-1 data cache of one core, in bytes.</summary>
    public static long L1DataBytes { get; }

    /// <summary>Level-2 cache of one core, in bytes.</summary>
    public static long L2Bytes { get; }

    /// <summary>Level-3 cache, in bytes (shared by several cores).</summary>
    public static long L3Bytes { get; }

    /// <summary>The level-3 cache divided by the cores sharing it (at least the L2 size).</summary>
    public static long L3BytesPerCore { get; }

    /// <summary>Whether the cache sizes were read from the OS (false: typical sizes assumed).</summary>
    public static bool CachesFromOs { get; }

    /// <summary>
    /// Whether the cores execute 512-bit vector instructions as two 256-bit halves, so AVX-512 code retires
    /// one 512-bit FMA per cycle instead of two: AMD's family 19h (Zen 4) with AVX-512. Zen 5 (family 1Ah) and
    /// Intel's AVX-512 cores execute them whole.
    /// </summary>
    public static bool HalvesWideVectors { get; }

    /// <summary>The vector width kernels run at, in bits (512, 256, 128; 0 when the runtime offers no SIMD).</summary>
    public static int VectorBits => SimdWidth.Hardware;

    /// <summary>The vector instruction sets the runtime uses, e.g. "AVX-512, FMA" or "AdvSimd".</summary>
    public static string VectorIsa =>
        SimdWidth.Hardware switch
        {
            512 => "AVX-512",
            256 => Avx2.IsSupported ? "AVX2" : "256-bit",
            128 => AdvSimd.IsSupported ? "AdvSimd (NEON)" : "SSE (128-bit)",
            _ => "none (scalar)",
        } + (FmaSupport.IsFused ? ", FMA" : "");

    private static bool ReadHalvesWideVectors()
    {
        if (!X86Base.IsSupported || !Avx512F.IsSupported)
            return false;
        // CPUID 0: the vendor string in EBX, EDX, ECX ("Auth" "enti" "cAMD"); CPUID 1: EAX bits 8-11 the base
        // family, bits 20-27 the extended family added to it when the base family is 0Fh.
        (_, int ebx, int ecx, int edx) = X86Base.CpuId(0, 0);
        bool amd = ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163;
        int eax = X86Base.CpuId(1, 0).Eax;
        int family = (eax >> 8) & 0xF;
        if (family == 0xF)
            family += (eax >> 20) & 0xFF;
        return amd && family == 0x19;
    }

    private static string ReadModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                {
                    // x86: "model name"; ARM64 kernels often give only "CPU part", so fall through.
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.Contains(':'))
                        return line[(line.IndexOf(':') + 1)..].Trim();
                }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string ReadLine(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : "";

    // "48K", "2048K", "32M" or a plain byte count.
    internal static long ParseSize(string text)
    {
        if (text.Length == 0)
            return 0;
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1 << 10, 'M' => 1 << 20, 'G' => 1 << 30, _ => 1 };
        string digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 ? v * unit : 0;
    }

    // "0-3,8-11" -> 8.
    internal static int CountCpus(string list)
    {
        int count = 0;
        foreach (string part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] range = part.Split('-');
            if (range.Length == 2 && int.TryParse(range[0], out int lo) && int.TryParse(range[1], out int hi) && hi >= lo)
                count += hi - lo + 1;
            else if (int.TryParse(part, out _))
                count++;
        }
        return count;
    }
}
