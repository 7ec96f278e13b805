namespace DeepSharp.NN;

/// <summary>
/// Batch normalisation (PyTorch's _BatchNorm): y = (x - mean) / sqrt(var + eps) * weight + bias per channel
/// (dim 1). In training the batch's statistics are used and, with <see cref="TrackRunningStats"/>, the running
/// statistics move towards them: r = (1 - momentum) r + momentum * stat (unbiased variance), or with
/// momentum null a cumulative average (factor 1 / num_batches_tracked). In eval the running statistics are used.
/// State dict: weight, bias (affine), running_mean, running_var, num_batches_tracked (int64 scalar).
/// </summary>
public abstract class BatchNormBase : Module<Tensor, Tensor>
{
    private protected BatchNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, DType dtype)
    {
        if (numFeatures <= 0) throw new ArgumentException($"{GetType().Name}: num_features must be positive, got {numFeatures}");
        if (!(eps > 0)) throw new ArgumentException($"{GetType().Name}: eps must be positive, got {eps}");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([numFeatures], dtype));
            Bias = RegisterParameter("bias", Tensor.Zeros([numFeatures], dtype));
        }
        if (trackRunningStats)
        {
            RunningMean = Tensor.Zeros([numFeatures], dtype);
            RunningVar = Tensor.Ones([numFeatures], dtype);
            NumBatchesTracked = Tensor.Zeros([], DType.Int64);
        }
        // Registered even when null so the names exist, as PyTorch (null buffers are not saved).
        RegisterBuffer("running_mean", RunningMean);
        RegisterBuffer("running_var", RunningVar);
        RegisterBuffer("num_batches_tracked", NumBatchesTracked);
    }

    /// <summary>Number of channels C (dim 1 of the input).</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance before the square root (default 1e-5).</summary>
    public double Eps { get; }

    /// <summary>Weight of the newest batch in the running statistics; null for a cumulative moving average.</summary>
    public double? Momentum { get; set; }

    /// <summary>Whether the layer learns a per-channel <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool Affine { get; }

    /// <summary>Whether the layer keeps running statistics for eval mode; without them eval also uses the batch's statistics.</summary>
    public bool TrackRunningStats { get; }

    /// <summary>Per-channel scale gamma [C], starting at 1 (<c>weight</c>); null unless <see cref="Affine"/>.</summary>
    public Tensor? Weight { get; }

    /// <summary>Per-channel shift beta [C], starting at 0 (<c>bias</c>); null unless <see cref="Affine"/>.</summary>
    public Tensor? Bias { get; }

    /// <summary>Running mean [C], starting at 0 (buffer <c>running_mean</c>); null unless <see cref="TrackRunningStats"/>.</summary>
    public Tensor? RunningMean { get; }

    /// <summary>Running unbiased variance [C], starting at 1 (buffer <c>running_var</c>); null unless <see cref="TrackRunningStats"/>.</summary>
    public Tensor? RunningVar { get; }

    /// <summary>Number of training batches seen (int64 scalar); drives the cumulative average when Momentum is null.</summary>
    public Tensor? NumBatchesTracked { get; }

    /// <summary>Running mean 0, running variance 1, batch count 0.</summary>
    public void ResetRunningStats()
    {
        if (!TrackRunningStats) return;
        using (Autograd.NoGrad())
        {
            RunningMean!.Zero();
            RunningVar!.Fill(1);
            NumBatchesTracked!.Zero();
        }
    }

    /// <summary>Resets the running statistics and sets weight 1, bias 0.</summary>
    public void ResetParameters()
    {
        ResetRunningStats();
        if (Weight is not null) Init.Ones(Weight);
        if (Bias is not null) Init.Zeros(Bias);
    }

    /// <summary>Throws unless the input has a rank this layer accepts (BatchNorm1d: 2 or 3, BatchNorm2d: 4).</summary>
    private protected abstract void CheckInputDim(Tensor input);

    /// <summary>
    /// Normalises [N, C, *] per channel: with the batch's statistics in training (updating the running ones),
    /// with the running statistics in eval. The output has the input's shape.
    /// </summary>
    /// <exception cref="ArgumentException">The input's rank does not fit the layer or dim 1 is not <see cref="NumFeatures"/>.</exception>
    public override Tensor Forward(Tensor input) => Forward(input, relu: false);

    /// <summary>
    /// relu.Call(Call(input)) as one fused op (<see cref="Tensor.BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double, bool)"/>)
    /// when neither module has hooks; with hooks, the two calls, so that the hooks see the intermediate result.
    /// </summary>
    internal Tensor CallThenRelu(Tensor input, Relu relu)
    {
        if (HasHooks || relu.HasHooks) return relu.Call(Call(input));
        return CallWithHooks(input, this, static (x, m) => m.Forward(x, relu: true));
    }

    private Tensor Forward(Tensor input, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInputDim(input);
        if (input.ShapeArray[1] != NumFeatures)
            throw new ArgumentException($"{TypeName}({NumFeatures}): expected {NumFeatures} channels in dim 1 of the input, got {Shapes.Format(input.ShapeArray)}");
        double factor = Momentum ?? 0;
        if (Training && TrackRunningStats)
        {
            using (Autograd.NoGrad()) NumBatchesTracked!.AddInPlace(1);
            if (Momentum is null) factor = 1.0 / NumBatchesTracked!.Item<long>();
        }
        // Batch statistics in training, and in eval when there are no running statistics to use.
        bool useBatchStats = Training || RunningMean is null;
        bool passStats = !Training || TrackRunningStats;
        return Tensor.BatchNorm(input, passStats ? RunningMean : null, passStats ? RunningVar : null, Weight, Bias, useBatchStats, factor, Eps, relu);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr =>
        $"{NumFeatures}, eps={PyRepr.Float(Eps)}, momentum={(Momentum is { } m ? PyRepr.Float(m) : "None")}, affine={PyBool(Affine)}, track_running_stats={PyBool(TrackRunningStats)}";
}

