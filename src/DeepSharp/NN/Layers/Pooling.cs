namespace DeepSharp.NN;

// Pooling layers over the differentiable ops in Autograd/Ops/Pooling.cs. A typed module returns one
// type, so PyTorch's return_indices=True is a separate module (MaxPool2dWithIndices, ...) whose forward
// returns (Values, Indices); both print as PyTorch does (its repr does not show return_indices).

/// <summary>Window settings shared by <see cref="MaxPool2d"/> and <see cref="MaxPool2dWithIndices"/> (PyTorch's _MaxPoolNd).</summary>
public abstract class MaxPool2dBase<TOut> : Module<Tensor, TOut>
{
    private protected MaxPool2dBase(Size2d kernelSize, Size2d? stride, Size2d padding, Size2d? dilation, bool ceilMode)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        Dilation = dilation ?? 1;
        CeilMode = ceilMode;
        if (kernelSize.H <= 0 || kernelSize.W <= 0 || Stride.H <= 0 || Stride.W <= 0 || Dilation.H <= 0 || Dilation.W <= 0)
            throw new ArgumentException($"MaxPool2d: kernel size {kernelSize}, stride {Stride} and dilation {Dilation} must be positive");
        if (padding.H < 0 || padding.W < 0 || 2 * padding.H > kernelSize.H || 2 * padding.W > kernelSize.W)
            throw new ArgumentException($"MaxPool2d: padding {padding} must be non-negative and at most half of the kernel size {kernelSize}");
    }

    /// <summary>Window height and width.</summary>
    public Size2d KernelSize { get; }

    /// <summary>Step between windows (defaults to the kernel size).</summary>
    public Size2d Stride { get; }

    /// <summary>Implicit -inf padding on each side (default 0, at most half the kernel).</summary>
    public Size2d Padding { get; }

    /// <summary>Spacing between window elements (default 1).</summary>
    public Size2d Dilation { get; }

    /// <summary>Round the output size up instead of down.</summary>
    public bool CeilMode { get; }

    /// <inheritdoc/>
    public override string TypeName => "MaxPool2d";

    private protected (Tensor Values, Tensor Indices) Pool(Tensor input) =>
        Functional.MaxPool2dWithIndices(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    // As PyTorch's repr, which does not show return_indices.
    /// <inheritdoc/>
    protected override string ExtraRepr =>
        $"kernel_size={KernelSize.ToShortString()}, stride={Stride.ToShortString()}, padding={Padding.ToShortString()}, dilation={Dilation.ToShortString()}, ceil_mode={PyBool(CeilMode)}";
}

/// <summary>
/// 2-D max pooling over [N, C, H, W] or [C, H, W] (nn.MaxPool2d): the stride defaults to the kernel size,
/// padding is -inf (at most half the kernel), ceil_mode rounds the output size up (windows must start inside the input or left padding).
/// </summary>
public sealed class MaxPool2d(Size2d kernelSize, Size2d? stride = null, Size2d padding = default, Size2d? dilation = null, bool ceilMode = false)
    : MaxPool2dBase<Tensor>(kernelSize, stride, padding, dilation, ceilMode)
{
    /// <summary>Pools [N, C, H, W] (or [C, H, W]) into [N, C, H_out, W_out].</summary>
    public override Tensor Forward(Tensor input) => Pool(input).Values;
}

/// <summary>nn.MaxPool2d(return_indices=True): returns the maxima and their flat indices within each input plane.</summary>
public sealed class MaxPool2dWithIndices(Size2d kernelSize, Size2d? stride = null, Size2d padding = default, Size2d? dilation = null, bool ceilMode = false)
    : MaxPool2dBase<(Tensor Values, Tensor Indices)>(kernelSize, stride, padding, dilation, ceilMode)
{
    /// <summary>Pools [N, C, H, W] (or [C, H, W]); returns the maxima [N, C, H_out, W_out] and their int64 flat indices within each H*W input plane.</summary>
    public override (Tensor Values, Tensor Indices) Forward(Tensor input) => Pool(input);
}

