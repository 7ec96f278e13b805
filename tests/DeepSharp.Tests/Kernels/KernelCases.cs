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

    /// <summary>Element-wise |expected - actual| &lt;= atol + rtol |expected|, compared in float64, naming the first element off.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, string what, double atol, double rtol)
    {
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= atol + rtol * Math.Abs(e[i]), $"{what}[{i}]: {a[i]} vs {e[i]}");
    }
}
