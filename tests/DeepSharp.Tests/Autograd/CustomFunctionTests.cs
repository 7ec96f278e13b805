namespace DeepSharp.Tests.Autograd;

using DeepSharp;
using DeepSharp.NN;
using DeepSharp.Optim;

/// <summary>User-defined differentiable functions (<see cref="Function"/>): the public face of the op mechanism.</summary>
public sealed class CustomFunctionTests
{
    // ---- the example of docs/architecture.md "Adding an op", kept here so it compiles ----

    /// <summary>y = x * exp(x); dy/dx = exp(x) * (x + 1).</summary>
    private sealed class XExpX : Function
    {
        protected override Tensor Forward(FunctionContext ctx, ReadOnlySpan<Tensor> inputs)
        {
            var x = inputs[0];
            var e = x.Exp();
            ctx.SaveForBackward(x, e);
            return x * e;
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            var x = ctx.Saved(0);
            var e = ctx.Saved(1);
            return [gradOutput * e * (x + 1)];
        }
    }

    /// <summary>Clamp to [lo, hi] in forward, identity gradient (straight-through estimator).</summary>
    private sealed class StraightThroughClamp(double lo, double hi) : Function
    {
        public override string Name => "StraightThroughClampBackward";

        protected override Tensor Forward(FunctionContext ctx, ReadOnlySpan<Tensor> inputs) => inputs[0].Clamp(lo, hi);

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => [gradOutput];
    }

    /// <summary>a * b with b treated as a constant when it needs no gradient.</summary>
    private sealed class Scale : Function
    {
        public bool[] Needed = [];

        protected override Tensor Forward(FunctionContext ctx, ReadOnlySpan<Tensor> inputs)
        {
            ctx.SaveForBackward(ctx.NeedsInputGrad(1) ? inputs[0] : null, inputs[1]);
            return inputs[0] * inputs[1];
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
        {
            Needed = [ctx.NeedsInputGrad(0), ctx.NeedsInputGrad(1)];
            return
            [
                ctx.NeedsInputGrad(0) ? gradOutput * ctx.Saved(1) : null,
                ctx.NeedsInputGrad(1) ? gradOutput * ctx.Saved(0) : null,
            ];
        }
    }

    /// <summary>Returns whatever gradients it is given to return: for the error messages.</summary>
    private sealed class Faulty(Func<Tensor, Tensor?[]> backward) : Function
    {
        protected override Tensor Forward(FunctionContext ctx, ReadOnlySpan<Tensor> inputs) => inputs[0] * 2;

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput) => backward(gradOutput);
    }

    private static Tensor Float64(int[] shape, ulong seed) =>
        Tensor.Randn(shape, new Generator(seed), DType.Float64, requiresGrad: true);

    [Fact]
    public void XExpXPassesGradCheck()
    {
        var x = Float64([3, 4], 1);
        Assert.True(DeepSharp.Autograd.GradCheck(t => new XExpX().Apply(t[0]), [x]));
        var y = new XExpX().Apply(x);
        Assert.Equal("XExpXBackward", y.GradFn!.Name);
        Assert.Equal((x * x.Exp()).ToDoubleArray(), y.ToDoubleArray());
    }

    [Fact]
    public void ForwardIsNotRecordedAndNothingIsRecordedWithoutGrad()
    {
        var x = Float64([5], 2);
        var y = new XExpX().Apply(x);
        Assert.IsType<FunctionContext>(y.GradFn);             // the function itself, not the Mul inside Forward
        Assert.Single(y.GradFn!.NextFunctions);
        using (DeepSharp.Autograd.NoGrad())
            Assert.Null(new XExpX().Apply(x).GradFn);
        Assert.Null(new XExpX().Apply(x.Detach()).GradFn);
    }

