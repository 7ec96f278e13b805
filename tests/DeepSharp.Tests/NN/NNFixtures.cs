using System.Text.Json;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>Loads tests/fixtures/nn.json (written by scripts/gen_nn_fixtures.py from PyTorch).</summary>
internal static class NNFixtures
{
    private static readonly Lazy<(Dictionary<string, JsonElement> Cases, JsonElement Models)> s_doc = new(Load);

    public static Dictionary<string, JsonElement> Cases => s_doc.Value.Cases;

    /// <summary>PyTorch's state-dict keys, shapes and parameter counts of the zoo models.</summary>
    public static JsonElement Models => s_doc.Value.Models;

    private static (Dictionary<string, JsonElement>, JsonElement) Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "nn.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new Dictionary<string, JsonElement>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            cases[c.GetProperty("id").GetString()!] = c.Clone();
        return (cases, doc.RootElement.GetProperty("models").Clone());
    }

    public static IEnumerable<object[]> Ids() => Cases.Keys.Select(k => new object[] { k });

    /// <summary>The case's state dict (parameters and buffers) as tensors of <paramref name="floatType"/>.</summary>
    public static Dictionary<string, Tensor> State(JsonElement c, DType floatType = DType.Float32) =>
        c.GetProperty("state").EnumerateObject().ToDictionary(p => p.Name, p => Fixtures.ToTensor(p.Value, floatType));

    /// <summary>The module of a case with PyTorch's weights loaded (strict: the key names must match PyTorch's).</summary>
    public static NNRegistry.Built Build(JsonElement c, DType floatType = DType.Float32)
    {
        string key = c.GetProperty("kind").GetString() + "/" + c.GetProperty("name").GetString();
        var state = State(c, floatType);
        var built = NNRegistry.Factories[key](c.GetProperty("args"), state);
        built.Module.To(floatType);
        built.Module.LoadStateDict(state, strict: true);
        return built;
    }
}
