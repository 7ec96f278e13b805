namespace DeepSharp.Tests.Tensors;

public sealed class ShapeTests
{
    [Fact]
    public void PrintsAsBracketedSizes()
    {
        Assert.Equal("[2, 3]", Tensor.Zeros(2, 3).Shape.ToString());
        Assert.Equal("[]", Tensor.Scalar(1f).Shape.ToString());
        Assert.Equal("[]", default(Shape).ToString());
        Assert.Equal("shape [4, 1, 5]", $"shape {Tensor.Zeros(4, 1, 5).Shape}");
    }

    [Fact]
    public void ComparesByValue()
    {
        var a = Tensor.Zeros(2, 3);
        var b = Tensor.Ones(2, 3);
        Assert.True(a.Shape == b.Shape);
        Assert.False(a.Shape != b.Shape);
        Assert.True(a.Shape.Equals(b.Shape));
        Assert.True(a.Shape.Equals((object)b.Shape));
        Assert.Equal(a.Shape.GetHashCode(), b.Shape.GetHashCode());
        Assert.Equal(new Shape(2, 3), a.Shape);
        Assert.NotEqual(new Shape(3, 2), a.Shape);
        Assert.NotEqual(new Shape(2, 3, 1), a.Shape);
        Assert.Equal(default(Shape), Tensor.Scalar(2.0).Shape);
        Assert.Equal(new Shape(), default(Shape));
        Assert.False(a.Shape.Equals("[2, 3]"));
        // Usable as a dictionary key: equal shapes find the same entry.
        var byShape = new Dictionary<Shape, string> { [a.Shape] = "matrix" };
        Assert.Equal("matrix", byShape[Tensor.Zeros(2, 3).Shape]);
    }

    [Fact]
    public void ConstructorCopiesAndRejectsNegativeSizes()
    {
        int[] dims = [4, 5];
        var shape = new Shape(dims);
        dims[0] = 9;
        Assert.Equal(4, shape[0]);
        Assert.Throws<ArgumentException>(() => new Shape(2, -1));
    }

    [Fact]
    public void WorksWithLinq()
    {
        var t = Tensor.Zeros(2, 3, 4);
        Assert.Equal(new[] { 4, 6, 8 }, t.Shape.Select(d => d * 2));
        Assert.Equal(24, t.Shape.Aggregate(1, (a, b) => a * b));
        Assert.Equal(t.Numel, t.Shape.Numel);
        Assert.Equal(4, t.Shape.Max());
        Assert.Equal(new[] { 3, 4 }, t.Shape.Where(d => d > 2).ToList());
        Assert.Equal(1, Tensor.Scalar(1f).Shape.Numel);
        Assert.Equal(0, Tensor.Zeros(3, 0).Shape.Numel);
    }

    [Fact]
    public void CanBeCapturedInALambda()
    {
        var t = Tensor.Zeros(5, 7);
        var shape = t.Shape; // a ReadOnlySpan could not be captured
        Func<int, int> size = d => shape[d];
        var sizes = Enumerable.Range(0, shape.Rank).Select(d => shape[d] + size(d)).ToArray();
        Assert.Equal(new[] { 10, 14 }, sizes);
        IReadOnlyList<int> list = shape;
        Assert.Equal(2, list.Count);
        Assert.Equal(7, list[1]);
    }

    [Fact]
    public void ForeachVisitsEveryDimensionInOrder()
    {
        var visited = new List<int>();
        foreach (int d in Tensor.Zeros(6, 1, 2).Shape) visited.Add(d);
        Assert.Equal(new[] { 6, 1, 2 }, visited);

        visited.Clear();
        foreach (int d in default(Shape)) visited.Add(d);
        Assert.Empty(visited);

        using var e = ((IEnumerable<int>)new Shape(8, 9)).GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.Equal(8, e.Current);
        Assert.True(e.MoveNext());
        Assert.Equal(9, e.Current);
        Assert.False(e.MoveNext());
        e.Reset();
        Assert.True(e.MoveNext());
        Assert.Equal(8, e.Current);
    }

    [Fact]
    public void IndicesFromTheEndAndRanges()
    {
        var t = Tensor.Zeros(2, 3, 4, 5);
        Assert.Equal(5, t.Shape[^1]);
        Assert.Equal(4, t.Shape.Rank);
        Assert.Equal(4, t.Shape.Length);
        Assert.Equal(4, t.Shape.Count);
        Assert.Equal(new[] { 3, 4, 5 }, t.Shape[1..].ToArray());
        Assert.Equal(new[] { 2, 3, 4 }, t.Shape[..^1].ToArray());
        Assert.Equal(new[] { 4, 5 }, t.Shape.Slice(2).ToArray());
        Assert.Equal(new[] { 3 }, t.Shape.Slice(1, 1).ToArray());
        Assert.Throws<IndexOutOfRangeException>(() => t.Shape[4]);
    }

    [Fact]
    public void ListPatternsDeconstructTheShape()
    {
        string Describe(Tensor x) => x.Shape switch
        {
            [] => "scalar",
            [var n] => $"vector of {n}",
            [var rows, var cols] => $"{rows}x{cols} matrix",
            [var batch, .., var last] => $"batch of {batch}, last dimension {last}",
        };
        Assert.Equal("scalar", Describe(Tensor.Scalar(1f)));
        Assert.Equal("vector of 3", Describe(Tensor.Zeros(3)));
        Assert.Equal("2x5 matrix", Describe(Tensor.Zeros(2, 5)));
        Assert.Equal("batch of 8, last dimension 4", Describe(Tensor.Zeros(8, 3, 4)));
    }

    [Fact]
    public void ConvertsToASpanOverTheTensorsOwnArray()
    {
        var t = Tensor.Zeros(2, 3);
        ReadOnlySpan<int> span = t.Shape;
        Assert.Equal(new[] { 2, 3 }, span.ToArray());
        Assert.True(span == t.ShapeArray.AsSpan()); // same memory: no copy
        Assert.True(t.Shape.AsSpan() == t.ShapeArray.AsSpan());
        Assert.Equal("[2, 3]", Shapes.Format(t.Shape)); // passes where a span is expected

        int[] copy = t.Shape.ToArray();
        copy[0] = 99;
        Assert.Equal(2, t.Shape[0]);
    }

    [Fact]
    public void KeepsItsValueWhenTheTensorGetsNewData()
    {
        var p = Tensor.Zeros(2, 3);
        var before = p.Shape;
        p.SetData(Tensor.Zeros(4));
        Assert.Equal("[2, 3]", before.ToString());
        Assert.Equal("[4]", p.Shape.ToString());
    }
}
