using System.Globalization;

namespace DeepSharp.Onnx;

// String tensors: StringNormalizer, and Cast/CastLike between strings and numbers.
internal static partial class OnnxOps
{
    private static void RegisterStrings(Dictionary<string, Op> ops)
    {
        ops["StringNormalizer"] = n => [StringNormalizer(n)];
        ops["Cast"] = n => [CastValue(n.Value(0), (int)n.Int("to", OnnxTensors.Float), n)];
        ops["CastLike"] = n => [CastValue(n.Value(0), n.Value(1) is Tensor like ? OnnxTensors.ElementType(like.DType) : OnnxTensors.String, n)];
    }

    /// <summary>
    /// Removes the stop words (compared ordinally, or ignoring case with is_case_sensitive = 0) and changes case
    /// (case_change_action NONE, LOWER or UPPER) of a [C] or [1, C] string tensor. When every string is removed the
    /// result holds one empty string, as the operator specifies.
    /// </summary>
    private static OnnxStringTensor StringNormalizer(OnnxNode n)
    {
        var x = n.StringInput(0);
        bool twoDim = x.Shape.Count == 2;
        if (!(x.Shape.Count == 1 || (twoDim && x.Shape[0] == 1)))
            throw new InvalidDataException($"ONNX {n.Describe}: the input must be [C] or [1, C], got {Shapes.Format([.. x.Shape])}");
        var comparer = n.Int("is_case_sensitive", 0) != 0 ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;
        var stop = new HashSet<string>(n.Strings("stopwords") ?? [], comparer);
        Func<string, string> change = n.String("case_change_action", "NONE") switch
        {
            "NONE" => s => s,
            "LOWER" => s => s.ToLowerInvariant(),
            "UPPER" => s => s.ToUpperInvariant(),
            var other => throw new InvalidDataException($"ONNX {n.Describe}: case_change_action '{other}' is not NONE, LOWER or UPPER"),
        };
        var kept = x.Values.Where(s => !stop.Contains(s)).Select(change).ToArray();
        if (kept.Length == 0) kept = [""];
        return new OnnxStringTensor(kept, twoDim ? [1, kept.Length] : [kept.Length]);
    }

    /// <summary>Cast of any value: numbers as <see cref="Cast"/>, strings parsed to numbers, numbers written as shortest round-trip strings.</summary>
    private static object CastValue(object x, int to, OnnxNode n)
    {
        if (x is OnnxStringTensor s)
        {
            if (to == OnnxTensors.String) return s;
            var dtype = OnnxTensors.DTypeOf(to) ?? throw n.Unsupported($"casting strings to {OnnxTensors.ElementTypeName(to)}");
            return OnnxTensors.Make(s.Values.Select(v => ParseNumber(v, n)).ToArray(), [.. s.Shape]).To(dtype);
        }
        var t = x as Tensor ?? throw new InvalidDataException($"ONNX {n.Describe}: cannot cast {OnnxNode.KindOf(x)}");
        if (to != OnnxTensors.String) return Cast(t, to, n);
        string[] text = t.DType switch
        {
            DType.Float32 => t.ToArray<float>().Select(v => FormatNumber(v, v.ToString(CultureInfo.InvariantCulture))).ToArray(),
            DType.Bool => t.ToArray<bool>().Select(v => v ? "1" : "0").ToArray(),
            DType.Int64 => t.ToArray<long>().Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray(),
            _ => t.To(DType.Float64).ToArray<double>().Select(v => FormatNumber(v, v.ToString(CultureInfo.InvariantCulture))).ToArray(),
        };
        return new OnnxStringTensor(text, t.ShapeArray);
    }

    /// <summary>ONNX's spellings of the special values (NaN, INF, -INF); finite values as .NET's shortest round-trip form.</summary>
    private static string FormatNumber(double v, string finite) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "INF" : double.IsNegativeInfinity(v) ? "-INF" : finite;

    private static double ParseNumber(string s, OnnxNode n)
    {
        string t = s.Trim();
        switch (t.ToUpperInvariant())
        {
            case "NAN" or "+NAN" or "-NAN": return double.NaN;
            case "INF" or "+INF" or "INFINITY" or "+INFINITY": return double.PositiveInfinity;
            case "-INF" or "-INFINITY": return double.NegativeInfinity;
        }
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new InvalidDataException($"ONNX {n.Describe}: '{s}' is not a number");
    }
}
