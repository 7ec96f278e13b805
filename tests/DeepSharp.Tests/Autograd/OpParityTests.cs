using System.Text.Json;

namespace DeepSharp.Tests.Autograd;

/// <summary>
/// Every op in <see cref="OpRegistry"/> against PyTorch (tests/fixtures/ops.json): forward values
/// and input gradients at float32, with contiguous and with non-contiguous inputs; and the same
/// cases through GradCheck (float64 central differences).
/// </summary>
public sealed class OpParityTests
{
    // PyTorch parity tolerance (float32), with the few ops that justify a looser one.
    private const double Rtol = 1e-5, Atol = 1e-6;
    private static readonly Dictionary<string, (double Rtol, double Atol)> Looser = new()
    {
        // pow/exp-based formulas and long sums round differently from PyTorch's kernels by a few ulp.
        ["pow"] = (2e-5, 1e-5), ["pow_scalar"] = (2e-5, 1e-5), ["norm"] = (2e-5, 1e-5),
        ["matmul"] = (2e-5, 1e-5), ["var"] = (2e-5, 1e-5), ["std"] = (2e-5, 1e-5), ["logsumexp"] = (2e-5, 1e-5),
        ["gelu"] = (2e-5, 1e-5), ["softplus"] = (2e-5, 1e-5), ["prod"] = (2e-5, 1e-5),
    };

    public static IEnumerable<object[]> Ids() => Fixtures.Ids();

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
        var c = Fixtures.Cases[id];
        string op = c.GetProperty("op").GetString()!;
        if (OpRegistry.NonDifferentiable.Contains(op) || c.GetProperty("grad_output").ValueKind == JsonValueKind.Null) return;
        foreach (bool nonContiguous in new[] { false, true })
        {
            var inputs = BuildInputs(c, DType.Float64, nonContiguous);
            if (!inputs.Any(t => t.RequiresGrad)) return;
            var output = OpRegistry.Ops[op](inputs, c.GetProperty("args"));
            if (output.Numel == 0) continue;
            Assert.True(DeepSharp.Autograd.GradCheck(x => OpRegistry.Ops[op](x, c.GetProperty("args")), inputs, eps: 1e-6, atol: 1e-5, rtol: 1e-4),
                $"{id}: GradCheck failed");
        }
    }

    [Fact]
    public void RegistryAndFixturesCoverTheSameOps()
    {
        var fixtureOps = Fixtures.Cases.Values.Select(c => c.GetProperty("op").GetString()!).ToHashSet();
        var missingFixtures = OpRegistry.Ops.Keys.Where(k => !fixtureOps.Contains(k)).ToList();
        var unregistered = fixtureOps.Where(k => !OpRegistry.Ops.ContainsKey(k)).ToList();
        Assert.True(missingFixtures.Count == 0, "registry ops without PyTorch fixtures: " + string.Join(", ", missingFixtures));
        Assert.True(unregistered.Count == 0, "fixture ops missing from the registry: " + string.Join(", ", unregistered));
        Assert.True(fixtureOps.Count >= 70, $"only {fixtureOps.Count} ops in the fixtures");
    }

    private static Tensor[] BuildInputs(JsonElement c, DType floatType, bool nonContiguous)
    {
        var specs = c.GetProperty("inputs").EnumerateArray().ToArray();
        var inputs = new Tensor[specs.Length];
        for (int i = 0; i < specs.Length; i++)
        {
            var t = Fixtures.ToTensor(specs[i], floatType);
            if (nonContiguous) t = MakeNonContiguous(t);
            if (Fixtures.IsFloat(specs[i]) && specs[i].GetProperty("requires_grad").GetBoolean()) t.RequiresGrad = true;
            inputs[i] = t;
        }
        return inputs;
    }

    /// <summary>The same values in a strided layout: every other element of a [.., 2] stack.</summary>
    internal static Tensor MakeNonContiguous(Tensor t)
    {
        if (t.Numel <= 1) return t; // a single element is contiguous in any layout
        var view = Tensor.Stack([t, Tensor.ZerosLike(t)], -1).Select(-1, 0);
        Assert.False(view.IsContiguous);
        return view;
    }

    private static void RunParity(string id, bool nonContiguous)
    {
        var c = Fixtures.Cases[id];
        string op = c.GetProperty("op").GetString()!;
        var (rtol, atol) = Looser.TryGetValue(op, out var tol) ? tol : (Rtol, Atol);
        var inputs = BuildInputs(c, DType.Float32, nonContiguous);
        var output = OpRegistry.Ops[op](inputs, c.GetProperty("args"));
        var expected = Fixtures.ToTensor(c.GetProperty("output"));
        AssertClose(expected, output, rtol, atol, $"{id} output");

        var gradOut = c.GetProperty("grad_output");
        if (gradOut.ValueKind == JsonValueKind.Null) return;
        output.Backward(Fixtures.ToTensor(gradOut));
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        for (int i = 0; i < grads.Length; i++)
        {
            if (grads[i].ValueKind == JsonValueKind.Null) continue;
            var g = inputs[i].Grad ?? Tensor.ZerosLike(inputs[i]);
            AssertClose(Fixtures.ToTensor(grads[i]), g, rtol, atol, $"{id} grad of input {i}");
        }
    }

    internal static void AssertClose(Tensor expected, Tensor actual, double rtol, double atol, string what)
    {
        Assert.True(expected.Shape == actual.Shape, $"{what}: shape {Shapes.Format(actual.ShapeArray)} != expected {Shapes.Format(expected.ShapeArray)}");
        Assert.True(expected.DType == actual.DType, $"{what}: dtype {actual.DType.Name()} != expected {expected.DType.Name()}");
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
        {
            bool ok = double.IsNaN(e[i]) ? double.IsNaN(a[i]) : e[i] == a[i] || Math.Abs(e[i] - a[i]) <= atol + rtol * Math.Abs(e[i]);
            Assert.True(ok, $"{what}: element {i}: got {a[i]:R}, expected {e[i]:R}");
        }
    }
}