/// <summary>Window settings shared by <see cref="MaxPool1d"/> and <see cref="MaxPool1dWithIndices"/>.</summary>
public abstract class MaxPool1dBase<TOut> : Module<Tensor, TOut>
{
    private protected MaxPool1dBase(int kernelSize, int? stride, int padding, int dilation, bool ceilMode)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        Dilation = dilation;
        CeilMode = ceilMode;
        if (kernelSize <= 0 || Stride <= 0 || dilation <= 0)
            throw new ArgumentException($"MaxPool1d: kernel size ({kernelSize}), stride ({Stride}) and dilation ({dilation}) must be positive");
        if (padding < 0 || 2 * padding > kernelSize)
            throw new ArgumentException($"MaxPool1d: padding ({padding}) must be non-negative and at most half of the kernel size ({kernelSize})");
    }

    /// <summary>Window length.</summary>
    public int KernelSize { get; }

    /// <summary>Step between windows (defaults to the kernel size).</summary>
    public int Stride { get; }

    /// <summary>Implicit -inf padding at both ends (default 0, at most half the kernel).</summary>
    public int Padding { get; }

    /// <summary>Spacing between window elements (default 1).</summary>
    public int Dilation { get; }

    /// <summary>Round the output length up instead of down.</summary>
    public bool CeilMode { get; }

    /// <inheritdoc/>
    public override string TypeName => "MaxPool1d";

    private protected (Tensor Values, Tensor Indices) Pool(Tensor input) =>
        Functional.MaxPool1dWithIndices(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    /// <inheritdoc/>
    protected override string ExtraRepr =>
        $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}, dilation={Dilation}, ceil_mode={PyBool(CeilMode)}";
}

/// <summary>1-D max pooling over [N, C, L] or [C, L] (nn.MaxPool1d).</summary>
public sealed class MaxPool1d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
    : MaxPool1dBase<Tensor>(kernelSize, stride, padding, dilation, ceilMode)
{
    /// <summary>Pools [N, C, L] (or [C, L]) into [N, C, L_out].</summary>
    public override Tensor Forward(Tensor input) => Pool(input).Values;
}

