using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Scans along one dim: cumsum and cumprod (torch.cumsum, torch.cumprod), forward next to backward.
// The input is laid out contiguously as [outer, n, inner] with n the scanned dim.
public sealed partial class Tensor
{
    /// <summary>Cumulative sum along <paramref name="dim"/>: y[.., k, ..] = x[.., 0, ..] + ... + x[.., k, ..].</summary>
    public Tensor Cumsum(int dim) => Scan("cumsum", dim, product: false);

    /// <summary>Cumulative product along <paramref name="dim"/>. Its gradient is exact when the input holds zeros.</summary>
    public Tensor Cumprod(int dim) => Scan("cumprod", dim, product: true);

    private Tensor Scan(string op, int dim, bool product)
    {
        if (DType == DType.Bool) throw new ArgumentException($"{op}: not supported for bool tensors; convert with .To(DType.Int64) or .Float()");
        var (outer, n, inner) = ScanLayout(op, dim);
        var x = ContiguousData();
        var result = EmptyLike(this);
        Dispatch.Numeric(op, DType, new ScanRun(x, result, outer, n, inner, product));
        KeepAlive(x);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScanBackward(this, product ? result : null, outer, n, inner);
        return result;
    }

    /// <summary>[outer, n, inner] around the scanned dim; a scalar scans over its single element (dim 0 or -1).</summary>
    private (int Outer, int N, int Inner) ScanLayout(string op, int dim)
    {
        int d = Shapes.NormalizeDim(op, dim, Rank);
        if (Rank == 0) return (1, 1, 1);
        return (Prod(ShapeArray, 0, d), ShapeArray[d], Prod(ShapeArray, d + 1, Rank));
    }

    private readonly struct ScanRun(Tensor x, Tensor y, int outer, int n, int inner, bool product) : INumericKernel
    {
        public void Run<T>() where T : unmanaged, INumber<T> => ScanKernels.Forward(x.ReadSpan<T>(), outer, n, inner, product, y.Span<T>());
    }

    /// <summary>The cumsum gradient (x and y null) or the cumprod gradient.</summary>
    private readonly struct ScanGrad(Tensor? x, Tensor? y, Tensor g, Tensor dx, int outer, int n, int inner) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (x is null) ScanKernels.SumBackward(g.ReadSpan<T>(), outer, n, inner, dx.Span<T>());
            else ScanKernels.ProductBackward(x.ReadSpan<T>(), y!.ReadSpan<T>(), g.ReadSpan<T>(), outer, n, inner, dx.Span<T>());
        }
    }

    /// <summary>cumsum: dx = reversed cumulative sum of g. cumprod: see <see cref="ScanKernels.ProductBackward{T}"/>.</summary>
    private sealed class ScanBackward : Node
    {
        private readonly bool _product;
        private readonly int _outer, _n, _inner;

        public ScanBackward(Tensor x, Tensor? product, int outer, int n, int inner) : base(x)
        {
            (_product, _outer, _n, _inner) = (product is not null, outer, n, inner);
            if (product is not null) SaveForBackward(x, product);
        }

        public override string Name => _product ? "CumprodBackward" : "CumsumBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var g = grad.ContiguousData();
            var dx = EmptyLike(grad);
            if (!_product)
            {
                Dispatch.Float(g.DType, new ScanGrad(null, null, g, dx, _outer, _n, _inner));
                KeepAlive(grad, g);
                return [dx];
            }
            var x = Saved(0).ContiguousData();
            var y = Saved(1).ContiguousData();
            Dispatch.Float(g.DType, new ScanGrad(x, y, g, dx, _outer, _n, _inner));
            KeepAlive(grad, g, x, y);
            return [dx];
        }
    }
}