/// <summary>Batch normalisation of [N, C] or [N, C, L] over N (and L), per channel (nn.BatchNorm1d).</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    private protected override void CheckInputDim(Tensor input)
    {
        if (input.Rank is not (2 or 3))
            throw new ArgumentException($"BatchNorm1d: expected 2D or 3D input (got {input.Rank}D input of shape {Shapes.Format(input.ShapeArray)})");
    }
}

/// <summary>Batch normalisation of [N, C, H, W] over N, H and W, per channel (nn.BatchNorm2d).</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, DType dtype = DType.Float32)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, dtype)
{
    private protected override void CheckInputDim(Tensor input)
    {
        if (input.Rank != 4)
            throw new ArgumentException($"BatchNorm2d: expected 4D input (got {input.Rank}D input of shape {Shapes.Format(input.ShapeArray)})");
    }
}

/// <summary>
/// Layer normalisation (nn.LayerNorm): each sample is normalised over its trailing <see cref="NormalizedShape"/>
/// dims (biased variance), then scaled by weight and shifted by bias of that shape (elementwise affine).
/// </summary>
public sealed class LayerNorm : Module<Tensor, Tensor>
{
    private readonly int[] _normalizedShape;

    /// <summary>Layer normalisation over the trailing dims <paramref name="normalizedShape"/>, e.g. [E] for a transformer's features or [C, H, W].</summary>
    /// <param name="normalizedShape">The sizes of the last dims of the input that each sample is normalised over.</param>
    /// <param name="eps">Added to the variance before the square root.</param>
    /// <param name="elementwiseAffine">Whether to learn a weight (starting at 1) and bias (starting at 0) of that shape.</param>
    /// <param name="dtype">Element type of the parameters.</param>
    /// <exception cref="ArgumentException"><paramref name="normalizedShape"/> is empty or has a size that is not positive.</exception>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d <= 0))
            throw new ArgumentException($"LayerNorm: normalized_shape must be non-empty with positive sizes, got {Shapes.Format(normalizedShape)}");
        _normalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        if (elementwiseAffine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones(_normalizedShape, dtype));
            Bias = RegisterParameter("bias", Tensor.Zeros(_normalizedShape, dtype));
        }
    }

    /// <summary>Layer normalisation over the last dim, of size <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(int normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, DType dtype = DType.Float32)
        : this([normalizedShape], eps, elementwiseAffine, dtype) { }

    /// <summary>The trailing dims normalised over.</summary>
    public IReadOnlyList<int> NormalizedShape => _normalizedShape;

    /// <summary>Added to the variance before the square root (default 1e-5).</summary>
    public double Eps { get; }

    /// <summary>Whether the layer learns <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>Scale of shape <see cref="NormalizedShape"/>, starting at 1 (<c>weight</c>); null without elementwise affine.</summary>
    public Tensor? Weight { get; }

    /// <summary>Shift of shape <see cref="NormalizedShape"/>, starting at 0 (<c>bias</c>); null without elementwise affine.</summary>
    public Tensor? Bias { get; }

    /// <summary>Weight 1, bias 0.</summary>
    public void ResetParameters()
    {
        if (Weight is not null) Init.Ones(Weight);
        if (Bias is not null) Init.Zeros(Bias);
    }

    /// <summary>Normalises each sample of [*, normalized_shape] over its trailing dims; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => Functional.LayerNorm(input, _normalizedShape, Weight, Bias, Eps);

    /// <inheritdoc/>
    protected override string ExtraRepr =>
        $"({string.Join(", ", _normalizedShape)}{(_normalizedShape.Length == 1 ? "," : "")}), eps={PyRepr.Float(Eps)}, elementwise_affine={PyBool(ElementwiseAffine)}";
}

