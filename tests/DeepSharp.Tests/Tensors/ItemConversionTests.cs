namespace DeepSharp.Tests.Tensors;

/// <summary>Item&lt;T&gt; converts between number types as PyTorch's item&lt;T&gt;() does (issue #17).</summary>
public sealed class ItemConversionTests
{
    [Fact]
    public void IntegersConvertToEveryNumberTypeThatHoldsThem()
    {
        var seven = Tensor.From(new long[] { 7 }, 1);
        Assert.Equal(7, seven.Item<int>());
        Assert.Equal((short)7, seven.Item<short>());
        Assert.Equal((byte)7, seven.Item<byte>());
        Assert.Equal(7UL, seven.Item<ulong>());
        Assert.Equal(7.0, seven.Item<double>());
        Assert.Equal(7f, seven.Item<float>());
        Assert.Equal((Half)7, seven.Item<Half>());
        Assert.True(seven.Item<bool>());
        Assert.Equal(7L, seven.Item<long>()); // the tensor's own type: read directly
        // int64 beyond double's 53 bits keeps every digit.
        Assert.Equal(long.MaxValue - 1, Tensor.From(new[] { long.MaxValue - 1 }, 1).Item<long>());
    }

    [Fact]
    public void FloatingPointTruncatesTowardZeroForIntegers()
    {
        Assert.Equal(3, Tensor.Scalar(3.7).Item<int>());
        Assert.Equal(-3, Tensor.Scalar(-3.7).Item<int>());
        Assert.Equal(-3L, Tensor.Scalar(-3.7, DType.Float64).Item<long>());
        Assert.Equal(2.5, Tensor.Scalar(2.5f).Item<double>());
        Assert.Equal(0.1f, Tensor.Scalar(0.1, DType.Float64).Item<float>());
        Assert.False(Tensor.Scalar(0.0).Item<bool>());
        Assert.Equal(1, Tensor.From(new[] { true }, 1).Item<int>());
        Assert.Equal(1.0, Tensor.From(new[] { true }, 1).Item<double>());
    }

    [Fact]
    public void ValuesTheTargetCannotHoldAreOverflowErrorsNamingThem()
    {
        Assert.Contains("300 cannot be converted to Byte", Assert.Throws<OverflowException>(() => Tensor.From(new long[] { 300 }, 1).Item<byte>()).Message);
        Assert.Contains("-1 cannot be converted to UInt32", Assert.Throws<OverflowException>(() => Tensor.From(new long[] { -1 }, 1).Item<uint>()).Message);
        Assert.Contains("NaN", Assert.Throws<OverflowException>(() => Tensor.Scalar(double.NaN).Item<int>()).Message);
        Assert.Throws<OverflowException>(() => Tensor.Scalar(1e30).Item<long>());
        Assert.Throws<OverflowException>(() => Tensor.Scalar(3e9).Item<int>());
        Assert.Equal(float.PositiveInfinity, Tensor.Scalar(1e300, DType.Float64).Item<float>()); // as a C++ cast: floating point saturates
        Assert.Contains("not a number type", Assert.Throws<ArgumentException>(() => Tensor.Scalar(1.0).Item<decimal>()).Message);
        Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(2).Item<int>());
    }
}
