using DeepSharp.Insight;
using DeepSharp.NN;

namespace DeepSharp.Tests.Insight;

public sealed class BackpropExplainerTests
{
    [Theory]
    [InlineData(new[] { 2, 3, 2 }, 0UL)]
    [InlineData(new[] { 3, 5, 4, 2 }, 7UL)]
    public void FormulaAutogradAndCentralDifferencesAgree(int[] sizes, ulong seed)
    {
        var e = BackpropExplainer.Run(sizes, seed);
        Assert.True(e.Agrees, $"autograd {e.MaxDiffAutograd}, numeric {e.MaxDiffNumeric}, forward {e.MaxDiffForward}");
        Assert.True(e.MaxDiffAutograd < 1e-12);
        Assert.True(e.MaxDiffNumeric < 1e-8);
        Assert.Equal(sizes.Length - 1, e.Layers.Count);
        // The formulas as written: δ^L = (2/n)(a^L - y) ⊙ σ'(z^L) and ∂C/∂W = δ (a^{l-1})^T.
        var last = e.Layers[^1];
        for (int i = 0; i < e.Target.Length; i++)
            Assert.Equal(2.0 / e.Target.Length * (last.A[i] - e.Target[i]) * BackpropExplainer.SigmoidPrime(last.Z[i]), last.Delta[i], 14);
        var first = e.Layers[0];
        Assert.Equal(first.Delta[1] * e.Input[0], first.WeightGradFormula[1][0], 14);
        Assert.Equal(first.Delta, first.BiasGradFormula);
    }

    [Fact]
    public void DeepSigmoidGradientsVanishWhileReluWithHeInitKeepsThem()
    {
        static Sequential Deep(bool relu)
        {
            var g = new Generator(1);
            var model = new Sequential();
            for (int l = 0; l < 10; l++)
            {
                var linear = new Linear(l == 0 ? 100 : 64, l == 9 ? 10 : 64, generator: g);
                if (relu) Init.KaimingNormal(linear.Weight, nonlinearity: Nonlinearity.Relu, generator: g);
                model.Add(linear);
                if (l < 9) model.Add(relu ? new Relu() : new Sigmoid());
            }
            return model;
        }

        var x = Tensor.Rand([32, 100], new Generator(2));
        var y = Tensor.Randint(0, 10, [32], new Generator(3));
        double Ratio(Sequential m)
        {
            Functional.CrossEntropy(m.Call(x), y).Backward();
            var norms = GradientFlow.LayerNorms(m);
            Assert.Equal(10, norms.Count);
            Assert.All(norms, n => Assert.NotNull(n.BiasGradNorm));
            return norms[0].WeightGradNorm / norms[^1].WeightGradNorm;
        }

        Assert.True(Ratio(Deep(relu: false)) < 1e-2);
        Assert.True(Ratio(Deep(relu: true)) > 1e-2);
    }
}
