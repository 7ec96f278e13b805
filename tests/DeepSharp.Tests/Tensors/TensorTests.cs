namespace DeepSharp.Tests.Tensors;

using DeepSharp;

public sealed class TensorTests
{
    [Fact]
    public void CreationShapesAndDtypes()
    {
        Assert.Equal([2, 3], Tensor.Zeros(2, 3).Shape.ToArray());
        Assert.Equal(DType.Float64, Tensor.Ones([2], DType.Float64).DType);
        Assert.Equal([0.0, 1.0, 2.0], Tensor.Arange(3).ToDoubleArray());
        Assert.Equal(DType.Int64, Tensor.Arange(3).DType);
        Assert.Equal(DType.Float32, Tensor.Arange(0, 1, 0.25).DType);
        Assert.Equal([0.0, 0.25, 0.5, 0.75, 1.0], Tensor.Linspace(0, 1, 5).ToDoubleArray());
        Assert.Equal([1.0, 0, 0, 0, 1, 0], Tensor.Eye(2, 3).ToDoubleArray());
        Assert.Equal([7.0, 7.0], Tensor.Full([2], 7).ToDoubleArray());
        Assert.Equal([1.0, 2, 3, 4], Tensor.From(new float[,] { { 1, 2 }, { 3, 4 } }).ToDoubleArray());
        Assert.Equal(0, Tensor.Scalar(3).Rank);
    }

    [Fact]
    public void GeneratorIsReproducibleAndIndependentOfThreadCount()
    {
        var a = Tensor.Randn([1000], new Generator(42)).ToArray<float>();
        var b = Tensor.Randn([1000], new Generator(42)).ToArray<float>();
        Assert.Equal(a, b);
        var c = Tensor.Randn([1000], new Generator(43)).ToArray<float>();
        Assert.NotEqual(a, c);
        // Statistics look like N(0, 1).
        var t = Tensor.Randn([100_000], new Generator(7));
        Assert.InRange(t.Mean().ToDouble(), -0.02, 0.02);
        Assert.InRange(t.Std().ToDouble(), 0.98, 1.02);
        var u = Tensor.Rand([100_000], new Generator(7));
        Assert.InRange(u.Min().ToDouble(), 0.0, 0.001);
        Assert.InRange(u.Max().ToDouble(), 0.999, 1.0);
        var ints = Tensor.Randint(-3, 4, [10_000], new Generator(1)).ToArray<long>();
        Assert.Equal(-3, ints.Min());
        Assert.Equal(3, ints.Max());
    }

    [Fact]
    public void GeneratorStateRoundTrips()
    {
        var g = new Generator(5);
        Tensor.Rand([10], g);
        var state = g.GetState();
        var first = Tensor.Rand([10], g).ToArray<float>();
        g.SetState(state);
        Assert.Equal(first, Tensor.Rand([10], g).ToArray<float>());
    }

    [Fact]
    public void ViewsShareStorage()
    {
        var x = Tensor.Arange(0, 12, 1, DType.Float32).Reshape(3, 4);
        var t = x.T();
        Assert.False(t.IsContiguous);
        Assert.Equal(4.0, t[0, 1].ToDouble());
        var row = x[1];
        using (Autograd.NoGrad()) row.Fill(-1);
        Assert.Equal(-1.0, x[1, 3].ToDouble());
        Assert.Equal([4, 3], t.Contiguous().Shape.ToArray());
        Assert.True(t.Contiguous().IsContiguous);
        var s = x.Slice(1, 0, 4, 2);
        Assert.Equal([0.0, 2, -1, -1, 8, 10], s.ToDoubleArray());
    }

    [Fact]
    public void ReshapeOfNonContiguousCopiesWhileViewRefuses()
    {
        var t = Tensor.Arange(0, 6, 1, DType.Float32).Reshape(2, 3).T();
        Assert.Equal([0.0, 3, 1, 4, 2, 5], t.Reshape(-1).ToDoubleArray());
        var ex = Assert.Throws<InvalidOperationException>(() => t.View(-1));
        Assert.Contains("Reshape", ex.Message);
    }

    [Fact]
    public void ToStringPrintsLikePyTorch()
    {
        Assert.Equal("tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2])", Tensor.From([1f, 2, 3, 4], 2, 2).ToString());
        Assert.Equal("tensor([0.5000, 1.2500], shape=[2], dtype=float64, requires_grad=True)", Tensor.From([0.5, 1.25]).SetRequiresGrad().ToString());
        Assert.Equal("tensor([1, 2], shape=[2], dtype=int64)", Tensor.From(new long[] { 1, 2 }).ToString());
        Assert.Contains("grad_fn=<MulBackward>", (Tensor.From([1.0]).SetRequiresGrad() * Tensor.From([2.0])).ToString());
        var big = Tensor.Arange(0, 2000, 1, DType.Float32).ToString();
        Assert.Contains("...", big);
        Assert.StartsWith("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]", big);
        Assert.Contains("e-05", Tensor.From([1e-5f, 1f]).ToString());
        Assert.Equal("tensor(3.5000, shape=[])", Tensor.Scalar(3.5).ToString());
    }