    [Fact]
    public void StraightThroughClampPassesTheGradientUnchanged()
    {
        var x = Tensor.From([-3.0, -0.5, 0.25, 2.0]);
        x.RequiresGrad = true;
        var y = new StraightThroughClamp(-1, 1).Apply(x);
        Assert.Equal([-1.0, -0.5, 0.25, 1.0], y.ToDoubleArray());
        Assert.Equal("StraightThroughClampBackward", y.GradFn!.Name);
        (y * Tensor.From([1.0, 2.0, 3.0, 4.0])).Sum().Backward();
        Assert.Equal([1.0, 2.0, 3.0, 4.0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void TwoInputsWhereOneNeedsNoGradient()
    {
        var a = Float64([2, 3], 3);
        var b = Tensor.Randn([2, 3], new Generator(4), DType.Float64);   // a constant
        var f = new Scale();
        var y = f.Apply(a, b);
        y.Sum().Backward();
        Assert.Equal([true, false], f.Needed);
        Assert.Equal(b.ToDoubleArray(), a.Grad!.ToDoubleArray());
        Assert.Null(b.Grad);
        // Both requiring grad: checked against finite differences.
        var b2 = Float64([2, 3], 5);
        Assert.True(DeepSharp.Autograd.GradCheck(t => new Scale().Apply(t[0], t[1]), [a, b2]));
    }

    private sealed class ClampedNet : Module<Tensor, Tensor>
    {
        private readonly Linear _linear;

        public ClampedNet() => _linear = RegisterModule("linear", new Linear(2, 1, dtype: DType.Float64, generator: new Generator(7)));

        public override Tensor Forward(Tensor input) => new XExpX().Apply(new StraightThroughClamp(-3, 3).Apply(_linear.Call(input)));
    }

    [Fact]
    public void TrainsInsideAModule()
    {
        var net = new ClampedNet();
        var input = Tensor.Randn([16, 2], new Generator(8), DType.Float64);
        var target = (input.Sum(1, keepDim: true) * 0.5).Exp() * 0.5;
        var opt = new Sgd(net.Parameters(), new SgdOptions(0.05));
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            opt.ZeroGrad();
            var loss = ((net.Call(input) - target) * (net.Call(input) - target)).Mean();
            loss.Backward();
            opt.Step();
            if (step == 0) first = loss.ToDouble();
            last = loss.ToDouble();
        }
        Assert.All(net.Parameters(), p => Assert.NotNull(p.Grad));
        Assert.True(last < first * 0.5, $"loss went from {first} to {last}");
    }

    [Fact]
    public void SavedTensorsAreReleasedAfterBackwardAndKeptWithRetainGraph()
    {
        var x = Float64([4], 9);
        var loss = new XExpX().Apply(x).Sum();
        loss.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("second time", ex.Message);
        Assert.Contains("XExpXBackward", ex.Message);

        var x2 = Float64([4], 10);
        var loss2 = new XExpX().Apply(x2).Sum();
        loss2.Backward(retainGraph: true);
        var once = x2.Grad!.ToDoubleArray();
        loss2.Backward();
        Assert.Equal(once.Select(v => 2 * v).ToArray(), x2.Grad!.ToDoubleArray());
    }

    [Fact]
    public void WrongGradientCountOrShapeFailsClearly()
    {
        var x = Float64([2, 3], 12);
        var tooMany = new Faulty(g => [g, g]).Apply(x).Sum();
        var ex = Assert.Throws<InvalidOperationException>(() => tooMany.Backward());
        Assert.Contains("returned 2 gradient(s)", ex.Message);
        Assert.Contains("1 input(s)", ex.Message);

        var wrongShape = new Faulty(g => [g.Sum(1)]).Apply(x).Sum();
        ex = Assert.Throws<InvalidOperationException>(() => wrongShape.Backward());
        Assert.Contains("for input 0", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);

        var wrongType = new Faulty(g => [g.To(DType.Float32)]).Apply(x).Sum();
        ex = Assert.Throws<InvalidOperationException>(() => wrongType.Backward());
        Assert.Contains("dtype float64", ex.Message);

        Assert.Throws<ArgumentException>(() => new XExpX().Apply());
    }
}