/// <summary>
/// Group normalisation (nn.GroupNorm): the C channels of [N, C, *] are split into <see cref="NumGroups"/>
/// groups, each normalised over its channels and positions per sample; then a per-channel affine.
/// Batch-size independent, so it behaves the same in training and eval.
/// </summary>
public sealed class GroupNorm : Module<Tensor, Tensor>
{
    /// <summary>Group normalisation of <paramref name="numChannels"/> channels in <paramref name="numGroups"/> groups.</summary>
    /// <exception cref="ArgumentException">A count is not positive or the channels are not divisible by the groups.</exception>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true, DType dtype = DType.Float32)
    {
        if (numGroups <= 0 || numChannels <= 0)
            throw new ArgumentException($"GroupNorm: num_groups ({numGroups}) and num_channels ({numChannels}) must be positive");
        if (numChannels % numGroups != 0)
            throw new ArgumentException($"GroupNorm: num_channels ({numChannels}) must be divisible by num_groups ({numGroups})");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        Affine = affine;
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([numChannels], dtype));
            Bias = RegisterParameter("bias", Tensor.Zeros([numChannels], dtype));
        }
    }

    /// <summary>Number of groups the channels are split into.</summary>
    public int NumGroups { get; }

    /// <summary>Number of channels C (dim 1 of the input).</summary>
    public int NumChannels { get; }

    /// <summary>Added to the variance before the square root (default 1e-5).</summary>
    public double Eps { get; }

    /// <summary>Whether the layer learns a per-channel <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool Affine { get; }

    /// <summary>Per-channel scale [C], starting at 1 (<c>weight</c>); null unless <see cref="Affine"/>.</summary>
    public Tensor? Weight { get; }

    /// <summary>Per-channel shift [C], starting at 0 (<c>bias</c>); null unless <see cref="Affine"/>.</summary>
    public Tensor? Bias { get; }

    /// <summary>Weight 1, bias 0.</summary>
    public void ResetParameters()
    {
        if (Weight is not null) Init.Ones(Weight);
        if (Bias is not null) Init.Zeros(Bias);
    }

    /// <summary>Normalises [N, C, *] per sample and group; the output has the input's shape.</summary>
    /// <exception cref="ArgumentException">The input has rank below 2 or dim 1 is not <see cref="NumChannels"/>.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2 || input.ShapeArray[1] != NumChannels)
            throw new ArgumentException($"GroupNorm({NumGroups}, {NumChannels}): expected an input [N, {NumChannels}, *], got {Shapes.Format(input.ShapeArray)}");
        return Functional.GroupNorm(input, NumGroups, Weight, Bias, Eps);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => $"{NumGroups}, {NumChannels}, eps={PyRepr.Float(Eps)}, affine={PyBool(Affine)}";
}

/// <summary>
/// Local response normalisation across channels (nn.LocalResponseNorm, AlexNet 2012):
/// b_c = a_c / (k + alpha/n * sum_{c' in [c - n/2, c + (n-1)/2]} a_{c'}^2)^beta with n = <see cref="Size"/>.
/// </summary>
public sealed class LocalResponseNorm : Module<Tensor, Tensor>
{
    /// <summary>Local response normalisation over <paramref name="size"/> neighbouring channels, with PyTorch's defaults (alpha 1e-4, beta 0.75, k 1).</summary>
    /// <exception cref="ArgumentException"><paramref name="size"/> is less than 1.</exception>
    public LocalResponseNorm(int size, double alpha = 1e-4, double beta = 0.75, double k = 1.0)
    {
        if (size < 1) throw new ArgumentException($"LocalResponseNorm: size must be positive, got {size}");
        Size = size;
        Alpha = alpha;
        Beta = beta;
        K = k;
    }

    /// <summary>Number of neighbouring channels n summed over.</summary>
    public int Size { get; }

    /// <summary>Multiplicative factor alpha (divided by n).</summary>
    public double Alpha { get; }

    /// <summary>Exponent beta.</summary>
    public double Beta { get; }

    /// <summary>Additive constant k.</summary>
    public double K { get; }

    /// <summary>Normalises [N, C, *] across channels; the output has the input's shape.</summary>
    public override Tensor Forward(Tensor input) => Functional.LocalResponseNorm(input, Size, Alpha, Beta, K);

    /// <inheritdoc/>
    protected override string ExtraRepr => $"{Size}, alpha={PyRepr.Float(Alpha)}, beta={PyRepr.Float(Beta)}, k={PyRepr.Float(K)}";
}
