using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>
/// Conv2d with a snapshot of its weights, into which a following batch norm is folded and whose epilogue can add a
/// residual and apply ReLU.
/// </summary>
internal sealed unsafe class ConvStep : PlanStep, IReluEpilogue
{
    private readonly float[] _weight;
    private float[]? _bias;
    private float[]? _packed; // _weight in the layout of the kernel that runs this shape, when it has one
    private float[]? _blocked; // _weight for the channel-blocked kernel, when it runs this shape (then _packed is null)
    private readonly ConvGeometry _geometry; // for one sample; the batch is the arena's
    private bool _foldedNorm;
    private PoolGeometry? _maxPool; // a max pool taken over from the step after this one (direct kernel only)
    private readonly bool _winograd; // the eager kernels run it (Winograd's, for the batches it takes), NCHW in and out

    /// <summary>
    /// With <paramref name="winograd"/> the step is run by <see cref="ConvKernels.Forward{T}"/>, which takes Winograd's
    /// kernels for the batches they apply to, rather than by the channel-blocked or flat kernel.
    /// </summary>
    public ConvStep(Conv2d conv, ConvGeometry geometry, PlanValue input, PlanValue output, bool winograd = false) : base([input], output)
    {
        _weight = conv.Weight.ToArray<float>();
        _bias = conv.Bias?.ToArray<float>();
        _geometry = geometry;
        _winograd = winograd;
        Pack();
    }

    public bool Relu { get; set; }

    /// <summary>Whether Winograd's kernels (through <see cref="ConvKernels.Forward{T}"/>) run this step rather than the blocked or flat one.</summary>
    public bool UsesWinograd => _winograd;

    /// <summary>A value of the output's shape added before the ReLU (a residual connection fused in), or null.</summary>
    public PlanValue? Residual { get; private set; }

    /// <summary>Whether a following add can become this step's epilogue: the flat and blocked kernels add as they store.</summary>
    public bool CanAddResidual => (_packed is not null || _blocked is not null) && Residual is null && !Relu;

    public void AddResidual(PlanValue residual)
    {
        Residual = residual;
        Inputs = [Inputs[0], residual];
    }

    public int OutChannels => _geometry.OutChannels;

    /// <summary>The convolution for one sample.</summary>
    public ConvGeometry Geometry => _geometry;

    /// <summary>Whether the flat kernel runs this step (its weights are packed for it): it can then read and write flat values.</summary>
    public bool UsesFlatKernel => _packed is not null;

    /// <summary>
    /// Whether the channel-blocked kernel runs this step: it writes a blocked output and reads a blocked or flat input
    /// and a blocked residual (<see cref="BlockedPlanning"/> lays out what is not).
    /// </summary>
    public bool UsesBlockedKernel => _blocked is not null;

    /// <summary>
    /// Whether this step can write its output channel-blocked although another kernel runs it: the direct kernel (a
    /// first layer with few input channels) lays each image out as it finishes it.
    /// </summary>
    public bool CanWriteBlocked => RunsDirect && _maxPool is null && _geometry.OutChannels % BlockedConv.Lanes == 0;

    /// <summary>
    /// Whether this step can pool its own output: the direct kernel pools each image while it is in cache (LeNet-5's
    /// first layer), instead of a pass over the whole batch's output.
    /// </summary>
    public bool CanFuseMaxPool(PoolStep pool) =>
        RunsDirect && _maxPool is null && pool.IsMax && pool.Geometry.Planes == _geometry.OutChannels &&
        pool.Geometry.InH == _geometry.OutH && pool.Geometry.InW == _geometry.OutW;

    /// <summary>Takes over <paramref name="pool"/> (see <see cref="CanFuseMaxPool"/>); the caller makes its output this step's.</summary>
    public void FuseMaxPool(PoolStep pool) => _maxPool = pool.Geometry;

    // The direct kernel runs this step (no packed weights, nothing the other kernels add).
    private bool RunsDirect => _blocked is null && _packed is null && Residual is null && DirectConv.Applies<float>(_geometry);

    public override void ReplaceInput(PlanValue value, PlanValue replacement)
    {
        base.ReplaceInput(value, replacement);
        if (ReferenceEquals(Residual, value)) Residual = replacement;
    }

    public void FoldBatchNorm(BatchNormBase bn)
    {
        _bias = BatchNormFolding.FoldInto(_weight, _bias, bn);
        _foldedNorm = true;
        Pack();
    }

