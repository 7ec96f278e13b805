namespace DeepSharp;

/// <summary>
/// A (height, width) pair for kernel sizes, strides, padding and dilation. An int converts to (n, n) and
/// a tuple to (h, w), as PyTorch's int-or-tuple arguments: <c>new Conv2d(3, 8, 3, stride: 2)</c> or <c>kernelSize: (1, 7)</c>.
/// Every public convolution and pooling API (<see cref="Tensor"/>, <c>Functional</c> and the layers) takes its sizes as this type.
/// </summary>
public readonly record struct Size2d(int H, int W)
{
    /// <summary>The same size for height and width, as PyTorch's int argument.</summary>
    public static implicit operator Size2d(int n) => new(n, n);

    /// <summary>Separate height and width.</summary>
    public static implicit operator Size2d((int H, int W) pair) => new(pair.H, pair.W);

    /// <summary>The pair as a tuple, for code that works with <c>(int H, int W)</c>.</summary>
    public static implicit operator (int H, int W)(Size2d size) => (size.H, size.W);

    /// <summary>PyTorch's repr of the pair, e.g. <c>(3, 3)</c>.</summary>
    public override string ToString() => $"({H}, {W})";

    /// <summary>The pair as the kernels take it.</summary>
    internal (int H, int W) Pair => (H, W);

    /// <summary>"n" when both are equal, else "(h, w)": how PyTorch prints a pooling size given as an int.</summary>
    internal string ToShortString() => H == W ? H.ToString(System.Globalization.CultureInfo.InvariantCulture) : ToString();
}
