using DeepSharp.Kernels;

namespace DeepSharp;

public sealed partial class Tensor
{
    /// <summary>Copies src's elements into dst (same shape and dtype; either may be strided).</summary>
    internal static void CopyElements(Tensor src, Tensor dst) => CopyElements(src, src.StrideArray, dst);

    /// <summary>Copies src viewed with <paramref name="srcStrides"/> (0 = broadcast) into dst's shape.</summary>
    internal static void CopyElements(Tensor src, int[] srcStrides, Tensor dst)
    {
        switch (dst.DType)
        {
            case DType.Float32: Copy<float>(src, srcStrides, dst); break;
            case DType.Float64: Copy<double>(src, srcStrides, dst); break;
            case DType.Int64: Copy<long>(src, srcStrides, dst); break;
            default: Copy<bool>(src, srcStrides, dst); break;
        }
        KeepAlive(src, dst); // src may be a temporary view whose storage nothing else holds

        static void Copy<T>(Tensor src, int[] srcStrides, Tensor dst) where T : unmanaged
        {
            if (src.IsContiguous && dst.IsContiguous && srcStrides == src.StrideArray)
            {
                src.ReadSpan<T>().CopyTo(dst.Span<T>());
                return;
            }
            StridedCopy.Copy<T>(src.Array<T>(), src.Offset, srcStrides, dst.Array<T>(), dst.Offset, dst.StrideArray, dst.ShapeArray);
        }
    }

    /// <summary>A contiguous tensor of <paramref name="shape"/> holding t broadcast to it (t itself when it already is).</summary>
    internal static Tensor Materialize(Tensor t, int[] shape)
    {
        if (t.IsContiguous && t.ShapeArray.AsSpan().SequenceEqual(shape)) return t;
        var result = Empty(shape, t.DType);
        CopyElements(t, Shapes.BroadcastStrides(t.ShapeArray, t.StrideArray, shape), result);
        return result;
    }
}
