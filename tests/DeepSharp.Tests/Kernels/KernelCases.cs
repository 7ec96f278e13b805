using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>The vector widths and span lengths kernel tests sweep.</summary>
internal static class KernelCases
{
    /// <summary>0..67 (whole vectors of every width, every tail) and one long span.</summary>
    public static IEnumerable<int> Lengths => Enumerable.Range(0, 68).Append(300);

    /// <summary>Runs <paramref name="check"/> at every vector width this machine (and runtime configuration) runs.</summary>
    public static void AtEveryWidth(Action<int> check)
    {
        foreach (int width in SimdWidth.Supported)
        {
            using var force = SimdWidth.Force(width);
            check(width);
        }
    }

    /// <summary>Every width x every length.</summary>
    public static void ForEachWidthAndLength(Action<int> check) =>
        AtEveryWidth(_ => { foreach (int n in Lengths) check(n); });
}
