using DeepSharp.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>ClipGradNorm and ClipGradValue against torch.nn.utils.clip_grad_norm_ / clip_grad_value_.</summary>
public sealed class ClipGradTests
{
    public static IEnumerable<object[]> Ids() => OptimFixtures.Ids("clip");

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesPyTorch(string id)
    {
        var c = OptimFixtures.Case("clip", id);
        var dtype = c.GetProperty("dtype").GetString() == "float32" ? DType.Float32 : DType.Float64;
        double rtol = dtype == DType.Float32 ? 2e-6 : 1e-12;
        var grads = c.GetProperty("grads").EnumerateArray().Select(OptimFixtures.Numbers).ToArray();
        var parameters = grads.Select(g => WithGrad(g, dtype)).Append(Tensor.Zeros([2], dtype, requiresGrad: true)).ToArray();
        var args = OptimFixtures.Args(c.GetProperty("args"));
        if (c.GetProperty("kind").GetString() == "norm")
        {
            double normType = args.TryGetValue("norm_type", out var p) ? OptimFixtures.Number(p) : 2;
            double total = args.ContainsKey("norm_type")
                ? GradClipping.ClipGradNorm(parameters, args["max_norm"].GetDouble(), normType)
                : GradClipping.ClipGradNorm(parameters, args["max_norm"].GetDouble());
            double want = c.GetProperty("total_norm").GetDouble();
            Assert.True(Math.Abs(total - want) <= rtol * want, $"{id}: total norm {total:R}, PyTorch {want:R}");
        }
        else
        {
            GradClipping.ClipGradValue(parameters, args["clip_value"].GetDouble());
        }
        var clipped = c.GetProperty("clipped").EnumerateArray().Select(OptimFixtures.Numbers).ToArray();
        for (int k = 0; k < clipped.Length; k++)
        {
            var got = parameters[k].Grad!.ToDoubleArray();
            for (int i = 0; i < got.Length; i++)
                if (!(Math.Abs(got[i] - clipped[k][i]) <= rtol * Math.Abs(clipped[k][i]) + 1e-30))
                    Assert.Fail($"{id}: grad {k}[{i}] is {got[i]:R}, PyTorch {clipped[k][i]:R}");
        }
        Assert.Null(parameters[^1].Grad);
    }

    [Fact]
    public void NonFiniteNormThrowsWhenAskedAndPoisonsGradientsOtherwise()
    {
        var p = WithGrad([1, double.NaN, 2], DType.Float32);
        var ex = Assert.Throws<InvalidOperationException>(() => GradClipping.ClipGradNorm([p], 1.0, errorIfNonfinite: true));
        Assert.Contains("non-finite", ex.Message);
        Assert.Equal(1.0, p.Grad!.ToDoubleArray()[0]); // untouched when it throws

        Assert.True(double.IsNaN(GradClipping.ClipGradNorm([p], 1.0)));
        Assert.All(p.Grad!.ToDoubleArray(), v => Assert.True(double.IsNaN(v)));

        var q = WithGrad([1, double.PositiveInfinity], DType.Float64);
        Assert.Throws<InvalidOperationException>(() => GradClipping.ClipGradNorm([q], 1.0, double.PositiveInfinity, errorIfNonfinite: true));
        Assert.Equal(double.PositiveInfinity, GradClipping.ClipGradNorm([q], 1.0, double.PositiveInfinity));
    }

    [Fact]
    public void EdgeCases()
    {
        Assert.Equal(0, GradClipping.ClipGradNorm([Tensor.Zeros([3], DType.Float32, requiresGrad: true)], 1.0)); // no gradients
        Assert.Throws<ArgumentOutOfRangeException>(() => GradClipping.ClipGradNorm([WithGrad([1.0], DType.Float32)], 1.0, normType: 0));

        // Long float32 gradients exercise the SIMD paths and tails; the norm is accumulated in double.
        var values = Enumerable.Range(0, 1003).Select(i => Math.Sin(i) * 3).ToArray();
        var p = WithGrad(values, DType.Float32);
        double expected = Math.Sqrt(values.Sum(v => (double)(float)v * (float)v));
        double total = GradClipping.ClipGradNorm([p], 2.0);
        Assert.Equal(expected, total, 1e-9);
        var clipped = p.Grad!.ToDoubleArray();
        double coefficient = 2.0 / (expected + 1e-6);
        for (int i = 0; i < values.Length; i++) Assert.Equal((float)((float)values[i] * (float)coefficient), (float)clipped[i]);

        var v = WithGrad([-2, double.NaN, 0.1, 5], DType.Float64);
        GradClipping.ClipGradValue([v], 1.0);
        var got = v.Grad!.ToDoubleArray();
        Assert.Equal(-1.0, got[0]);
        Assert.True(double.IsNaN(got[1]));
        Assert.Equal(0.1, got[2]);
        Assert.Equal(1.0, got[3]);
    }

    [Fact]
    public void NonContiguousGradientsAreClippedInPlace()
    {
        var p = Tensor.Zeros([2, 3], DType.Float32, requiresGrad: true);
        p.Grad = Tensor.From(new float[] { 3, 0, 0, 4, 0, 0 }, 3, 2).Transpose(0, 1);
        Assert.False(p.Grad.IsContiguous);
        Assert.Equal(5.0, GradClipping.ClipGradNorm([p], 1.0), 1e-6);
        Assert.Equal(0.6, p.Grad.ToDoubleArray()[0], 1e-6);
        GradClipping.ClipGradValue([p], 0.1);
        Assert.Equal(0.1, p.Grad.ToDoubleArray().Max(), 1e-7);
    }

    private static Tensor WithGrad(double[] grad, DType dtype)
    {
        var p = Tensor.Zeros([grad.Length], dtype, requiresGrad: true);
        p.Grad = Tensor.From(grad, grad.Length).To(dtype);
        return p;
    }
}
