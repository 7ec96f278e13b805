using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>
/// Turns a module tree into a list of steps for inputs of a known per-sample shape. Layers it knows become steps
/// (convolution, linear, batch norm, ReLU, pooling, flatten; dropout and identity vanish); Sequentials and
/// <see cref="IInferencePlannable"/> modules are walked; anything else, and any known layer called with a shape or
/// setting the steps do not cover, becomes an <see cref="EagerStep"/> running the module itself.
/// </summary>
internal sealed class PlanBuilder
{
    private readonly List<PlanStep> _steps = [];
    private readonly Dictionary<Module, string> _names;
    private readonly int _maxBatch;
    private readonly bool _winograd;

    /// <summary>
    /// Plans <paramref name="root"/>'s modules for batches up to <paramref name="maxBatch"/>; with <paramref name="winograd"/>
    /// the 3x3 convolutions Winograd's kernels take at that batch run with them (NCHW in and out), not channel-blocked.
    /// </summary>
    public PlanBuilder(Module root, int maxBatch, bool winograd = false)
    {
        _names = new Dictionary<Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, module) in root.NamedModules()) _names[module] = name.Length == 0 ? root.TypeName : name;
        _maxBatch = maxBatch;
        _winograd = winograd;
    }

    /// <summary>Convolutions Winograd's kernels could run at the largest batch (whether or not this plan gives them to it).</summary>
    public int WinogradCandidates { get; private set; }

    public List<PlanStep> Steps => _steps;

    public PlanValue Call(Module<Tensor, Tensor> module, PlanValue x)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (module.HasHooks) return Eager(module, x); // hooks observe tensors, so the module runs as in the eager model
        switch (module)
        {
            case Sequential sequential:
                foreach (var layer in sequential) x = Call(layer, x);
                return x;
            case IInferencePlannable plannable:
                return plannable.Plan(this, x);
            case Identity or Dropout or Dropout2d:
                return x; // identities in eval mode
            case Relu:
                return Emit(new ReluStep(x, Like(x)));
            case Conv2d conv when ConvGeometryFor(conv, x) is { } g:
                bool winograd = WinogradConv.Applies<float>(g with { Batch = _maxBatch });
                if (winograd) WinogradCandidates++;
                return Emit(new ConvStep(conv, g, x, new PlanValue([g.OutChannels, g.OutH, g.OutW]), winograd && _winograd));
            case Linear linear when x.SampleShape.Length >= 1 && x.SampleShape[^1] == linear.InFeatures && linear.Weight.DType == DType.Float32:
                return Emit(new LinearStep(linear, x, new PlanValue([.. x.SampleShape[..^1], linear.OutFeatures])));
            case BatchNormBase bn when BatchNormFolding.CanFold(bn) && x.SampleShape.Length >= 1 && x.SampleShape[0] == bn.NumFeatures &&
                                       (bn is BatchNorm2d ? x.Rank == 4 : x.Rank is 2 or 3):
                return Emit(new ChannelAffineStep(bn, x, Like(x)));
            case MaxPool2d pool when x.Rank == 4 && PoolGeometryFor(x, pool.KernelSize, pool.Stride, pool.Padding, pool.Dilation, pool.CeilMode) is { } g:
                return Emit(new PoolStep(PoolStep.Kind.Max, g, x, new PlanValue([g.Planes, g.OutH, g.OutW])));
            case AvgPool2d pool when x.Rank == 4 && PoolGeometryFor(x, pool.KernelSize, pool.Stride, pool.Padding, 1, pool.CeilMode) is { } g:
                return Emit(new PoolStep(PoolStep.Kind.Average, g, x, new PlanValue([g.Planes, g.OutH, g.OutW]), pool.CountIncludePad, pool.DivisorOverride ?? 0));
            case AdaptiveAvgPool2d pool when x.Rank == 4 && x.SampleShape[1] > 0 && x.SampleShape[2] > 0:
                var a = new PoolGeometry(x.SampleShape[0], x.SampleShape[1], x.SampleShape[2], pool.OutputSize.H, pool.OutputSize.W, 0, 0, 1, 1, 0, 0);
                return Emit(new PoolStep(PoolStep.Kind.AdaptiveAverage, a, x, new PlanValue([a.Planes, a.OutH, a.OutW])));
            case Flatten flatten when FlattenDims(x, flatten.StartDim, flatten.EndDim) is { } dims:
                return Flatten(x, dims.Start, dims.End);
            default:
                return Eager(module, x);
        }
    }

    /// <summary>a + b of equal shapes (a residual connection).</summary>
    public PlanValue Add(PlanValue a, PlanValue b)
    {
        if (!a.SampleShape.AsSpan().SequenceEqual(b.SampleShape))
            throw new InvalidOperationException($"InferenceModel: cannot add {a.Describe()} and {b.Describe()}");
        return Emit(new AddStep(a, b, Like(a)));
    }

    /// <summary>x.Flatten(startDim, endDim) for dims after the batch: a view of the same buffer.</summary>
    public PlanValue Flatten(PlanValue x, int startDim, int endDim = -1)
    {
        var dims = FlattenDims(x, startDim, endDim) ?? throw new InvalidOperationException($"InferenceModel: cannot flatten dims {startDim}..{endDim} of {x.Describe()} without merging the batch");
        var full = x.SampleShape;
        int s = dims.Start - 1, e = dims.End - 1; // in sample dims
        int merged = 1;
        for (int d = s; d <= e; d++) merged *= full[d];
        return new PlanValue([.. full[..s], merged, .. full[(e + 1)..]], x);
    }

    /// <summary>Runs the module eagerly; its output shape comes from calling it once on zeros of the largest batch.</summary>
    public PlanValue Eager(Module<Tensor, Tensor> module, PlanValue x)
    {
        Tensor y;
        using (Autograd.NoGrad()) y = module.Call(Tensor.Zeros([_maxBatch, .. x.SampleShape]));
        if (y.Rank == 0 || y.ShapeArray[0] != _maxBatch || y.DType != DType.Float32)
            throw new InvalidOperationException(
                $"InferenceModel: {Name(module)} ({module.TypeName}) maps [{_maxBatch}{string.Concat(x.SampleShape.Select(d => ", " + d))}] to {y.Describe()}; a plan needs float32 outputs that keep the batch in dim 0");
        return Emit(new EagerStep(module, Name(module), x, new PlanValue(y.ShapeArray[1..])));
    }

    private string Name(Module module) => _names.TryGetValue(module, out var name) ? name : module.TypeName;

    private PlanValue Emit(PlanStep step)
    {
        _steps.Add(step);
        return step.Output;
    }

    private static PlanValue Like(PlanValue x) => new((int[])x.SampleShape.Clone());

    private static ConvGeometry? ConvGeometryFor(Conv2d conv, PlanValue x)
    {
        if (x.Rank != 4 || x.SampleShape[0] != conv.InChannels || conv.Weight.DType != DType.Float32) return null;
        var (pad, extra) = conv.Padding.Resolve("Conv2d", conv.KernelSize, conv.Dilation, conv.Stride);
        if (extra.H != 0 || extra.W != 0) return null;
        var g = new ConvGeometry(1, conv.InChannels, x.SampleShape[1], x.SampleShape[2], conv.OutChannels, conv.KernelSize.H, conv.KernelSize.W,
            conv.Stride.H, conv.Stride.W, pad.H, pad.W, conv.Dilation.H, conv.Dilation.W, conv.Groups);
        // Inputs smaller than the kernel are left to the eager op, which reports them.
        bool fits = g.InH + 2 * pad.H >= conv.Dilation.H * (conv.KernelSize.H - 1) + 1 && g.InW + 2 * pad.W >= conv.Dilation.W * (conv.KernelSize.W - 1) + 1;
        return fits && g.OutH > 0 && g.OutW > 0 ? g : null;
    }

    private static PoolGeometry? PoolGeometryFor(PlanValue x, Size2d k, Size2d s, Size2d p, Size2d d, bool ceilMode)
    {
        int c = x.SampleShape[0], h = x.SampleShape[1], w = x.SampleShape[2];
        int oh = PoolGeometry.OutputSize(h, k.H, s.H, p.H, d.H, ceilMode), ow = PoolGeometry.OutputSize(w, k.W, s.W, p.W, d.W, ceilMode);
        return oh > 0 && ow > 0 ? new PoolGeometry(c, h, w, oh, ow, k.H, k.W, s.H, s.W, p.H, p.W, d.H, d.W) : null;
    }

    // Flatten's dims in the full shape (batch = 0), when they leave the batch alone.
    private static (int Start, int End)? FlattenDims(PlanValue x, int startDim, int endDim)
    {
        int rank = x.Rank;
        int s = startDim < 0 ? startDim + rank : startDim, e = endDim < 0 ? endDim + rank : endDim;
        return s >= 1 && e >= s && e < rank ? (s, e) : null;
    }
}
