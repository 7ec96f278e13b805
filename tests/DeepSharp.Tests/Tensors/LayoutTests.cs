namespace DeepSharp.Tests.Tensors;

/// <summary>
/// The stride arithmetic of <see cref="Layout"/>: contiguity, the storage offsets of view chains checked against a
/// naive index computation, and which reshapes can be views and which must copy.
/// </summary>
public sealed class LayoutTests
{
    /// <summary>Every index of <paramref name="shape"/> in row-major order.</summary>
    private static IEnumerable<int[]> Indices(int[] shape)
    {
        int numel = 1;
        foreach (int d in shape) numel *= d;
        var index = new int[shape.Length];
        for (int n = 0; n < numel; n++)
        {
            yield return (int[])index.Clone();
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
    }

    /// <summary>Storage offsets of every element in row-major order, computed one index at a time.</summary>
    private static int[] OffsetsByIndex(Layout layout) => Indices(layout.Shape).Select(i => layout.ElementOffset(i)).ToArray();

    [Fact]
    public void ContiguousStridesAndContiguity()
    {
        var l = Layout.Contiguous([2, 3, 4]);
        Assert.Equal([12, 4, 1], l.Strides);
        Assert.True(l.IsContiguous);
        Assert.Equal(24, l.Numel);
        Assert.Equal(0, l.Offset);

        // A size-0 dim counts as 1 for the strides before it; the dims after it must still be row-major
        // (as before Layout: the check walks from the last dim and stops at the first size-0 dim).
        Assert.Equal([3, 3, 1], Layout.ContiguousStrides([2, 0, 3]));
        Assert.True(new Layout([2, 0, 3], [3, 3, 1], 4).IsContiguous);
        Assert.True(new Layout([2, 3, 0], [7, 5, 9], 4).IsContiguous);
        Assert.Equal(0, new Layout([2, 3, 0], [7, 5, 9], 4).Numel);
        // Size-1 dims may have any stride.
        Assert.True(new Layout([2, 1, 3], [3, 99, 1], 0).IsContiguous);
        Assert.True(new Layout([], [], 5).IsContiguous);
        Assert.Equal(1, new Layout([], [], 5).Numel);

        Assert.False(l.Transpose(0, 2).IsContiguous);
        Assert.False(l.Narrow(2, 1, 2).IsContiguous);
        Assert.True(l.Narrow(0, 1, 1).IsContiguous);       // a row block of a contiguous tensor stays contiguous
        Assert.Equal(12, l.Narrow(0, 1, 1).Offset);
        Assert.False(Layout.Contiguous([1, 3]).Expand("expand", [4, 3]).IsContiguous);
        Assert.Throws<ArgumentException>(() => new Layout([2, 3], [1], 0));
    }

    [Fact]
    public void TransposeNarrowExpandOffsetsMatchNaiveIndexing()
    {
        // Base: [4, 5, 6] row-major starting at storage index 3.
        var baseLayout = Layout.Contiguous([4, 5, 6], offset: 3);
        var l = baseLayout.Transpose(0, 2)   // [6, 5, 4]: (i, j, k) -> base (k, j, i)
            .Narrow(1, 1, 3)                 // [6, 3, 4]: j -> j + 1
            .Unsqueeze(0)                    // [1, 6, 3, 4]
            .Expand("expand", [2, -1, 3, 4]); // [2, 6, 3, 4]: the new dim has stride 0
        Assert.Equal([2, 6, 3, 4], l.Shape);
        Assert.Equal(0, l.Strides[0]);
        Assert.Equal(3 + 6, l.Offset);
        foreach (var idx in Indices(l.Shape))
        {
            int naive = 3 + idx[3] * 30 + (idx[2] + 1) * 6 + idx[1];
            Assert.Equal(naive, l.ElementOffset(idx));
        }
        // The row-major walk visits the same offsets as indexing one element at a time.
        Assert.Equal(OffsetsByIndex(l), Layout.StorageIndices(l).ToArray());
    }

    [Fact]
    public void SliceSelectPermuteMoveDimAndSqueezeOffsetsMatchNaiveIndexing()
    {
        var baseLayout = Layout.Contiguous([3, 8, 2]);  // offset of (a, b, c) = 16a + 2b + c
        var sliced = baseLayout.Slice(1, 1, 3, step: 2); // b -> 1 + 2b
        foreach (var i in Indices(sliced.Shape))
            Assert.Equal(16 * i[0] + 2 * (1 + 2 * i[1]) + i[2], sliced.ElementOffset(i));

        var selected = baseLayout.Select(1, 5);          // [3, 2]
        Assert.Equal([3, 2], selected.Shape);
        foreach (var i in Indices(selected.Shape))
            Assert.Equal(16 * i[0] + 10 + i[1], selected.ElementOffset(i));

        var permuted = baseLayout.Permute([2, 0, 1]);    // (c, a, b)
        foreach (var i in Indices(permuted.Shape))
            Assert.Equal(16 * i[1] + 2 * i[2] + i[0], permuted.ElementOffset(i));

        Assert.Equal([0, 2, 3, 1], Layout.MoveDimPermutation(4, 1, 3));
        Assert.Equal([0, 3, 1, 2], Layout.MoveDimPermutation(4, 3, 1));
        var moved = baseLayout.MoveDim(0, 2);            // (b, c, a)
        Assert.Equal([8, 2, 3], moved.Shape);
        foreach (var i in Indices(moved.Shape))
            Assert.Equal(16 * i[2] + 2 * i[0] + i[1], moved.ElementOffset(i));

        var withOnes = new Layout([1, 3, 1, 2], [50, 4, 7, 1], 2);
        Assert.Equal([3, 2], withOnes.Squeeze(null).Shape);
        Assert.Equal([4, 1], withOnes.Squeeze(null).Strides);
        Assert.Equal([1, 3, 2], withOnes.Squeeze(2).Shape);
        Assert.Equal([1, 3, 1, 2], withOnes.Squeeze(1).Shape); // not size 1: unchanged
        Assert.Equal(OffsetsByIndex(withOnes), OffsetsByIndex(withOnes.Squeeze(null)));

        var unsqueezed = Layout.Contiguous([3, 4]).Unsqueeze(1);
        Assert.Equal([3, 1, 4], unsqueezed.Shape);
        Assert.Equal([4, 4, 1], unsqueezed.Strides);
        Assert.Equal([1], Layout.Contiguous([3, 4]).Unsqueeze(2).Strides[2..]);

        Assert.Throws<ArgumentOutOfRangeException>(() => baseLayout.ElementOffset([3, 0, 0]));
        Assert.Throws<ArgumentException>(() => baseLayout.ElementOffset([0, 0]));
    }

    [Fact]
    public void ExpandAndBroadcastStrides()
    {
        var col = Layout.Contiguous([3, 1]);
        var e = col.Expand("expand", [2, 3, 4]);
        Assert.Equal([2, 3, 4], e.Shape);
        Assert.Equal([0, 1, 0], e.Strides);
        Assert.Equal([0, 1, 0], col.BroadcastStrides([2, 3, 4]));
        Assert.Equal([1, 0], col.BroadcastStrides([3, 5]));
        var ex = Assert.Throws<ArgumentException>(() => col.Expand("expand", [2, 4]));
        Assert.Contains("expanded size 2 must match the existing size 3", ex.Message);
        Assert.Throws<ArgumentException>(() => col.Expand("expand", [4]));
        Assert.Throws<ArgumentException>(() => col.Expand("expand", [-1, 3, 1]));
    }

    [Theory]
    [InlineData(new[] { 12 })]
    [InlineData(new[] { 2, 6 })]
    [InlineData(new[] { 3, 1, 4 })]
    [InlineData(new[] { 1, 12, 1 })]
    public void ContiguousReshapesAreAlwaysViews(int[] target)
    {
        var l = Layout.Contiguous([3, 4], offset: 5);
        Assert.True(l.TryView(target, out var v));
        Assert.Equal(target, v.Shape);
        Assert.Equal(5, v.Offset);
        Assert.Equal(OffsetsByIndex(l), OffsetsByIndex(v));
    }

    public static TheoryData<string, int[], bool> StridedReshapes => new()
    {
        // transpose of [3, 4] is [4, 3] with strides [1, 4]
        { "transposed", [4, 3, 1], true },
        { "transposed", [2, 2, 3], true },   // splitting a dim is always possible
        { "transposed", [1, 4, 1, 3], true },
        { "transposed", [12], false },       // merging dims that are not adjacent in memory must copy
        { "transposed", [2, 6], false },
        { "transposed", [3, 4], false },
        // columns 0..2 of a [4, 6] matrix: [4, 3] with strides [6, 1]
        { "narrowed", [2, 2, 3], true },
        { "narrowed", [4, 3, 1], true },
        { "narrowed", [12], false },
        { "narrowed", [4, 1, 3], true },
        { "narrowed", [6, 2], false },
        // [1, 3] expanded to [4, 3]: strides [0, 1]
        { "expanded", [2, 2, 3], true },
        { "expanded", [12], false },
        { "expanded", [4, 3, 1], true },
    };

    private static Layout Source(string kind) => kind switch
    {
        "transposed" => Layout.Contiguous([3, 4]).Transpose(0, 1),
        "narrowed" => Layout.Contiguous([4, 6], offset: 2).Narrow(1, 0, 3),
        _ => Layout.Contiguous([1, 3]).Expand("expand", [4, 3]),
    };

    [Theory]
    [MemberData(nameof(StridedReshapes))]
    public void StridedReshapesAreViewsExactlyWhenTheStridesAllowIt(string kind, int[] target, bool isView)
    {
        var l = Source(kind);
        Assert.False(l.IsContiguous);
        Assert.Equal(isView, l.TryView(target, out var v));
        if (!isView) return;
        Assert.Equal(target, v.Shape);
        Assert.Equal(l.Offset, v.Offset);
        // A view presents the same storage offsets in the same row-major order.
        Assert.Equal(OffsetsByIndex(l), OffsetsByIndex(v));
        Assert.Equal(OffsetsByIndex(l), Layout.StorageIndices(v).ToArray());
    }

    [Fact]
    public void TensorReshapeSharesStorageOnlyWhenTheLayoutAllowsAView()
    {
        var x = Tensor.Arange(12f).Reshape(3, 4);
        var t = x.T();
        var split = t.Reshape(2, 2, 3);
        Assert.Same(x.Storage, split.Storage);
        Assert.Equal([2, 1, 4], split.Strides.ToArray());
        var merged = t.Reshape(12);
        Assert.NotSame(x.Storage, merged.Storage);
        Assert.True(merged.IsContiguous);
        Assert.Equal(new[] { 0.0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, merged.ToDoubleArray());
        Assert.Throws<InvalidOperationException>(() => t.View(12));

        var n = x.Narrow(1, 1, 2);
        Assert.Equal(1, n.StorageOffset);
        Assert.Equal([4, 1], n.Strides.ToArray());
        Assert.False(n.IsContiguous);
        Assert.Equal(n.ToDoubleArray(), n.Unsqueeze(0).Expand(2, 3, 2).Select(0, 1).ToDoubleArray());
    }

    [Fact]
    public void MergedStrideWalksBatchDimsInOrder()
    {
        Assert.Equal(12, Layout.MergedStride([2, 3, 4, 5], [36, 12, 5, 1], 2));
        Assert.Null(Layout.MergedStride([2, 3, 4, 5], [12, 36, 5, 1], 2));
        Assert.Equal(0, Layout.MergedStride([2, 3, 4, 5], [0, 0, 5, 1], 2));
        Assert.Equal(7, Layout.MergedStride([1, 3, 4, 5], [99, 7, 5, 1], 2));  // size-1 dims do not count
        Assert.Equal(0, Layout.MergedStride([4, 5], [5, 1], 0));               // no batch dims
    }

    [Fact]
    public void GatherOffsetsAndExpandedDim()
    {
        var l = Layout.Contiguous([3, 4], offset: 1).Transpose(0, 1); // [4, 3], (i, j) at 1 + 4j + i
        // Index shape [2, 3]; dim 0 taken from the index, dim 1 from the position.
        long[] index = [3, 0, 2, 1, 1, 0];
        var offsets = l.GatherOffsets([2, 3], index, 0);
        var expected = Indices([2, 3]).Select((p, n) => 1 + 4 * p[1] + (int)index[n]).ToArray();
        Assert.Equal(expected, offsets);
        // Without an index dim: the storage offsets of the sub-block [2, 3] in row-major order.
        Assert.Equal(Indices([2, 3]).Select(p => l.ElementOffset(p)).ToArray(), l.GatherOffsets([2, 3], null, -1));

        Assert.Equal(-1, l.ExpandedDim());
        Assert.Equal(-1, new Layout([1, 3], [0, 1], 0).ExpandedDim());          // stride 0 on a size-1 dim shares nothing
        Assert.Equal(1, Layout.Contiguous([3, 1]).Expand("expand", [3, 5]).ExpandedDim());
    }
}
