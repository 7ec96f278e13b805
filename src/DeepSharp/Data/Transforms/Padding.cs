namespace DeepSharp.Data;

/// <summary>Pixels added on each side of an image, as torchvision's padding (int, (h, v) or (l, t, r, b)).</summary>
public readonly record struct Padding(int Left, int Top, int Right, int Bottom)
{
    /// <summary>The same amount on all four sides.</summary>
    public Padding(int all) : this(all, all, all, all) { }

    /// <summary><paramref name="horizontal"/> on the left and right, <paramref name="vertical"/> on top and bottom.</summary>
    public Padding(int horizontal, int vertical) : this(horizontal, vertical, horizontal, vertical) { }

    /// <summary>The same amount on all four sides.</summary>
    public static implicit operator Padding(int all) => new(all);

    /// <summary>Whether no side is padded.</summary>
    public bool IsZero => Left == 0 && Top == 0 && Right == 0 && Bottom == 0;

    internal void Check(string op)
    {
        if (Left < 0 || Top < 0 || Right < 0 || Bottom < 0)
            throw new ArgumentException($"{op}: padding must be non-negative, got {this}");
    }

    /// <summary>As torchvision writes it: "p", "(h, v)" or "(l, t, r, b)".</summary>
    public override string ToString() => Left == Right && Top == Bottom
        ? (Left == Top ? $"{Left}" : $"({Left}, {Top})")
        : $"({Left}, {Top}, {Right}, {Bottom})";
}

/// <summary>How padding pixels get their values (torchvision's padding_mode).</summary>
public enum PaddingMode
{
    /// <summary>A constant <see cref="Fill"/> value.</summary>
    Constant,

    /// <summary>The nearest edge pixel repeated: [a b c] -> a a [a b c] c c.</summary>
    Edge,

    /// <summary>Mirrored without repeating the edge: [a b c] -> c b [a b c] b a.</summary>
    Reflect,

    /// <summary>Mirrored including the edge: [a b c] -> b a [a b c] c b.</summary>
    Symmetric,
}

/// <summary>How geometric transforms sample between pixels.</summary>
public enum InterpolationMode
{
    /// <summary>The nearest pixel (ties to even, as grid_sample).</summary>
    Nearest,

    /// <summary>Weighted mean of the four neighbouring pixels.</summary>
    Bilinear,
}
