namespace DeepSharp.NN;

/// <summary>
/// Weight shapes, default initialisation and printing shared by the convolution layers (PyTorch's _ConvNd);
/// stride, padding, dilation and groups are checked by the convolution ops' ConvChecks, called here at construction.
/// weight ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and bias ~ the same bound,
/// where fan_in = weight.size(1) * kernel area (for a transposed conv this is out_channels/groups * area, as PyTorch).
/// </summary>
public abstract class ConvLayer : Module<Tensor, Tensor>
{
    private protected ConvLayer(string layer, int inChannels, int outChannels, int groups, int[] weightShape, bool bias, DType dtype, Generator? generator)
    {
        if (inChannels <= 0 || outChannels <= 0)
            throw new ArgumentException($"{layer}: in_channels ({inChannels}) and out_channels ({outChannels}) must be positive");
        ConvChecks.Groups(layer, groups);
        if (inChannels % groups != 0) throw new ArgumentException($"{layer}: in_channels ({inChannels}) must be divisible by groups ({groups})");
        if (outChannels % groups != 0) throw new ArgumentException($"{layer}: out_channels ({outChannels}) must be divisible by groups ({groups})");
        foreach (int k in weightShape.AsSpan(2))
            if (k <= 0) throw new ArgumentException($"{layer}: kernel sizes must be positive, got weight shape {Shapes.Format(weightShape)}");
        InChannels = inChannels;
        OutChannels = outChannels;
        Groups = groups;
        Weight = RegisterParameter("weight", Tensor.Zeros(weightShape, dtype));
        if (bias) Bias = RegisterParameter("bias", Tensor.Zeros([outChannels], dtype));
        ResetParameters(generator);
    }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Number of channel groups; each output channel sees in_channels/groups input channels.</summary>
    public int Groups { get; }

    /// <summary>The kernel (<c>weight</c>); its shape is given by the layer class.</summary>
    public Tensor Weight { get; }

    /// <summary>The bias [out_channels] (<c>bias</c>), or null when built with bias: false.</summary>
    public Tensor? Bias { get; }

    /// <summary>Re-draws weight and bias with PyTorch's default initialisation.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        Init.KaimingUniform(Weight, a: Math.Sqrt(5), generator: generator);
        if (Bias is null) return;
        int fanIn = Init.CalculateFanInAndFanOut(Weight).FanIn;
        if (fanIn == 0) return;
        double bound = 1 / Math.Sqrt(fanIn);
        Init.Uniform(Bias, -bound, bound, generator);
    }

    private protected string Repr(string kernel, string stride, string? padding, string? dilation, string? outputPadding)
    {
        var s = $"{InChannels}, {OutChannels}, kernel_size={kernel}, stride={stride}";
        if (padding is not null) s += $", padding={padding}";
        if (dilation is not null) s += $", dilation={dilation}";
        if (outputPadding is not null) s += $", output_padding={outputPadding}";
        if (Groups != 1) s += $", groups={Groups}";
        if (Bias is null) s += ", bias=False";
        return s;
    }
}

