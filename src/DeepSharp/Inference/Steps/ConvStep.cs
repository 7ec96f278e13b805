using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>Conv2d with a snapshot of its weights, into which a following batch norm is folded and whose epilogue can apply ReLU.</summary>
internal sealed unsafe class ConvStep : PlanStep, IReluEpilogue
{
    private readonly float[] _weight;
    private float[]? _bias;
    private float[]? _packed; // _weight in the layout of the kernel that runs this shape, when it has one
    private readonly ConvGeometry _geometry; // for one sample; the batch is the arena's
    private bool _foldedNorm;

    public ConvStep(Conv2d conv, ConvGeometry geometry, PlanValue input, PlanValue output) : base([input], output)
    {
        _weight = conv.Weight.ToArray<float>();
        _bias = conv.Bias?.ToArray<float>();
        _geometry = geometry;
        Pack();
    }

    public bool Relu { get; set; }

    public int OutChannels => _geometry.OutChannels;

    public void FoldBatchNorm(BatchNormBase bn)
    {
        _bias = BatchNormFolding.FoldInto(_weight, _bias, bn);
        _foldedNorm = true;
        Pack();
    }

    private void Pack()
    {
        fixed (float* w = _weight) _packed = ConvKernels.PackForward(w, _geometry);
    }

    public override long WorkPerSample => (long)_geometry.OutChannels * _geometry.K * _geometry.P;

    public override void Run(Arena arena)
    {
        fixed (float* w = _weight, packed = _packed, b = _bias)
            ConvKernels.ForwardPrepacked(arena.Pointer(Inputs[0]), w, packed, b, arena.Pointer(Output), _geometry with { Batch = arena.Batch }, Relu);
    }

    public override string Describe()
    {
        var g = _geometry;
        return $"conv2d {g.KernelH}x{g.KernelW} {g.InChannels}->{g.OutChannels}" + (g.StrideH > 1 || g.StrideW > 1 ? $" stride {g.StrideH}" : "") +
            (g.Groups > 1 ? $" groups {g.Groups}" : "") + (_foldedNorm ? " +bn" : "") + (Relu ? " +relu" : "") + " " + Output.Describe();
    }
}
