using System.Text.Json;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Every layer, loss and small model in <see cref="NNRegistry"/> against PyTorch (tests/fixtures/nn.json):
/// PyTorch's weights are loaded through LoadStateDict (strict, so key names must match), then the output
/// and the gradients w.r.t. inputs and parameters are compared at float32, with contiguous and with
/// non-contiguous inputs; and every case runs through GradCheck (float64) over inputs and parameters.
/// </summary>
public sealed class NNParityTests
{
    private const double Rtol = 1e-5, Atol = 1e-6;

    // Looser where float32 rounding differs from PyTorch's kernels by a few ulp: gelu/softplus evaluate
    // erf/exp/log in double and round once, while PyTorch rounds each float step (as in OpParityTests).
    private static readonly Dictionary<string, (double Rtol, double Atol)> Looser = new()
    {
        ["gelu"] = (2e-5, 1e-5),
        ["softplus"] = (2e-5, 1e-5),
    };

    public static IEnumerable<object[]> Ids() => NNFixtures.Ids();

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorch(string id) => RunParity(id, nonContiguous: false);

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorchWithNonContiguousInputs(string id) => RunParity(id, nonContiguous: true);

    [Theory]
    [MemberData(nameof(Ids))]
    public void PassesGradCheck(string id)
    {
        var c = NNFixtures.Cases[id];
        if (!c.GetProperty("gradcheck").GetBoolean()) return;
        var built = NNFixtures.Build(c, DType.Float64);
        foreach (bool nonContiguous in new[] { false, true })
        {
            var inputs = BuildInputs(c, DType.Float64, nonContiguous);
            var wrt = inputs.Where(t => t.RequiresGrad).Concat(built.Module.Parameters()).ToArray();
            if (wrt.Length == 0) return;
            // The function reads the same tensor objects GradCheck perturbs (inputs and the module's parameters).
            Assert.True(DeepSharp.Autograd.GradCheck(_ => built.Run(inputs), wrt, eps: 1e-6, atol: 1e-5, rtol: 1e-4), $"{id}: GradCheck failed");
        }
    }

    [Fact]
    public void RegistryAndFixturesCoverTheSameNames()
    {
        var names = NNFixtures.Cases.Values.Select(c => c.GetProperty("kind").GetString() + "/" + c.GetProperty("name").GetString()).ToHashSet();
        var missing = NNRegistry.Factories.Keys.Where(k => !names.Contains(k)).ToList();
        var unregistered = names.Where(k => !NNRegistry.Factories.ContainsKey(k)).ToList();
        Assert.True(missing.Count == 0, "registry entries without PyTorch fixtures: " + string.Join(", ", missing));
        Assert.True(unregistered.Count == 0, "fixture names missing from the registry: " + string.Join(", ", unregistered));
    }

    private static Tensor[] BuildInputs(JsonElement c, DType floatType, bool nonContiguous)
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

    private static void RunParity(string id, bool nonContiguous)
    {
        var c = NNFixtures.Cases[id];
        var (rtol, atol) = Looser.TryGetValue(c.GetProperty("name").GetString()!, out var tol) ? tol : (Rtol, Atol);
        var built = NNFixtures.Build(c);
        var inputs = BuildInputs(c, DType.Float32, nonContiguous);
        var output = built.Run(inputs);
        OpParityTests.AssertClose(Fixtures.ToTensor(c.GetProperty("output")), output, rtol, atol, $"{id} output");

        var gradOut = c.GetProperty("grad_output");
        if (gradOut.ValueKind == JsonValueKind.Null) return;
        output.Backward(Fixtures.ToTensor(gradOut));
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        for (int i = 0; i < grads.Length; i++)
        {
            if (grads[i].ValueKind == JsonValueKind.Null) continue;
            OpParityTests.AssertClose(Fixtures.ToTensor(grads[i]), inputs[i].Grad ?? Tensor.ZerosLike(inputs[i]), rtol, atol, $"{id} grad of input {i}");
        }
        var parameters = built.Module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var expected = c.GetProperty("param_grads").EnumerateObject().ToList();
        Assert.Equal(expected.Select(e => e.Name).Order(), parameters.Keys.Order());
        foreach (var e in expected)
        {
            var p = parameters[e.Name];
            OpParityTests.AssertClose(Fixtures.ToTensor(e.Value), p.Grad ?? Tensor.ZerosLike(p), rtol, atol, $"{id} grad of parameter {e.Name}");
        }
    }
}
