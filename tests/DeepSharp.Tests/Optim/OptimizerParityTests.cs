using System.Text.Json;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// Every optimizer configuration in tests/fixtures/optim.json against PyTorch: 20 training steps
/// on the fixture problem, parameters compared after every step, in float64 (tight) and float32.
/// </summary>
public sealed class OptimizerParityTests
{
    public static IEnumerable<object[]> Ids() => OptimFixtures.Ids("optimizers");

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorchInFloat64(string id) => Run(id, DType.Float64, rtol: 1e-10, atol: 1e-13);

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorchInFloat32(string id) => Run(id, DType.Float32, rtol: 1e-5, atol: 1e-6);

    private static void Run(string id, DType dtype, double rtol, double atol)
    {
        var c = OptimFixtures.Case("optimizers", id);
        var problem = new OptimFixtures.Problem(dtype);
        var u0 = problem.U.ToDoubleArray();
        var optimizer = OptimFixtures.BuildOptimizer(c, problem.Params);
        var expected = c.GetProperty(dtype == DType.Float64 ? "float64" : "float32");
        for (int step = 0; step < 20; step++)
        {
            problem.TrainStep(optimizer);
            Compare(id, "W", step, expected.GetProperty("W")[step], problem.W, rtol, atol);
            Compare(id, "b", step, expected.GetProperty("b")[step], problem.B, rtol, atol);
        }
        Assert.Equal(u0, problem.U.ToDoubleArray()); // no gradient: skipped, as PyTorch does
    }

    private static void Compare(string id, string name, int step, JsonElement expected, Tensor actual, double rtol, double atol)
    {
        var want = OptimFixtures.Numbers(expected);
        var got = actual.ToDoubleArray();
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
        {
            double err = Math.Abs(got[i] - want[i]);
            if (!(err <= atol + rtol * Math.Abs(want[i])))
                Assert.Fail($"{id}: {name}[{i}] after step {step + 1} is {got[i]:R}, PyTorch {want[i]:R} (|diff| {err:E2})");
        }
    }
}
