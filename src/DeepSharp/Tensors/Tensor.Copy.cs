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
            // Large copies are split along the first dimension, one slab per thread (memory-bound, but one core
            // does not saturate the bandwidth; a write-through-broadcast destination, stride 0, stays serial).
            int parts = dst.Rank == 0 || dst.StrideArray[0] == 0 ? 1 : Math.Min(WorkerPool.Parts(dst.Numel, ParallelCopyMinElements), dst.ShapeArray[0]);
            if (parts > 1)
            {
                T[] sa = src.Array<T>(), da = dst.Array<T>();
                int[] dstStrides = dst.StrideArray, shape = dst.ShapeArray;
                int srcOffset = src.Offset, dstOffset = dst.Offset;
                WorkerPool.For(parts, part =>
                {
                    var (start, end) = WorkerPool.Range(part, parts, shape[0], 1);
                    var slab = (int[])shape.Clone();
                    slab[0] = end - start;
                    StridedCopy.Copy<T>(sa, srcOffset + start * srcStrides[0], srcStrides, da, dstOffset + start * dstStrides[0], dstStrides, slab);
                }, wakeSleepers: dst.Numel >= ParallelCopyWakeElements);
                return;
            }
            if (src.IsContiguous && dst.IsContiguous && srcStrides == src.StrideArray)
            {
                src.ReadSpan<T>().CopyTo(dst.Span<T>());
                return;
            }
            StridedCopy.Copy<T>(src.Array<T>(), src.Offset, srcStrides, dst.Array<T>(), dst.Offset, dst.StrideArray, dst.ShapeArray);
        }
    }

    // From 64k elements (256 KB of float32, ~10 µs) a copy is worth a second thread that is awake; from 1M one that naps.
    private const int ParallelCopyMinElements = 1 << 16;
    private const int ParallelCopyWakeElements = 1 << 20;

    /// <summary>A contiguous tensor of <paramref name="shape"/> holding t broadcast to it (t itself when it already is).</summary>
    internal static Tensor Materialize(Tensor t, int[] shape)
    {
        if (t.IsContiguous && t.ShapeArray.AsSpan().SequenceEqual(shape)) return t;
        var result = Empty(shape, t.DType);
        CopyElements(t, t.Layout.BroadcastStrides(shape), result);
        return result;
    }
}
