namespace DeepSharp.NN;

/// <summary>
/// Convolution padding: explicit (an int or an (h, w) pair), <see cref="Valid"/> (no padding, PyTorch's "valid") or
/// <see cref="Same"/> (output size = input size; stride 1 only; PyTorch's "same"). The default value is zero padding.
/// </summary>
public readonly record struct ConvPadding
{
    private enum Kind { Explicit, Valid, Same }

    private readonly Kind _kind;

    private ConvPadding(Kind kind, int h, int w)
    {
        _kind = kind;
        H = h;
        W = w;
    }

    /// <summary>Explicit padding; negative values are rejected.</summary>
    public ConvPadding(int h, int w) : this(Kind.Explicit, h, w)
    {
        if (h < 0 || w < 0) throw new ArgumentException($"ConvPadding: padding must be non-negative, got ({h}, {w})");
    }

    /// <summary>padding="same": the output has the input's size (stride 1 only); an odd total puts the extra row/column at the end.</summary>
    public static ConvPadding Same { get; } = new(Kind.Same, 0, 0);

    /// <summary>padding="valid": no padding.</summary>
    public static ConvPadding Valid { get; } = new(Kind.Valid, 0, 0);

    /// <summary>Rows added at the top and bottom (explicit padding only).</summary>
    public int H { get; }

    /// <summary>Columns added at the left and right (explicit padding only).</summary>
    public int W { get; }

    /// <summary>True for <see cref="Same"/>.</summary>
    public bool IsSame => _kind == Kind.Same;

    /// <summary>True for explicit (int or pair) padding, including the default zero padding.</summary>
    public bool IsExplicit => _kind == Kind.Explicit;

    /// <summary>The same explicit padding on all sides.</summary>
    /// <exception cref="ArgumentException"><paramref name="n"/> is negative.</exception>
    public static implicit operator ConvPadding(int n) => new(n, n);

    /// <summary>Explicit padding of H rows (top and bottom) and W columns (left and right).</summary>
    /// <exception cref="ArgumentException">A value is negative.</exception>
    public static implicit operator ConvPadding((int H, int W) pair) => new(pair.H, pair.W);

    /// <summary>
    /// The symmetric padding to pass to the convolution and the extra zeros to add at the bottom/right first.
    /// For "same" the total dilation*(k-1) is split as PyTorch does: total/2 on both sides, and when the total
    /// is odd one more row/column at the end, added to the input with a pad (an asymmetric split a conv cannot express).
    /// </summary>
    internal (Size2d Symmetric, Size2d Extra) Resolve(string op, Size2d kernel, Size2d dilation, Size2d stride)
    {
        switch (_kind)
        {
            case Kind.Valid:
                return (new Size2d(0, 0), new Size2d(0, 0));
            case Kind.Same:
                if (stride.H != 1 || stride.W != 1)
                    throw new ArgumentException($"{op}: padding='same' is not supported for strided convolutions (stride {stride})");
                int th = dilation.H * (kernel.H - 1), tw = dilation.W * (kernel.W - 1);
                return (new Size2d(th / 2, tw / 2), new Size2d(th - th / 2 - th / 2, tw - tw / 2 - tw / 2));
            default:
                return (new Size2d(H, W), new Size2d(0, 0));
        }
    }

    /// <summary>
    /// The 1-D form of <see cref="Resolve"/> (padding along the length only): explicit padding must be a single
    /// value, not a pair of different ones.
    /// </summary>
    internal (int Symmetric, int Extra) Resolve1d(string op, int kernel, int dilation, int stride)
    {
        if (IsExplicit && H != W)
            throw new ArgumentException($"{op}: padding must be a single int, ConvPadding.Same or ConvPadding.Valid, got {this}");
        var (pad, extra) = Resolve(op, new Size2d(1, kernel), new Size2d(1, dilation), new Size2d(1, stride));
        return (pad.W, extra.W);
    }

    /// <summary>As PyTorch prints it: <c>(1, 1)</c>, <c>same</c> or <c>valid</c>.</summary>
    public override string ToString() => _kind switch
    {
        Kind.Same => "same",
        Kind.Valid => "valid",
        _ => $"({H}, {W})",
    };
}

/// <summary>Python's repr of numbers, for PyTorch-identical module printing (1e-05, 1.0, 0.1).</summary>
internal static class PyRepr
{
    public static string Float(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        var s = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace('E', 'e');
        return s.Contains('.', StringComparison.Ordinal) || s.Contains('e', StringComparison.Ordinal) ? s : s + ".0";
    }
}