    [Fact]
    public void BadInputErrorsNameOpShapesAndExpectation()
    {
        var a = Tensor.Zeros(2, 3);
        var b = Tensor.Zeros(4, 5);
        var ex = Assert.Throws<ArgumentException>(() => a.MatMul(b));
        Assert.Contains("matmul", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
        Assert.Contains("3 != 4", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => a + b);
        Assert.Contains("add", ex.Message);
        Assert.Contains("cannot be broadcast", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => a + Tensor.Zeros([2, 3], DType.Float64));
        Assert.Contains("dtype mismatch", ex.Message);
        Assert.Contains("float32", ex.Message);
        Assert.Contains("float64", ex.Message);

        var range = Assert.Throws<ArgumentOutOfRangeException>(() => a.Sum(2));
        Assert.Contains("sum", range.Message);
        Assert.Contains("out of range", range.Message);

        ex = Assert.Throws<ArgumentException>(() => a.Reshape(4, 2));
        Assert.Contains("reshape", ex.Message);
        Assert.Contains("size 6", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Tensor.From(new long[] { 1, 2 }).Exp());
        Assert.Contains("exp", ex.Message);
        Assert.Contains("int64", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => Tensor.Cat([a, b], 0));
        Assert.Contains("cat", ex.Message);

        range = Assert.Throws<ArgumentOutOfRangeException>(() => a.IndexSelect(0, Tensor.From(new long[] { 5 })));
        Assert.Contains("index 5 is out of bounds", range.Message);

        ex = Assert.Throws<ArgumentException>(() => Tensor.From([1f, 2f], 3));
        Assert.Contains("needs 3 elements", ex.Message);
    }

    [Fact]
    public void IntegerArithmeticStaysInt64()
    {
        var a = Tensor.From(new long[] { 1, 2, 3 });
        var s = (a * 2 + a).Sum();
        Assert.Equal(DType.Int64, s.DType);
        Assert.Equal(18L, s.Item<long>());
        Assert.Equal(3L, a.Max().Item<long>());
        Assert.Equal([2L], a.Argmax().Reshape(1).ToArray<long>());
    }

    [Fact]
    public void ComparisonsProduceMasksAndWhereSelects()
    {
        var x = Tensor.From([-1f, 0f, 2f]);
        var m = x.Gt(0);
        Assert.Equal(DType.Bool, m.DType);
        Assert.Equal([false, false, true], m.ToArray<bool>());
        Assert.Equal([0.0, 0, 2], Tensor.Where(m, x, Tensor.Scalar(0)).ToDoubleArray());
        Assert.Equal([9.0, 0, 2], x.MaskedFill(x.Lt(0), 9).ToDoubleArray());
        Assert.Equal(1L, m.Sum().Item<long>());
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        var x = Tensor.From([1e4f, -1e4f, 0f]);
        var p = x.Softmax(0).ToArray<float>();
        Assert.Equal([1f, 0f, 0f], p);
        var lp = x.LogSoftmax(0).ToArray<float>();
        Assert.Equal(0f, lp[0]);
        Assert.Equal(-2e4f, lp[1]);
        Assert.True(float.IsFinite(x.LogSumExp(0).ToSingle()));
    }

    [Fact]
    public void InPlaceOpsBumpTheVersionCounter()
    {
        var x = Tensor.Zeros(3);
        int v = x.Version;
        x.AddInPlace(1.0).MulInPlace(2.0);
        Assert.Equal(v + 2, x.Version);
        Assert.Equal([2.0, 2, 2], x.ToDoubleArray());
        var view = x.Narrow(0, 0, 2);
        view.Zero();
        Assert.Equal(x.Version, view.Version); // shared with views
        Assert.Equal([0.0, 0, 2], x.ToDoubleArray());
    }

    [Fact]
    public void ToConvertsWithCastSemanticsBetweenEveryDType()
    {
        // 40 elements: vector bodies and tails of the span conversions.
        var values = Enumerable.Range(0, 40).Select(i => (i - 20) * 0.7).Concat([double.NaN, 1e30, -1e30, 0.5, -0.5, 3e38 * 10]).ToArray();
        var d = Tensor.From(values, values.Length);
        Assert.Equal(values.Select(v => (float)v).ToArray(), d.To(DType.Float32).ToArray<float>());
        Assert.Equal(values.Select(v => (long)v).ToArray(), d.To(DType.Int64).ToArray<long>());
        Assert.Equal(values.Select(v => v != 0).ToArray(), d.To(DType.Bool).ToArray<bool>());
        var f = d.To(DType.Float32);
        var fs = f.ToArray<float>();
        Assert.Equal(fs.Select(v => (double)v).ToArray(), f.To(DType.Float64).ToArray<double>());
        Assert.Equal(fs.Select(v => (long)v).ToArray(), f.To(DType.Int64).ToArray<long>());
        Assert.Equal(fs.Select(v => v != 0).ToArray(), f.To(DType.Bool).ToArray<bool>());
        var l = Tensor.From(new long[] { long.MaxValue, long.MinValue, -3, 0, 1L << 53 | 1, 7 }, 6);
        Assert.Equal(l.ToArray<long>().Select(v => (float)v).ToArray(), l.To(DType.Float32).ToArray<float>());
        Assert.Equal(l.ToArray<long>().Select(v => (double)v).ToArray(), l.To(DType.Float64).ToArray<double>());
        Assert.Equal(new[] { true, true, true, false, true, true }, l.To(DType.Bool).ToArray<bool>());
        var b = Tensor.From(new[] { true, false, true }, 3);
        Assert.Equal(new[] { 1f, 0f, 1f }, b.To(DType.Float32).ToArray<float>());
        Assert.Equal(new[] { 1.0, 0.0, 1.0 }, b.To(DType.Float64).ToArray<double>());
        Assert.Equal(new[] { 1L, 0L, 1L }, b.To(DType.Int64).ToArray<long>());
    }
}
