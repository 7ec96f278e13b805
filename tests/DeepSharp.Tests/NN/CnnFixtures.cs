using System.Text.Json;
using DeepSharp.Serialization;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Loads tests/fixtures/cnn.json and cnn_models.safetensors (written by scripts/gen_cnn_fixtures.py from
/// PyTorch 1.13 / torchvision): layer cases in nn.json's format, the canonical model layouts, and the
/// weights, inputs and logits of the zoo models' small configurations.
/// </summary>
internal static class CnnFixtures
{
    private static readonly Lazy<Doc> s_doc = new(Load);
    private static readonly Lazy<IReadOnlyDictionary<string, Tensor>> s_models = new(() =>
        SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "fixtures", "cnn_models.safetensors")).Tensors);

    private sealed record Doc(Dictionary<string, JsonElement> Cases, JsonElement Canonical, Dictionary<string, JsonElement> ModelFixtures);

    public static Dictionary<string, JsonElement> Cases => s_doc.Value.Cases;

    /// <summary>name -> {options, parameters, state: [{key, shape}]} of the canonical (torchvision) configurations.</summary>
    public static JsonElement Canonical => s_doc.Value.Canonical;

    /// <summary>fixture id -> {id, model, options, input}.</summary>
    public static Dictionary<string, JsonElement> ModelFixtures => s_doc.Value.ModelFixtures;

    /// <summary>The tensors of cnn_models.safetensors by name (ID/state/KEY, ID/eval_logits, input/CxS, ...).</summary>
    public static IReadOnlyDictionary<string, Tensor> ModelTensors => s_models.Value;

    private static Doc Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "cnn.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new Dictionary<string, JsonElement>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            cases[c.GetProperty("id").GetString()!] = c.Clone();
        var fixtures = new Dictionary<string, JsonElement>();
        foreach (var f in doc.RootElement.GetProperty("model_fixtures").EnumerateArray())
            fixtures[f.GetProperty("id").GetString()!] = f.Clone();
        return new Doc(cases, doc.RootElement.GetProperty("canonical").Clone(), fixtures);
    }

    public static IEnumerable<object[]> Ids() => Cases.Keys.Select(k => new object[] { k });

    public static IEnumerable<object[]> ModelFixtureIds() => ModelFixtures.Keys.Select(k => new object[] { k });

    public static IEnumerable<object[]> CanonicalNames() => Canonical.EnumerateObject().Select(p => new object[] { p.Name });

    /// <summary>A state dict from a case's "state" or "state_after", float tensors in <paramref name="floatType"/>.</summary>
    public static Dictionary<string, Tensor> State(JsonElement c, string property = "state", DType floatType = DType.Float32) =>
        c.GetProperty(property).EnumerateObject().ToDictionary(p => p.Name, p => Fixtures.ToTensor(p.Value, floatType));

    /// <summary>The layer of a case with PyTorch's state loaded (strict: the key names must match PyTorch's).</summary>
    public static CnnRegistry.Built Build(JsonElement c, DType floatType = DType.Float32)
    {
        var built = CnnRegistry.Factories[c.GetProperty("name").GetString()!](c.GetProperty("args"));
        built.Module.To(floatType);
        built.Module.LoadStateDict(State(c, "state", floatType), strict: true);
        return built;
    }

    /// <summary>The input tensors of a case (float ones in <paramref name="floatType"/>, requiring grad as recorded).</summary>
    public static Tensor[] Inputs(JsonElement c, DType floatType, bool nonContiguous)
    {
        var specs = c.GetProperty("inputs").EnumerateArray().ToArray();
        var inputs = new Tensor[specs.Length];
        for (int i = 0; i < specs.Length; i++)
        {
            var t = Fixtures.ToTensor(specs[i], floatType);
            if (nonContiguous) t = OpParityTests.MakeNonContiguous(t);
            if (Fixtures.IsFloat(specs[i]) && specs[i].GetProperty("requires_grad").GetBoolean()) t.RequiresGrad = true;
            inputs[i] = t;
        }
        return inputs;
    }

    /// <summary>The ModelOptions of a fixture's or canonical entry's "options" object.</summary>
    public static DeepSharp.Models.ModelOptions Options(JsonElement options, Generator? generator = null) => new(
        NumClasses: options.GetProperty("classes").GetInt32(),
        InputChannels: options.GetProperty("channels").GetInt32(),
        ImageSize: options.GetProperty("size").GetInt32(),
        WidthMultiplier: options.GetProperty("width").GetDouble(),
        Generator: generator);
}
