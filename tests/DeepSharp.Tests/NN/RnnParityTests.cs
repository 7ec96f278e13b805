using System.Text.Json;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Embedding, RNN/LSTM/GRU (2-layer, bidirectional, batch_first, packed lengths, given initial states), the
/// cells, additive/Luong attention, SDPA, MultiheadAttention and TransformerEncoderLayer against PyTorch
/// (tests/fixtures/rnn.json): PyTorch's state dict is loaded strictly (so names and order must match), then every
/// output and the gradient of every input, initial state and parameter are compared at float32; each case also
/// runs through GradCheck in float64 over its inputs and parameters.
/// </summary>
public sealed class RnnParityTests
{
    private const double Rtol = 1e-5, Atol = 1e-6;

    public static IEnumerable<object[]> Ids() => RnnFixtures.Ids();

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorch(string id) => RunParity(id, nonContiguous: false);

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorchWithNonContiguousInputs(string id) => RunParity(id, nonContiguous: true);

    [Theory]
    [MemberData(nameof(Ids))]
    public void StateDictKeysAreInPyTorchsOrder(string id)
    {
        var c = RnnFixtures.Cases[id];
        var built = RnnFixtures.Build(c, DType.Float32);
        var expected = c.GetProperty("state_keys").EnumerateArray().Select(k => k.GetString()!).ToList();
        var actual = built.Module?.StateDict().Keys.ToList() ?? [];
        Assert.Equal(expected, actual);
        // A fresh module (not loaded) has PyTorch's shapes too.
        var state = RnnFixtures.State(c, DType.Float32);
        foreach (var (name, p) in built.Module?.NamedParameters() ?? [])
            Assert.Equal(state[name].ShapeArray, p.ShapeArray);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void PassesGradCheck(string id)
    {
        var c = RnnFixtures.Cases[id];
        if (!c.GetProperty("gradcheck").GetBoolean()) return;
        var built = RnnFixtures.Build(c, DType.Float64);
        var inputs = RnnFixtures.Inputs(c, DType.Float64);
        var wrt = inputs.Values.Where(t => t.RequiresGrad).Concat(built.Module?.Parameters() ?? []).ToArray();
        Assert.NotEmpty(wrt);
        // The function reads the same tensor objects GradCheck perturbs (inputs and the module's parameters);
        // all outputs (output, h_n, c_n / weights) are checked at once, flattened and concatenated.
        Assert.True(DeepSharp.Autograd.GradCheck(_ => Tensor.Cat(built.Run(inputs).Select(o => o.Flatten()).ToArray()),
            wrt, eps: 1e-6, atol: 1e-5, rtol: 1e-4), $"{id}: GradCheck failed");
    }

    private static void RunParity(string id, bool nonContiguous)
    {
        var c = RnnFixtures.Cases[id];
        const double rtol = Rtol, atol = Atol;
        var built = RnnFixtures.Build(c, DType.Float32);
        var inputs = RnnFixtures.Inputs(c, DType.Float32, nonContiguous);
        var outputs = built.Run(inputs);
        var expected = c.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, outputs.Length);
        for (int i = 0; i < outputs.Length; i++)
            OpParityTests.AssertClose(Fixtures.ToTensor(expected[i]), outputs[i], rtol, atol, $"{id} {expected[i].GetProperty("name").GetString()}");

        // loss = sum_i <output_i, grad_output_i>, the same weighting PyTorch's autograd.grad used.
        var gradOutputs = c.GetProperty("grad_outputs").EnumerateArray().Select(g => Fixtures.ToTensor(g)).ToArray();
        Tensor? loss = null;
        for (int i = 0; i < outputs.Length; i++)
            if (outputs[i].RequiresGrad) loss = loss is null ? (outputs[i] * gradOutputs[i]).Sum() : loss + (outputs[i] * gradOutputs[i]).Sum();
        Assert.NotNull(loss);
        loss.Backward();

        foreach (var g in c.GetProperty("grads").EnumerateObject())
        {
            var x = inputs[g.Name];
            OpParityTests.AssertClose(Fixtures.ToTensor(g.Value), x.Grad ?? Tensor.ZerosLike(x), rtol, atol, $"{id} grad of input {g.Name}");
        }
        var parameters = built.Module?.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter) ?? [];
        var expectedParams = c.GetProperty("param_grads").EnumerateObject().ToList();
        Assert.Equal(expectedParams.Select(e => e.Name).Order(), parameters.Keys.Order());
        foreach (var e in expectedParams)
        {
            var p = parameters[e.Name];
            OpParityTests.AssertClose(Fixtures.ToTensor(e.Value), p.Grad ?? Tensor.ZerosLike(p), rtol, atol, $"{id} grad of parameter {e.Name}");
        }
    }
}