/// <summary>
/// 2-D convolution over [N, C, H, W] (or unbatched [C, H, W]), PyTorch's nn.Conv2d: weight
/// [out, in/groups, kh, kw], bias [out]. Padding is an int, a pair, ConvPadding.Valid or ConvPadding.Same (stride 1).
/// Output size per dim: floor((H + 2 pad - dilation (k - 1) - 1) / stride) + 1.
/// </summary>
public sealed class Conv2d : ConvLayer
{
    /// <summary>A 2-D convolution layer; stride and dilation default to 1, padding to 0.</summary>
    /// <exception cref="ArgumentException">
    /// A size is not positive, the channels are not divisible by <paramref name="groups"/>, or padding "same" is combined with a stride.
    /// </exception>
    public Conv2d(int inChannels, int outChannels, Size2d kernelSize, Size2d? stride = null, ConvPadding padding = default,
        Size2d? dilation = null, int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : base("Conv2d", inChannels, outChannels, groups, [outChannels, inChannels / Math.Max(groups, 1), kernelSize.H, kernelSize.W], bias, dtype, generator)
    {
        KernelSize = kernelSize;
        Stride = stride ?? 1;
        Padding = padding;
        Dilation = dilation ?? 1;
        ConvChecks.Arguments("Conv2d", Stride.Pair, (padding.H, padding.W), Dilation.Pair, groups);
        padding.Resolve("Conv2d", kernelSize, Dilation, Stride); // rejects "same" with a stride now, not at the first forward
    }

    /// <summary>Kernel height and width.</summary>
    public Size2d KernelSize { get; }

    /// <summary>Step between windows (default 1).</summary>
    public Size2d Stride { get; }

    /// <summary>Zero padding: explicit, Same or Valid (default 0).</summary>
    public ConvPadding Padding { get; }

    /// <summary>Spacing between kernel elements (default 1).</summary>
    public Size2d Dilation { get; }

    /// <summary>Convolves [N, C, H, W] (or [C, H, W]) into [N, out_channels, H_out, W_out].</summary>
    public override Tensor Forward(Tensor input) => Functional.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <inheritdoc/>
    protected override string ExtraRepr => Repr(KernelSize.ToString(), Stride.ToString(),
        Padding.IsExplicit && Padding.H == 0 && Padding.W == 0 ? null : Padding.ToString(),
        Dilation == new Size2d(1, 1) ? null : Dilation.ToString(), null);
}

/// <summary>1-D convolution over [N, C, L] (or [C, L]), PyTorch's nn.Conv1d: weight [out, in/groups, k], bias [out].</summary>
public sealed class Conv1d : ConvLayer
{
    /// <summary>A 1-D convolution layer; padding is an int, ConvPadding.Same or ConvPadding.Valid (default 0).</summary>
    /// <exception cref="ArgumentException">
    /// A size is not positive, the channels are not divisible by <paramref name="groups"/>, padding is a pair of different values,
    /// or padding "same" is combined with a stride.
    /// </exception>
    public Conv1d(int inChannels, int outChannels, int kernelSize, int stride = 1, ConvPadding padding = default, int dilation = 1,
        int groups = 1, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
        : base("Conv1d", inChannels, outChannels, groups, [outChannels, inChannels / Math.Max(groups, 1), kernelSize], bias, dtype, generator)
    {
        ConvChecks.Arguments("Conv1d", (1, stride), (padding.W, padding.W), (1, dilation), groups, oneD: true);
        padding.Resolve1d("Conv1d", kernelSize, dilation, stride);
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
    }

    /// <summary>Kernel length.</summary>
    public int KernelSize { get; }

    /// <summary>Step between windows (default 1).</summary>
    public int Stride { get; }

    /// <summary>Zero padding at both ends: explicit, "same" or "valid" (default 0).</summary>
    public ConvPadding Padding { get; }

    /// <summary>Spacing between kernel elements (default 1).</summary>
    public int Dilation { get; }

    /// <summary>Convolves [N, C, L] (or [C, L]) into [N, out_channels, L_out].</summary>
    public override Tensor Forward(Tensor input) => Functional.Conv1d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <inheritdoc/>
    protected override string ExtraRepr => Repr($"({KernelSize},)", $"({Stride},)",
        Padding.IsExplicit ? (Padding.W == 0 ? null : $"({Padding.W},)") : Padding.ToString(),
        Dilation == 1 ? null : $"({Dilation},)", null);
}

/// <summary>
/// Transposed 2-D convolution (the gradient of Conv2d with respect to its input, "deconvolution"),
/// PyTorch's nn.ConvTranspose2d: weight [in, out/groups, kh, kw], bias [out];
/// out = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
/// </summary>
public sealed class ConvTranspose2d : ConvLayer
{
    /// <summary>A transposed 2-D convolution layer; stride and dilation default to 1, padding and output padding to 0.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel height and width.</param>
    /// <param name="stride">Upsampling factor (default 1).</param>
    /// <param name="padding">Rows and columns removed from each side of the full output (default 0).</param>
    /// <param name="outputPadding">Extra rows/columns added at the bottom/right, to pick among the sizes a strided conv maps to one size; smaller than the stride or the dilation.</param>
    /// <param name="groups">Number of channel groups.</param>
    /// <param name="bias">Whether to learn a bias [out].</param>
    /// <param name="dilation">Spacing between kernel elements (default 1).</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <param name="generator">Random source of the initialisation (Generator.Default when null).</param>
    /// <exception cref="ArgumentException">A size is out of range or the channels are not divisible by <paramref name="groups"/>.</exception>
    public ConvTranspose2d(int inChannels, int outChannels, Size2d kernelSize, Size2d? stride = null, Size2d padding = default,
        Size2d outputPadding = default, int groups = 1, bool bias = true, Size2d? dilation = null, DType dtype = DType.Float32, Generator? generator = null)
        : base("ConvTranspose2d", inChannels, outChannels, groups, [inChannels, outChannels / Math.Max(groups, 1), kernelSize.H, kernelSize.W], bias, dtype, generator)
    {
        KernelSize = kernelSize;
        Stride = stride ?? 1;
        Padding = padding;
        OutputPadding = outputPadding;
        Dilation = dilation ?? 1;
        ConvChecks.Arguments("ConvTranspose2d", Stride.Pair, padding.Pair, Dilation.Pair, groups);
        ConvChecks.OutputPadding("ConvTranspose2d", outputPadding.Pair, Stride.Pair, Dilation.Pair);
    }

