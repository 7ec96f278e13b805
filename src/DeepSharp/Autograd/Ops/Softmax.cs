using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Softmax and log-softmax along a dim, numerically stable (max subtracted per row).
// The kernels work on rows, so a dim other than the last is swapped to the end and back.
public sealed partial class Tensor
{
    /// <summary>exp(x_i - max) / sum_j exp(x_j - max) along <paramref name="dim"/>.</summary>
    public Tensor Softmax(int dim) => SoftmaxCore(dim, log: false);

    /// <summary>x_i - max - log(sum_j exp(x_j - max)) along <paramref name="dim"/>.</summary>
    public Tensor LogSoftmax(int dim) => SoftmaxCore(dim, log: true);

    private Tensor SoftmaxCore(int dim, bool log)
    {
        string op = log ? "log_softmax" : "softmax";
        RequireFloat(op);
        int d = Shapes.NormalizeDim(op, dim, Rank);
        var x = SwapToLast(d);
        var y = EmptyLike(x);
        int n = x.Rank == 0 ? 1 : x.ShapeArray[^1];
        int rows = n == 0 ? 0 : x.Numel / n;
        Dispatch.Float(x.DType, new SoftmaxRows(x, y, rows, n, log));
        KeepAlive(x);
        var result = y.SwapToLast(d);
        if (Autograd.ShouldRecord(this)) result.GradFn = new SoftmaxBackward(this, result, d, log);
        return result;
    }

    /// <summary>A contiguous tensor with dims <paramref name="dim"/> and the last swapped (this one if dim is last). Its own inverse.</summary>
    private Tensor SwapToLast(int dim)
    {
        if (Rank <= 1 || dim == Rank - 1) return ContiguousData();
        var perm = new int[Rank];
        for (int i = 0; i < Rank; i++) perm[i] = i;
        (perm[dim], perm[^1]) = (perm[^1], perm[dim]);
        return PermutedView(perm).ContiguousData();
    }

    private readonly struct SoftmaxRows(Tensor x, Tensor y, int rows, int n, bool log) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => ReductionKernels.Softmax(x.ReadSpan<T>(), y.Span<T>(), rows, n, log);
    }

    private readonly struct SoftmaxRowsBackward(Tensor y, Tensor g, Tensor dx, int rows, int n, bool log) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => ReductionKernels.SoftmaxBackward(y.ReadSpan<T>(), g.ReadSpan<T>(), dx.Span<T>(), rows, n, log);
    }

    private sealed class SoftmaxBackward : Node
    {
        private readonly int _dim;
        private readonly bool _log;

        public SoftmaxBackward(Tensor x, Tensor y, int dim, bool log) : base(x)
        {
            (_dim, _log) = (dim, log);
            SaveForBackward(y);
        }

        public override string Name => _log ? "LogSoftmaxBackward" : "SoftmaxBackward";

        protected internal override Tensor?[] Backward(Tensor g)
        {
            int dim = _dim;
            bool log = _log;
            var y = Saved(0).SwapToLast(dim);
            var gl = g.SwapToLast(dim);
            var dx = EmptyLike(y);
            int n = y.Rank == 0 ? 1 : y.ShapeArray[^1];
            int rows = n == 0 ? 0 : y.Numel / n;
            Dispatch.Float(y.DType, new SoftmaxRowsBackward(y, gl, dx, rows, n, log));
            KeepAlive(y, gl, g);
            return [dx.SwapToLast(dim)];
        }
    }
}