    private void Pack()
    {
        if (_winograd) return; // its kernel transforms the weights itself
        fixed (float* w = _weight)
        {
            if (BlockedConv.Applies(_geometry))
            {
                _blocked = BlockedConv.PackWeights(w, _geometry);
                _bias ??= new float[_geometry.OutChannels]; // the blocked tiles start from the bias
            }
            else _packed = ConvKernels.PackForward(w, _geometry);
        }
    }

    public override long WorkPerSample => (long)_geometry.OutChannels * _geometry.K * _geometry.P;

    public override void Run(Arena arena)
    {
        if (_blocked is not null)
        {
            var input = Inputs[0].Root;
            fixed (float* packed = _blocked, b = _bias)
                BlockedConv.Forward(arena.Pointer(input), input.Blocked, input.Flat, packed, b, arena.Pointer(Output),
                    Output.Blocked ?? throw new InvalidOperationException("ConvStep: the blocked kernel writes a blocked output"), _geometry with { Batch = arena.Batch },
                    Relu, Residual is null ? null : arena.Pointer(Residual));
            return;
        }
        if (Output.Blocked is not null || _maxPool is not null)
        {
            fixed (float* w = _weight, b = _bias)
                DirectConv.Forward(arena.Pointer(Inputs[0]), w, b, arena.Pointer(Output), _geometry with { Batch = arena.Batch }, Relu, Output.Blocked, _maxPool);
            return;
        }
        fixed (float* w = _weight, packed = _packed, b = _bias)
            ConvKernels.ForwardPrepacked(arena.Pointer(Inputs[0]), w, packed, b, arena.Pointer(Output), _geometry with { Batch = arena.Batch }, Relu,
                Residual is null ? null : arena.Pointer(Residual), Inputs[0].Root.Flat, Output.Flat, Residual?.Root.Flat);
    }

    public override string Describe()
    {
        var g = _geometry;
        return $"conv2d {g.KernelH}x{g.KernelW} {g.InChannels}->{g.OutChannels}" + (g.StrideH > 1 || g.StrideW > 1 ? $" stride {g.StrideH}" : "") +
            (g.Groups > 1 ? $" groups {g.Groups}" : "") + (_foldedNorm ? " +bn" : "") + (Residual is null ? "" : " +add") + (Relu ? " +relu" : "") +
            (_maxPool is { } mp ? $" +max_pool2d {mp.KernelH}x{mp.KernelW} stride {mp.StrideH}" : "") + (_winograd ? " winograd" : "") + " " + Output.Describe();
    }
}

/// <summary>
/// An NCHW activation laid out flat for the convolutions that read it (see <see cref="FlatPlanning"/>): where its
/// producer cannot write the flat layout itself (the first convolution of a ResNet, a pooling layer).
/// </summary>
internal sealed unsafe class ToFlatStep(PlanValue input, PlanValue output) : PlanStep([input], output)
{
    public override long WorkPerSample => Output.SampleSize;

    public override void Run(Arena arena) => FlatConv.ToFlat(arena.Pointer(Inputs[0]), arena.Pointer(Output), Output.Flat!.Value, arena.Batch);

    public override string Describe() => "to_flat " + Output.Describe();
}

/// <summary>An NCHW activation laid out channel-blocked for the convolutions that read it (see <see cref="BlockedPlanning"/>).</summary>
internal sealed unsafe class ToBlockedStep(PlanValue input, PlanValue output) : PlanStep([input], output)
{
    public override long WorkPerSample => Output.SampleSize;

    public override void Run(Arena arena) => BlockedConv.ToBlocked(arena.Pointer(Inputs[0]), arena.Pointer(Output), Output.Blocked!.Value, arena.Batch);

    public override string Describe() => "to_blocked " + Output.Describe();
}

/// <summary>A channel-blocked activation back in NCHW for the steps that read it so (see <see cref="BlockedPlanning"/>).</summary>
internal sealed unsafe class FromBlockedStep(PlanValue input, PlanValue output) : PlanStep([input], output)
{
    public override long WorkPerSample => Output.SampleSize;

    public override void Run(Arena arena) => BlockedConv.FromBlocked(arena.Pointer(Inputs[0]), arena.Pointer(Output), Inputs[0].Blocked!.Value, arena.Batch);

    public override string Describe() => "from_blocked " + Output.Describe();
}
