using System.Text.Json;

namespace DeepSharp.Tests.Autograd;

/// <summary>Loads tests/fixtures/ops.json (written by scripts/gen_fixtures.py from PyTorch).</summary>
internal static class Fixtures
{
    private static readonly Lazy<Dictionary<string, JsonElement>> s_cases = new(Load);

    public static Dictionary<string, JsonElement> Cases => s_cases.Value;

    private static Dictionary<string, JsonElement> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "ops.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var result = new Dictionary<string, JsonElement>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            result[c.GetProperty("id").GetString()!] = c.Clone();
        return result;
    }

    public static IEnumerable<object[]> Ids() => Cases.Keys.Select(k => new object[] { k });

    /// <summary>A tensor from a fixture entry, in its own dtype or converted to <paramref name="floatType"/>.</summary>
    public static Tensor ToTensor(JsonElement t, DType floatType = DType.Float32)
    {
        var shape = t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var data = t.GetProperty("data");
        switch (t.GetProperty("dtype").GetString())
        {
            case "int64":
                return Tensor.From(data.EnumerateArray().Select(e => e.GetInt64()).ToArray(), shape.Length == 0 ? [] : shape).Reshape(shape);
            case "bool":
                return Tensor.From(data.EnumerateArray().Select(e => e.GetBoolean()).ToArray(), shape.Length == 0 ? [] : shape).Reshape(shape);
            default:
                var values = data.EnumerateArray().Select(ParseFloat).ToArray();
                var x = Tensor.From(values, shape.Length == 0 ? [] : shape).Reshape(shape);
                return x.To(floatType).Detach();
        }
    }

    private static double ParseFloat(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? e.GetString() switch { "nan" => double.NaN, "inf" => double.PositiveInfinity, _ => double.NegativeInfinity }
        : e.GetDouble();

    public static bool IsFloat(JsonElement t) => t.GetProperty("dtype").GetString() == "float32";
}
