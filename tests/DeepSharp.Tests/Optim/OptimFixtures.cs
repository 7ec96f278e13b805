using System.Text.Json;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// tests/fixtures/optim.json (scripts/gen_optim_fixtures.py, PyTorch 1.13) and the problem its
/// optimizer trajectories were computed on.
/// </summary>
internal static class OptimFixtures
{
    private static readonly Lazy<JsonElement> s_root = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "optim.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.Clone();
    });

    public static JsonElement Root => s_root.Value;

    public static JsonElement Case(string section, string id) =>
        Root.GetProperty(section).EnumerateArray().Single(c => c.GetProperty("id").GetString() == id);

    public static IEnumerable<object[]> Ids(string section) =>
        Root.GetProperty(section).EnumerateArray().Select(c => new object[] { c.GetProperty("id").GetString()! });

    public static double Number(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? e.GetString() switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, var s => throw new FormatException(s) }
        : e.GetDouble();

    public static double[] Numbers(JsonElement e) => [.. e.EnumerateArray().Select(Number)];

    /// <summary>A problem tensor (W, b, u, x, y) in the given dtype.</summary>
    public static Tensor ProblemTensor(string name, DType dtype)
    {
        var t = Root.GetProperty("problem").GetProperty(name);
        var shape = t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return Tensor.From(Numbers(t.GetProperty("data")), shape).To(dtype).Detach();
    }

    /// <summary>The fixture problem: parameters W, b, u (u never gets a gradient) and its loss.</summary>
    public sealed class Problem
    {
        private readonly Tensor _x, _y;

        public Problem(DType dtype)
        {
            _x = ProblemTensor("x", dtype);
            _y = ProblemTensor("y", dtype);
            W = ProblemTensor("W", dtype).Clone().SetRequiresGrad();
            B = ProblemTensor("b", dtype).Clone().SetRequiresGrad();
            U = ProblemTensor("u", dtype).Clone().SetRequiresGrad();
        }

        public Tensor W { get; }
        public Tensor B { get; }
        public Tensor U { get; }
        public Tensor[] Params => [W, B, U];

        /// <summary>loss = Σ(tanh(x W + b) − y)² + ½ Σ b², then backward.</summary>
        public void Backward()
        {
            var loss = _x.MatMul(W).Add(B).Tanh().Sub(_y).Square().Sum() + B.Square().Sum() * 0.5;
            loss.Backward();
        }

        /// <summary>One training step: zero_grad, loss, backward, step.</summary>
        public void TrainStep(Optimizer optimizer)
        {
            optimizer.ZeroGrad();
            Backward();
            optimizer.Step();
        }
    }

    /// <summary>Builds the optimizer of an optimizer case over <paramref name="params"/>, options overridden by <paramref name="tweak"/>.</summary>
    public static Optimizer BuildOptimizer(JsonElement c, Tensor[] @params, Func<OptimizerOptions, OptimizerOptions>? tweak = null)
    {
        string name = c.GetProperty("optimizer").GetString()!;
        var defaults = Args(c.GetProperty("options"));
        var groups = new List<ParamGroup>();
        if (c.GetProperty("groups").ValueKind == JsonValueKind.Null)
        {
            groups.Add(new ParamGroup(@params, Options(name, defaults)));
        }
        else
        {
            foreach (var g in c.GetProperty("groups").EnumerateArray())
            {
                var merged = new Dictionary<string, JsonElement>(defaults);
                foreach (var (k, v) in Args(g[1])) merged[k] = v;
                groups.Add(new ParamGroup(g[0].EnumerateArray().Select(i => @params[i.GetInt32()]), Options(name, merged)));
            }
        }
        if (tweak is not null) groups = [.. groups.Select(g => new ParamGroup(g.Params, tweak(g.Options)))];
        return Create(name, groups);
    }

    public static Optimizer Create(string name, IEnumerable<ParamGroup> groups) => name switch
    {
        "SGD" => new Sgd(groups),
        "Adagrad" => new Adagrad(groups),
        "RMSprop" => new RmsProp(groups),
        "Adam" => new Adam(groups),
        "AdamW" => new AdamW(groups),
        "Adadelta" => new Adadelta(groups),
        _ => throw new ArgumentException(name),
    };

    /// <summary>
    /// The C# options for torch keyword arguments: C# defaults (which must equal torch's) overridden
    /// by the given arguments, through HyperParameters/FromHyperParameters (so those are tested too).
    /// </summary>
    public static OptimizerOptions Options(string name, IReadOnlyDictionary<string, JsonElement> torchArgs)
    {
        OptimizerOptions defaults = name switch
        {
            "SGD" => new SgdOptions(Lr: 0), // SGD's lr has no default
            "Adagrad" => new AdagradOptions(),
            "RMSprop" => new RmsPropOptions(),
            "Adam" => new AdamOptions(),
            "AdamW" => new AdamWOptions(),
            "Adadelta" => new AdadeltaOptions(),
            _ => throw new ArgumentException(name),
        };
        var values = defaults.HyperParameters().ToDictionary(h => h.Name, h => h.Value);
        foreach (var (key, v) in torchArgs)
        {
            if (key == "betas")
            {
                values["beta1"] = v[0].GetDouble();
                values["beta2"] = v[1].GetDouble();
                continue;
            }
            Assert.True(values.ContainsKey(key), $"{name} has no option '{key}'");
            values[key] = v.ValueKind switch { JsonValueKind.True => 1, JsonValueKind.False => 0, _ => Number(v) };
        }
        return defaults.FromHyperParameters(k => values[k]);
    }

    public static Dictionary<string, JsonElement> Args(JsonElement o) => o.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
}
