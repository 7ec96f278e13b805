namespace DeepSharp.Tests.Autograd;

using DeepSharp;

public sealed class EngineTests
{
    private static Tensor Leaf(params double[] values) => Tensor.From(values).SetRequiresGrad();

    [Fact]
    public void ChainRuleThroughSharedSubexpressionAccumulates()
    {
        var x = Leaf(2.0);
        var y = x * x;         // used twice below
        var z = y * y + y;     // z = x^4 + x^2 -> dz/dx = 4x^3 + 2x = 36
        z.Sum().Backward();
        Assert.Equal(36.0, x.Grad!.ToDouble(), 12);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCallsUntilCleared()
    {
        var x = Leaf(3.0);
        (x * 2).Sum().Backward();
        (x * 2).Sum().Backward();
        Assert.Equal(4.0, x.Grad!.ToDouble());
        x.Grad = null;
        (x * 5).Sum().Backward();
        Assert.Equal(5.0, x.Grad!.ToDouble());
    }

    [Fact]
    public void SecondBackwardThroughReleasedGraphFailsClearly()
    {
        var x = Leaf(1.0, 2.0);
        var loss = (x * x).Sum();
        loss.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("second time", ex.Message);
        Assert.Contains("retainGraph", ex.Message);
    }

    [Fact]
    public void RetainGraphAllowsSecondBackward()
    {
        var x = Leaf(1.0, 2.0);
        var loss = (x * x).Sum();
        loss.Backward(retainGraph: true);
        loss.Backward();
        Assert.Equal([4.0, 8.0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void InPlaceChangeOfSavedTensorIsRefusedAtBackward()
    {
        var w = Leaf(1.0, 2.0);
        var x = Tensor.From([3.0, 4.0]);
        var y = (w * x).Sum();   // MulBackward saves x to compute dL/dw
        x.AddInPlace(1.0);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("modified by an in-place operation", ex.Message);
        Assert.Contains("version", ex.Message);
    }

    [Fact]
    public void InPlaceOnSavedOutputIsRefused()
    {
        var x = Leaf(0.5, 1.0);
        var y = x.Exp();         // ExpBackward saves its output
        var z = y * 1.0;
        y.AddInPlace(1.0);
        var ex = Assert.Throws<InvalidOperationException>(() => z.Sum().Backward());
        Assert.Contains("ExpBackward", ex.Message);
    }

    [Fact]
    public void InPlaceOnLeafRequiringGradIsRefusedUnlessNoGrad()
    {
        var w = Leaf(1.0);
        var ex = Assert.Throws<InvalidOperationException>(() => w.AddInPlace(1.0));
        Assert.Contains("leaf", ex.Message);
        using (DeepSharp.Autograd.NoGrad()) w.AddInPlace(1.0);
        Assert.Equal(2.0, w.ToDouble());
    }

    [Fact]
    public void InPlaceOnNonLeafIsRecorded()
    {
        var x = Leaf(1.0, 2.0);
        var y = x * 3;
        y.MulInPlace(x * 2);           // y = 6x^2 -> dy/dx = 12x
        y.Sum().Backward();
        Assert.Equal([12.0, 24.0], x.Grad!.ToDoubleArray());
        Assert.True(y.Version > 0);
    }

    [Fact]
    public void NoGradScopeRecordsNothing()
    {
        var x = Leaf(1.0);
        Tensor y;
        using (DeepSharp.Autograd.NoGrad()) y = x * 2;
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        Assert.True(DeepSharp.Autograd.IsGradEnabled);
    }

    [Fact]
    public void DetachCutsHistoryAndSharesStorage()
    {
        var x = Leaf(1.0, 2.0);
        var y = x * 2;
        var d = y.Detach();
        Assert.False(d.RequiresGrad);
        Assert.Equal(y.ToDoubleArray(), d.ToDoubleArray());
        (d * x).Sum().Backward();
        Assert.Equal([2.0, 4.0], x.Grad!.ToDoubleArray()); // no path through d
    }

    [Fact]
    public void HooksSeeAndCanReplaceGradients()
    {
        var x = Leaf(1.0, 2.0);
        var y = x * 3;
        Tensor? seen = null;
        y.RegisterHook(g => { seen = g.Clone(); return g * 10; });
        using var handle = x.RegisterHook(g => g + 1);
        y.Sum().Backward();
        Assert.Equal([1.0, 1.0], seen!.ToDoubleArray());
        Assert.Equal([31.0, 31.0], x.Grad!.ToDoubleArray()); // 10 * 3 + 1
    }

    [Fact]
    public void RemovedHookIsNotCalled()
    {
        var x = Leaf(1.0);
        var handle = x.RegisterHook(g => g * 100);
        handle.Dispose();
        (x * 2).Sum().Backward();
        Assert.Equal(2.0, x.Grad!.ToDouble());
    }

    [Fact]
    public void RetainGradKeepsNonLeafGradient()
    {
        var x = Leaf(1.0, 2.0);
        var y = x * 2;
        y.RetainGrad();
        (y * y).Sum().Backward();
        Assert.Equal([4.0, 8.0], y.Grad!.ToDoubleArray());
    }

    [Fact]
    public void LeafGradientsNeverAliasEachOther()
    {
        var a = Leaf(1.0, 2.0);
        var b = Leaf(3.0, 4.0);
        (a + b).Sum().Backward();
        Assert.NotSame(a.Grad, b.Grad);
        a.Grad!.MulInPlace(5.0);
        Assert.Equal([1.0, 1.0], b.Grad!.ToDoubleArray());
    }

    [Fact]
    public void BroadcastGradientsAreReducedToInputShapes()
    {
        var a = Tensor.Ones([3, 4], DType.Float64, requiresGrad: true);
        var b = Tensor.Ones([4], DType.Float64, requiresGrad: true);
        var c = Tensor.Ones([3, 1], DType.Float64, requiresGrad: true);
        (a * b * c).Sum().Backward();
        Assert.Equal([4], b.Grad!.Shape.ToArray());
        Assert.Equal([3, 1], c.Grad!.Shape.ToArray());
        Assert.Equal(Enumerable.Repeat(3.0, 4), b.Grad!.ToDoubleArray());
        Assert.Equal(Enumerable.Repeat(4.0, 3), c.Grad!.ToDoubleArray());
    }

    [Fact]
    public void NonScalarBackwardNeedsExplicitGradient()
    {
        var x = Leaf(1.0, 2.0);
        var ex = Assert.Throws<InvalidOperationException>(() => (x * 2).Backward());
        Assert.Contains("one-element", ex.Message);
        (x * 2).Backward(Tensor.From([1.0, 0.5]));
        Assert.Equal([2.0, 1.0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void BackwardOnTensorWithoutGradFails()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.From([1.0]).Sum().Backward());
        Assert.Contains("does not require grad", ex.Message);
    }

    [Fact]
    public void IntegerTensorsCannotRequireGrad()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.From(new long[] { 1, 2 }).RequiresGrad = true);
        Assert.Contains("floating-point", ex.Message);
    }

    [Fact]
    public void GradCheckReportsInputElementAnalyticAndNumeric()
    {
        // A deliberately wrong derivative: claims d(x^3)/dx = x^2.
        var x = Tensor.From([1.0, 2.0]).SetRequiresGrad();
        var ex = Assert.Throws<GradCheckException>(() =>
            DeepSharp.Autograd.GradCheck(t => WrongCube.Apply(t[0]), [x]));
        Assert.Contains("input 0", ex.Message);
        Assert.Contains("element 0", ex.Message);
        Assert.Contains("analytic", ex.Message);
        Assert.Contains("numeric", ex.Message);
    }

    [Fact]
    public void GradCheckPassesOnCompositeExpression()
    {
        var x = Tensor.Randn([3, 4], new Generator(1), DType.Float64, requiresGrad: true);
        var w = Tensor.Randn([4, 2], new Generator(2), DType.Float64, requiresGrad: true);
        Assert.True(DeepSharp.Autograd.GradCheck(t => t[0].MatMul(t[1]).Tanh().Softmax(-1).Log().Mean(), [x, w]));
    }

    [Fact]
    public void DeepChainDoesNotOverflowTheStack()
    {
        var x = Leaf(1.0);
        var y = x;
        for (int i = 0; i < 100_000; i++) y = y + 0.0;
        y.Sum().Backward();
        Assert.Equal(1.0, x.Grad!.ToDouble());
    }

    [Fact]
    public void AutogradGradDoesNotTouchDotGrad()
    {
        var x = Leaf(3.0);
        var g = DeepSharp.Autograd.Grad((x * x).Sum(), [x]);
        Assert.Equal(6.0, g[0].ToDouble());
        Assert.Null(x.Grad);
    }

    private static class WrongCube
    {
        // Numerically x^3, but the detached factor hides 2/3 of the slope from autograd: it sees d/dx = x^2.
        public static Tensor Apply(Tensor x) => (x * x).Detach() * x;
    }
}
