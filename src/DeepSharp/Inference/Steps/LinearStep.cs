using System.Numerics.Tensors;
using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>Linear (x W^T + b over the last dim) with a snapshot of its weights; a following BatchNorm1d folds in, ReLU fuses.</summary>
internal sealed unsafe class LinearStep : PlanStep, IReluEpilogue
{
    private readonly float[] _weight; // [out, in]
    private float[]? _bias;
    private readonly int _in, _out;
    private PackedB _packed; // W^T packed for the GEMM's kernel once, not on every call
    private bool _foldedNorm;

    public LinearStep(Linear linear, PlanValue input, PlanValue output) : base([input], output)
    {
        _weight = linear.Weight.ToArray<float>();
        _bias = linear.Bias?.ToArray<float>();
        (_in, _out) = (linear.InFeatures, linear.OutFeatures);
        _packed = Pack();
    }

    private PackedB Pack()
    {
        fixed (float* w = _weight) return Gemm.PackB(true, _out, _in, w, _in);
    }

    public bool Relu { get; set; }

    public int OutFeatures => _out;

    public void FoldBatchNorm(BatchNormBase bn)
    {
        _bias = BatchNormFolding.FoldInto(_weight, _bias, bn);
        _foldedNorm = true;
        _packed = Pack();
    }

    private int RowsPerSample => Output.SampleSize / Math.Max(_out, 1);

    public override long WorkPerSample => (long)RowsPerSample * _in * _out;

    public override void Run(Arena arena)
    {
        int rows = arena.Batch * RowsPerSample;
        float* x = arena.Pointer(Inputs[0]), y = arena.Pointer(Output);
        if (_bias is not null)
            for (int r = 0; r < rows; r++) _bias.CopyTo(new Span<float>(y + (long)r * _out, _out));
        fixed (float* w = _weight)
            Gemm.Sgemm(rows, x, _in, _packed, w, _in, _bias is null ? 0f : 1f, y, _out);
        if (Relu)
        {
            var all = new Span<float>(y, rows * _out);
            TensorPrimitives.Max(all, 0f, all);
        }
    }

    public override string Describe() => $"linear {_in}->{_out}" + (_foldedNorm ? " +bn" : "") + (Relu ? " +relu" : "") + " " + Output.Describe();
}
