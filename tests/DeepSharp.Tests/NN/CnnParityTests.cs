using System.Text.Json;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Every convolution, pooling, normalisation and channel-dropout layer of <see cref="CnnRegistry"/> against
/// PyTorch (tests/fixtures/cnn.json): PyTorch's parameters and buffers are loaded with a strict LoadStateDict
/// (so the state-dict key names must match), then the output, the gradients w.r.t. the input and every
/// parameter, the running statistics after the forward and the max-pool indices are compared at float32,
/// with contiguous and with non-contiguous inputs; and every case runs through float64 GradCheck over the
/// input and the parameters.
/// </summary>
public sealed class CnnParityTests
{
    private const double Rtol = 1e-5, Atol = 1e-6;
    // A weight gradient sums batch × output positions (50-120 products of size ~1 here); its float32 rounding
    // moves with the summation order and with FMA, which differ between instruction-set paths by up to ~n·ε.
    private const double ReductionAtol = 1e-5;

    public static IEnumerable<object[]> Ids() => CnnFixtures.Ids();

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
        var c = CnnFixtures.Cases[id];
        Assert.True(c.GetProperty("gradcheck").GetBoolean(), $"{id}: every layer case is expected to be differentiable");
        var built = CnnFixtures.Build(c, DType.Float64);
        foreach (bool nonContiguous in new[] { false, true })
        {
            var x = CnnFixtures.Inputs(c, DType.Float64, nonContiguous)[0];
            var wrt = new[] { x }.Concat(built.Module.Parameters()).ToArray();
            // The function reads the same tensors GradCheck perturbs (the input and the module's parameters).
            Assert.True(DeepSharp.Autograd.GradCheck(_ => built.Run(x), wrt, eps: 1e-6, atol: 1e-5, rtol: 1e-4), $"{id}: GradCheck failed");
        }
    }

    [Fact]
    public void RegistryAndFixturesCoverTheSameLayers()
    {
        var names = CnnFixtures.Cases.Values.Select(c => c.GetProperty("name").GetString()!).ToHashSet();
        Assert.Equal(names.Order(), CnnRegistry.Factories.Keys.Order());
    }

    private static void RunParity(string id, bool nonContiguous)
    {
        var c = CnnFixtures.Cases[id];
        var built = CnnFixtures.Build(c);
        var x = CnnFixtures.Inputs(c, DType.Float32, nonContiguous)[0];
        var output = built.Run(x);
        OpParityTests.AssertClose(Fixtures.ToTensor(c.GetProperty("output")), output, Rtol, Atol, $"{id} output");

        // Buffers after the forward: running statistics moved (training) or untouched (eval), num_batches_tracked counted.
        var after = CnnFixtures.State(c, "state_after");
        var state = built.Module.StateDict();
        Assert.Equal(after.Keys.Order(), state.Keys.Order());
        foreach (var (key, expected) in after)
            OpParityTests.AssertClose(expected, state[key], Rtol, Atol, $"{id} {key} after the forward");

        if (c.GetProperty("indices").ValueKind != JsonValueKind.Null)
        {
            var indices = built.Indices!(x);
            Assert.Equal(Fixtures.ToTensor(c.GetProperty("indices")).ToArray<long>(), indices.ToArray<long>());
        }

        output.Backward(Fixtures.ToTensor(c.GetProperty("grad_output")));
        OpParityTests.AssertClose(Fixtures.ToTensor(c.GetProperty("grads")[0]), x.Grad ?? Tensor.ZerosLike(x), Rtol, Atol, $"{id} grad of input");
        var parameters = built.Module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        var expectedGrads = c.GetProperty("param_grads").EnumerateObject().ToList();
        Assert.Equal(expectedGrads.Select(e => e.Name).Order(), parameters.Keys.Order());
        foreach (var e in expectedGrads)
        {
            var p = parameters[e.Name];
            OpParityTests.AssertClose(Fixtures.ToTensor(e.Value), p.Grad ?? Tensor.ZerosLike(p), Rtol, ReductionAtol, $"{id} grad of parameter {e.Name}");
        }
    }
}