/// <summary>nn.MaxPool1d(return_indices=True): the maxima and their indices along L.</summary>
public sealed class MaxPool1dWithIndices(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
    : MaxPool1dBase<(Tensor Values, Tensor Indices)>(kernelSize, stride, padding, dilation, ceilMode)
{
    /// <summary>Pools [N, C, L] (or [C, L]); returns the maxima [N, C, L_out] and their int64 indices along L.</summary>
    public override (Tensor Values, Tensor Indices) Forward(Tensor input) => Pool(input);
}

/// <summary>
/// 2-D average pooling (nn.AvgPool2d). The divisor is the window area including zero padding
/// (count_include_pad, the default), the number of valid input elements, or <c>divisorOverride</c>.
/// </summary>
public sealed class AvgPool2d : Module<Tensor, Tensor>
{
    /// <summary>Average pooling; the stride defaults to the kernel size.</summary>
    /// <param name="kernelSize">Window height and width.</param>
    /// <param name="stride">Step between windows (defaults to <paramref name="kernelSize"/>).</param>
    /// <param name="padding">Implicit zero padding on each side, at most half the kernel.</param>
    /// <param name="ceilMode">Round the output size up instead of down.</param>
    /// <param name="countIncludePad">Count the zero padding in the divisor.</param>
    /// <param name="divisorOverride">Divide every window by this instead.</param>
    /// <exception cref="ArgumentException">A size is not positive, the padding is out of range or the divisor is not positive.</exception>
    public AvgPool2d(Size2d kernelSize, Size2d? stride = null, Size2d padding = default, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
        DivisorOverride = divisorOverride;
        if (kernelSize.H <= 0 || kernelSize.W <= 0 || Stride.H <= 0 || Stride.W <= 0)
            throw new ArgumentException($"AvgPool2d: kernel size {kernelSize} and stride {Stride} must be positive");
        if (padding.H < 0 || padding.W < 0 || 2 * padding.H > kernelSize.H || 2 * padding.W > kernelSize.W)
            throw new ArgumentException($"AvgPool2d: padding {padding} must be non-negative and at most half of the kernel size {kernelSize}");
        if (divisorOverride is <= 0) throw new ArgumentException($"AvgPool2d: divisor_override must be positive, got {divisorOverride}");
    }

    /// <summary>Window height and width.</summary>
    public Size2d KernelSize { get; }

    /// <summary>Step between windows (defaults to the kernel size).</summary>
    public Size2d Stride { get; }

    /// <summary>Implicit zero padding on each side (default 0).</summary>
    public Size2d Padding { get; }

    /// <summary>Round the output size up instead of down.</summary>
    public bool CeilMode { get; }

    /// <summary>Whether the zero padding counts in the divisor (default true).</summary>
    public bool CountIncludePad { get; }

    /// <summary>A fixed divisor for every window, or null.</summary>
    public int? DivisorOverride { get; }

    /// <summary>Pools [N, C, H, W] (or [C, H, W]) into [N, C, H_out, W_out].</summary>
    public override Tensor Forward(Tensor input) =>
        Functional.AvgPool2d(input, KernelSize, Stride, Padding, CeilMode, CountIncludePad, DivisorOverride);

    /// <inheritdoc/>
    protected override string ExtraRepr =>
        $"kernel_size={KernelSize.ToShortString()}, stride={Stride.ToShortString()}, padding={Padding.ToShortString()}";
}

/// <summary>
/// Average pooling to a fixed output size (nn.AdaptiveAvgPool2d), whatever the input size: output cell i
/// averages input rows [floor(i*H/out), ceil((i+1)*H/out)). (1, 1) is global average pooling.
/// </summary>
public sealed class AdaptiveAvgPool2d : Module<Tensor, Tensor>
{
    /// <summary>Adaptive average pooling to <paramref name="outputSize"/> (an int for a square output).</summary>
    /// <exception cref="ArgumentException">The output size is not positive.</exception>
    public AdaptiveAvgPool2d(Size2d outputSize)
    {
        if (outputSize.H <= 0 || outputSize.W <= 0) throw new ArgumentException($"AdaptiveAvgPool2d: output size {outputSize} must be positive");
        OutputSize = outputSize;
    }

    /// <summary>Output height and width.</summary>
    public Size2d OutputSize { get; }

    /// <summary>Pools [N, C, H, W] (or [C, H, W]) into [N, C, out_h, out_w].</summary>
    public override Tensor Forward(Tensor input) => Functional.AdaptiveAvgPool2d(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"output_size={OutputSize.ToShortString()}";
}

/// <summary>Settings shared by <see cref="AdaptiveMaxPool2d"/> and <see cref="AdaptiveMaxPool2dWithIndices"/>.</summary>
public abstract class AdaptiveMaxPool2dBase<TOut> : Module<Tensor, TOut>
{
    private protected AdaptiveMaxPool2dBase(Size2d outputSize)
    {
        if (outputSize.H <= 0 || outputSize.W <= 0) throw new ArgumentException($"AdaptiveMaxPool2d: output size {outputSize} must be positive");
        OutputSize = outputSize;
    }

    /// <summary>Output height and width.</summary>
    public Size2d OutputSize { get; }

    /// <inheritdoc/>
    public override string TypeName => "AdaptiveMaxPool2d";

    private protected (Tensor Values, Tensor Indices) Pool(Tensor input) => Functional.AdaptiveMaxPool2dWithIndices(input, OutputSize);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"output_size={OutputSize.ToShortString()}";
}

/// <summary>Max pooling to a fixed output size (nn.AdaptiveMaxPool2d), windows as <see cref="AdaptiveAvgPool2d"/>.</summary>
public sealed class AdaptiveMaxPool2d(Size2d outputSize) : AdaptiveMaxPool2dBase<Tensor>(outputSize)
{
    /// <summary>Pools [N, C, H, W] (or [C, H, W]) into [N, C, out_h, out_w].</summary>
    public override Tensor Forward(Tensor input) => Pool(input).Values;
}

/// <summary>nn.AdaptiveMaxPool2d(return_indices=True): the maxima and their flat indices within each input plane.</summary>
public sealed class AdaptiveMaxPool2dWithIndices(Size2d outputSize) : AdaptiveMaxPool2dBase<(Tensor Values, Tensor Indices)>(outputSize)
{
    /// <summary>Pools [N, C, H, W] (or [C, H, W]); returns the maxima [N, C, out_h, out_w] and their int64 flat indices within each H*W input plane.</summary>
    public override (Tensor Values, Tensor Indices) Forward(Tensor input) => Pool(input);
}