    /// <summary>Kernel height and width.</summary>
    public Size2d KernelSize { get; }

    /// <summary>Upsampling factor (default 1).</summary>
    public Size2d Stride { get; }

    /// <summary>Rows and columns removed from each side of the output (default 0).</summary>
    public Size2d Padding { get; }

    /// <summary>Extra rows and columns at the bottom/right of the output (default 0).</summary>
    public Size2d OutputPadding { get; }

    /// <summary>Spacing between kernel elements (default 1).</summary>
    public Size2d Dilation { get; }

    /// <summary>
    /// Maps [N, in_channels, H, W] (or [C, H, W]) to [N, out_channels, H_out, W_out], with
    /// H_out = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1 (likewise W_out).
    /// </summary>
    public override Tensor Forward(Tensor input) =>
        Functional.ConvTranspose2d(input, Weight, Bias, Stride, Padding, OutputPadding, Groups, Dilation);

    /// <summary>
    /// Forward to a requested spatial size (PyTorch's forward(input, output_size)): output_padding is chosen
    /// so that the output is exactly <paramref name="outputSize"/>, which must lie within one stride of the minimum.
    /// </summary>
    public Tensor Forward(Tensor input, Size2d outputSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"ConvTranspose2d: expected a 3-D or 4-D input, got {Shapes.Format(input.ShapeArray)}");
        int h = input.ShapeArray[^2], w = input.ShapeArray[^1];
        int minH = ConvChecks.TransposedOutputSize(h, Stride.H, Padding.H, Dilation.H, KernelSize.H, outputPadding: 0);
        int minW = ConvChecks.TransposedOutputSize(w, Stride.W, Padding.W, Dilation.W, KernelSize.W, outputPadding: 0);
        if (outputSize.H < minH || outputSize.H >= minH + Stride.H || outputSize.W < minW || outputSize.W >= minW + Stride.W)
            throw new ArgumentException($"ConvTranspose2d: requested an output size of {outputSize}, but valid sizes range from ({minH}, {minW}) to ({minH + Stride.H - 1}, {minW + Stride.W - 1}) for input {Shapes.Format(input.ShapeArray)}");
        return Functional.ConvTranspose2d(input, Weight, Bias, Stride, Padding, (outputSize.H - minH, outputSize.W - minW), Groups, Dilation);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => Repr(KernelSize.ToString(), Stride.ToString(),
        Padding == new Size2d(0, 0) ? null : Padding.ToString(),
        Dilation == new Size2d(1, 1) ? null : Dilation.ToString(),
        OutputPadding == new Size2d(0, 0) ? null : OutputPadding.ToString());
}
