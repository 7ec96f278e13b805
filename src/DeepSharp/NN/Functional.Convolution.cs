namespace DeepSharp.NN;

// Functional forms of the convolution, pooling, normalisation and channel-dropout layers
// (F.conv2d, F.max_pool2d, F.batch_norm, ...): argument handling as PyTorch (int or pair arguments,
// padding "same"/"valid", unbatched inputs) over the differentiable ops in Autograd/Ops.
public static partial class Functional
{
    /// <summary>
    /// 2-D convolution of [N, C, H, W] (or unbatched [C, H, W]) with weight [O, C/groups, kh, kw].
    /// <paramref name="padding"/> is an int, a pair, ConvPadding.Valid (none) or ConvPadding.Same (stride 1 only; when the
    /// total padding dilation*(k-1) is odd the extra row/column goes at the bottom/right, as PyTorch).
    /// </summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2d? stride = null, ConvPadding padding = default,
        Size2d? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"conv2d: expected a 3-D (unbatched) or 4-D (batched) input [N, C, H, W], got {Shapes.Format(input.ShapeArray)}");
        ConvChecks.Weight("conv2d", weight, 4); // before the kernel size is read for padding "same"
        var s = stride ?? 1;
        var d = dilation ?? 1;
        var (pad, extra) = padding.Resolve("conv2d", (weight.ShapeArray[2], weight.ShapeArray[3]), d, s);
        bool unbatched = input.Rank == 3;
        var x = unbatched ? input.Unsqueeze(0) : input;
        if (extra.H > 0 || extra.W > 0) x = x.Pad([0, extra.W, 0, extra.H]);
        var y = Tensor.Conv2d(x, weight, bias, s.Pair, pad.Pair, d.Pair, groups);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>1-D convolution of [N, C, L] (or unbatched [C, L]) with weight [O, C/groups, k]; padding as <see cref="Conv2d"/>.</summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, ConvPadding padding = default, int dilation = 1, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.Rank is not (2 or 3))
            throw new ArgumentException($"conv1d: expected a 2-D (unbatched) or 3-D (batched) input [N, C, L], got {Shapes.Format(input.ShapeArray)}");
        ConvChecks.Weight("conv1d", weight, 3); // before the kernel size is read for padding "same"
        var (pad, extra) = padding.Resolve1d("conv1d", weight.ShapeArray[2], dilation, stride);
        bool unbatched = input.Rank == 2;
        var x = unbatched ? input.Unsqueeze(0) : input;
        if (extra > 0) x = x.Pad([0, extra]);
        var y = Tensor.Conv1d(x, weight, bias, stride, pad, dilation, groups);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>
    /// Transposed 2-D convolution of [N, Cin, H, W] (or [Cin, H, W]) with weight [Cin, Cout/groups, kh, kw]:
    /// out = (H - 1) stride - 2 padding + dilation (k - 1) + outputPadding + 1.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null, Size2d? stride = null, Size2d padding = default,
        Size2d outputPadding = default, int groups = 1, Size2d? dilation = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"conv_transpose2d: expected a 3-D (unbatched) or 4-D (batched) input [N, C, H, W], got {Shapes.Format(input.ShapeArray)}");
        var s = stride ?? 1;
        var d = dilation ?? 1;
        bool unbatched = input.Rank == 3;
        var x = unbatched ? input.Unsqueeze(0) : input;
        var y = Tensor.ConvTranspose2d(x, weight, bias, s.Pair, padding.Pair, outputPadding.Pair, groups, d.Pair);
        return unbatched ? y.Squeeze(0) : y;
    }

    /// <summary>Max pooling over the last two dims of [N, C, H, W] or [C, H, W]; stride defaults to the kernel size.</summary>
    public static Tensor MaxPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d padding = default, Size2d? dilation = null, bool ceilMode = false) =>
        MaxPool2dWithIndices(input, kernelSize, stride, padding, dilation, ceilMode).Values;

    /// <summary>Max pooling that also returns the flat index of each maximum within its input plane (as PyTorch's return_indices=True).</summary>
    public static (Tensor Values, Tensor Indices) MaxPool2dWithIndices(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d padding = default,
        Size2d? dilation = null, bool ceilMode = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        var s = stride ?? kernelSize;
        var d = dilation ?? 1;
        return Tensor.MaxPool2dWithIndices(input, (kernelSize.H, kernelSize.W), (s.H, s.W), (padding.H, padding.W), (d.H, d.W), ceilMode);
    }

    /// <summary>Max pooling along the last dim of [N, C, L] or [C, L].</summary>
    public static Tensor MaxPool1d(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool1dWithIndices(input, kernelSize, stride, padding, dilation, ceilMode).Values;

    /// <summary>Max pooling along the last dim of [N, C, L] or [C, L], also returning the index of each maximum along L; the stride defaults to the kernel size.</summary>
    public static (Tensor Values, Tensor Indices) MaxPool1dWithIndices(Tensor input, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Tensor.MaxPool1dWithIndices(input, kernelSize, stride ?? kernelSize, padding, dilation, ceilMode);
    }

    /// <summary>
    /// Average pooling; the divisor is the window size including padding (<paramref name="countIncludePad"/>),
    /// the valid part only, or <paramref name="divisorOverride"/>.
    /// </summary>
    public static Tensor AvgPool2d(Tensor input, Size2d kernelSize, Size2d? stride = null, Size2d padding = default, bool ceilMode = false,
        bool countIncludePad = true, int? divisorOverride = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        var s = stride ?? kernelSize;
        return Tensor.AvgPool2d(input, (kernelSize.H, kernelSize.W), (s.H, s.W), (padding.H, padding.W), ceilMode, countIncludePad, divisorOverride);
    }

    /// <summary>Average pooling to a fixed output size: output cell i averages input rows [floor(i*H/out), ceil((i+1)*H/out)).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2d outputSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Tensor.AdaptiveAvgPool2d(input, (outputSize.H, outputSize.W));
    }

    /// <summary>Max pooling of [N, C, H, W] (or [C, H, W]) to a fixed output size (F.adaptive_max_pool2d); windows as in <see cref="AdaptiveAvgPool2d"/>.</summary>
    public static Tensor AdaptiveMaxPool2d(Tensor input, Size2d outputSize) => AdaptiveMaxPool2dWithIndices(input, outputSize).Values;

    /// <summary>Adaptive max pooling that also returns the flat index of each maximum within its input plane.</summary>
    public static (Tensor Values, Tensor Indices) AdaptiveMaxPool2dWithIndices(Tensor input, Size2d outputSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Tensor.AdaptiveMaxPool2d(input, (outputSize.H, outputSize.W));
    }

    /// <summary>
    /// Batch normalisation of [N, C, *]. In training (or without running statistics) it normalises with the
    /// batch's mean and biased variance and, when given, updates the running statistics in place:
    /// r = (1 - momentum) r + momentum * stat, with the unbiased variance. Otherwise it uses the running statistics.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Tensor.BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps);
    }

    /// <summary>Normalises over the trailing <paramref name="normalizedShape"/> dims (mean and biased variance per sample), then weight * x + bias.</summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        return Tensor.LayerNorm(input, normalizedShape, weight, bias, eps);
    }

    /// <summary>Normalises [N, C, *] over each group of C/numGroups channels (and all positions), then a per-channel affine.</summary>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Tensor.GroupNorm(input, numGroups, weight, bias, eps);
    }

    /// <summary>
    /// Channel dropout (F.dropout2d): in training, zeroes each whole channel of [N, C, H, W] (or [C, H, W])
    /// with probability <paramref name="p"/> and scales the kept channels by 1/(1-p); otherwise returns the input.
    /// One random number per (sample, channel) comes from <paramref name="generator"/> (Generator.Default when null).
    /// </summary>
    public static Tensor Dropout2d(Tensor input, double p = 0.5, bool training = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!(p >= 0 && p <= 1)) throw new ArgumentException($"dropout2d: probability has to be between 0 and 1, but got {p}");
        if (input.Rank is not (3 or 4))
            throw new ArgumentException($"dropout2d: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {Shapes.Format(input.ShapeArray)}");
        if (!training || p == 0) return input;
        input.RequireFloat("dropout2d");
        if (p == 1) return input * 0.0;
        // The mask has size 1 in the spatial dims, so broadcasting applies one draw to a whole channel
        // and MulBackward sums nothing: the gradient is masked the same way.
        var maskShape = new int[input.Rank];
        maskShape.AsSpan().Fill(1);
        for (int i = 0; i < input.Rank - 2; i++) maskShape[i] = input.ShapeArray[i];
        var mask = DropoutMask(maskShape, p, input.DType, generator);
        return input * mask;
    }

    /// <summary>
    /// Local response normalisation across channels (AlexNet's LRN), exactly PyTorch's formula and order of
    /// operations: b_c = a_c / (k + alpha/n * sum_{c'} a_{c'}^2)^beta, with c' running over the window
    /// [c - n/2, c + (n-1)/2] clipped to the valid channels (zero padding, always divided by n).
    /// Input [N, C, *] with at least one trailing dim.
    /// </summary>
    public static Tensor LocalResponseNorm(Tensor input, int size, double alpha = 1e-4, double beta = 0.75, double k = 1.0)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 3)
            throw new ArgumentException($"local_response_norm: expected a 3-D or higher input [N, C, *], got {Shapes.Format(input.ShapeArray)}");
        if (size < 1) throw new ArgumentException($"local_response_norm: size must be positive, got {size}");
        input.RequireFloat("local_response_norm");
        if (input.Numel == 0) return input;
        int n = input.ShapeArray[0], c = input.ShapeArray[1];
        int rest = input.Numel / (n * c);
        // Square, view as [N, 1, C, rest], zero-pad the channel axis, and average a (size x 1) window with
        // stride 1: the channel-window sum divided by size, computed by the verified avg_pool2d op.
        var sq = input.Mul(input).Reshape(n, 1, c, rest).Pad([0, 0, size / 2, (size - 1) / 2]);
        var div = Tensor.AvgPool2d(sq, (size, 1), (1, 1)).Reshape(input.ShapeArray);
        return input / div.Mul(alpha).Add(k).Pow(beta);
    }
}
