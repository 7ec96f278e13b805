using System.Text.Json;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Loads tests/fixtures/rnn.json (scripts/gen_rnn_fixtures.py) and builds each case's module the DeepSharp
/// way: one row per name of the script's build()/run(), with PyTorch's weights loaded through LoadStateDict.
/// </summary>
internal static class RnnFixtures
{
    /// <summary>A case's module (null for functions) and how to run it on named inputs; outputs in the fixture's order.</summary>
    public sealed record Built(Module? Module, Func<IReadOnlyDictionary<string, Tensor>, Tensor[]> Run);

    private static readonly Lazy<Dictionary<string, JsonElement>> s_cases = new(Load);

    public static Dictionary<string, JsonElement> Cases => s_cases.Value;

    public static IEnumerable<object[]> Ids() => Cases.Keys.Select(k => new object[] { k });

    private static Dictionary<string, JsonElement> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "rnn.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new Dictionary<string, JsonElement>();
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            cases[c.GetProperty("id").GetString()!] = c.Clone();
        return cases;
    }

    public static Dictionary<string, Tensor> State(JsonElement c, DType floatType) =>
        c.GetProperty("state").EnumerateObject().ToDictionary(p => p.Name, p => Fixtures.ToTensor(p.Value, floatType));

    /// <summary>The case's module in <paramref name="floatType"/> with PyTorch's state loaded strictly (names must match), in eval mode.</summary>
    public static Built Build(JsonElement c, DType floatType)
    {
        var built = Create(c.GetProperty("name").GetString()!, c.GetProperty("args"));
        if (built.Module is { } m)
        {
            m.To(floatType);
            m.LoadStateDict(State(c, floatType), strict: true);
            m.Eval();
        }
        return built;
    }

    /// <summary>The case's inputs by name; float inputs flagged requires_grad get RequiresGrad.</summary>
    public static Dictionary<string, Tensor> Inputs(JsonElement c, DType floatType, bool nonContiguous = false)
    {
        var inputs = new Dictionary<string, Tensor>();
        foreach (var spec in c.GetProperty("inputs").EnumerateArray())
        {
            var t = Fixtures.ToTensor(spec, floatType);
            if (nonContiguous) t = OpParityTests.MakeNonContiguous(t);
            if (spec.GetProperty("requires_grad").GetBoolean()) t.RequiresGrad = true;
            inputs[spec.GetProperty("name").GetString()!] = t;
        }
        return inputs;
    }

    private static Built Create(string name, JsonElement a) => name switch
    {
        "embedding" => Embedding(a),
        "rnn" => Recurrent(new Rnn(a.Int("input"), a.Int("hidden"), Layers(a), Enum.Parse<RnnNonlinearity>(a.String("nonlinearity", "tanh"), ignoreCase: true), a.Bool("bias", true),
            a.Bool("batch_first"), 0, a.Bool("bidirectional"))),
        "lstm" => Recurrent(new Lstm(a.Int("input"), a.Int("hidden"), Layers(a), a.Bool("bias", true), a.Bool("batch_first"), 0, a.Bool("bidirectional"))),
        "gru" => Recurrent(new Gru(a.Int("input"), a.Int("hidden"), Layers(a), a.Bool("bias", true), a.Bool("batch_first"), 0, a.Bool("bidirectional"))),
        "rnn_cell" => Cell(new RnnCell(a.Int("input"), a.Int("hidden"), a.Bool("bias", true), Enum.Parse<RnnNonlinearity>(a.String("nonlinearity", "tanh"), ignoreCase: true))),
        "gru_cell" => Cell(new GruCell(a.Int("input"), a.Int("hidden"), a.Bool("bias", true))),
        "lstm_cell" => LstmCell(new LstmCell(a.Int("input"), a.Int("hidden"), a.Bool("bias", true))),
        "additive_attention" => Attention(new AdditiveAttention(a.Int("query"), a.Int("key"), a.Int("hidden"))),
        "luong_attention" => Attention(new LuongAttention(a.String("score", "dot") == "general" ? LuongScore.General : LuongScore.Dot, a.Int("query"), a.Int("key"))),
        "sdpa" => new Built(null, x =>
        {
            var (output, weights) = Functional.ScaledDotProductAttention(x["q"], x["k"], x["v"], x.GetValueOrDefault("attn_mask"), isCausal: a.Bool("is_causal"));
            return [output, weights!];
        }),
        "mha" => Mha(new MultiheadAttention(a.Int("embed"), a.Int("heads"), 0, a.Bool("bias", true), a.Bool("batch_first")), a.Bool("average", true)),
        "transformer_encoder_layer" => Encoder(new TransformerEncoderLayer(a.Int("d_model"), a.Int("nhead"), a.Int("ff"), 0, Enum.Parse<TransformerActivation>(a.String("activation", "relu"), ignoreCase: true),
            batchFirst: a.Bool("batch_first"), normFirst: a.Bool("norm_first"))),
        _ => throw new ArgumentException($"rnn.json: unknown case name '{name}'"),
    };

    private static int Layers(JsonElement a) => a.IntOrNull("layers") ?? 1;

    private static Built Embedding(JsonElement a)
    {
        var m = new Embedding(a.Int("num"), a.Int("dim"), a.IntOrNull("padding_idx"));
        return new(m, x => [m.Call(x["input"])]);
    }

    private static Built Recurrent(RecurrentBase m) => new(m, x =>
    {
        int[]? lengths = x.TryGetValue("lengths", out var l) ? l.ToArray<long>().Select(v => (int)v).ToArray() : null;
        var (output, hN, cN) = m.Call(x["x"], x.GetValueOrDefault("h0"), x.GetValueOrDefault("c0"), lengths);
        return cN is null ? [output, hN] : [output, hN, cN];
    });

    private static Built Cell(RnnCell m) => new(m, x => [m.Call(x["x"], x.GetValueOrDefault("hx"))]);

    private static Built Cell(GruCell m) => new(m, x => [m.Call(x["x"], x.GetValueOrDefault("hx"))]);

    private static Built LstmCell(LstmCell m) => new(m, x =>
    {
        var (h, c) = m.Call(x["x"], x.GetValueOrDefault("hx"), x.GetValueOrDefault("cx"));
        return [h, c];
    });

    private static Built Attention(AttentionBase m) => new(m, x =>
    {
        var (output, weights) = m.Call(x["query"], x["keys"], x.GetValueOrDefault("values"), x.GetValueOrDefault("mask"));
        return [output, weights!];
    });

    private static Built Mha(MultiheadAttention m, bool average) => new(m, x =>
    {
        var q = x["query"];
        var k = x.GetValueOrDefault("key") ?? q;
        var v = x.GetValueOrDefault("value") ?? k;
        var (output, weights) = m.Call(q, k, v, x.GetValueOrDefault("key_padding_mask"), needWeights: true, x.GetValueOrDefault("attn_mask"), average);
        return [output, weights!];
    });

    private static Built Encoder(TransformerEncoderLayer m) => new(m, x => [m.Call(x["src"], x.GetValueOrDefault("src_mask"), x.GetValueOrDefault("src_key_padding_mask"))]);
}
