using DeepSharp.Kernels;

namespace DeepSharp;

// Pooling over the last two dims (N, C planes): max (with indices), average, adaptive average and
// adaptive max; 1-D variants run as 2-D with H = 1. Planes are split over the worker pool when large.
public sealed partial class Tensor
{
    /// <summary>Max pooling of [N, C, H, W] (or [C, H, W]); returns values and flat indices into each input plane.</summary>
    public static (Tensor Values, Tensor Indices) MaxPool2dWithIndices(Tensor input, Size2d kernel, Size2d? stride = null,
        Size2d? padding = null, Size2d? dilation = null, bool ceilMode = false)
    {
        var s = stride ?? kernel;
        var p = padding ?? (0, 0);
        var d = dilation ?? (1, 1);
        if (p.H * 2 > kernel.H || p.W * 2 > kernel.W)
            throw new ArgumentException($"max_pool2d: padding {p} should be at most half of the kernel size {kernel}");
        var g = PoolShape("max_pool2d", input, kernel, s, p, d, ceilMode);
        var x = input.ContiguousData();
        var values = Empty(PooledShape(input, g), input.DType);
        var indices = Empty(PooledShape(input, g), DType.Int64);
        Dispatch.Float(input.DType, new MaxForwardKernel(x, values, indices.Array<long>(), g));
        KeepAlive(x); // a contiguous copy only the kernel's arrays point into
        if (Autograd.ShouldRecord(input)) values.GradFn = new MaxPoolBackward(input, indices, g);
        return (values, indices);
    }

    private readonly struct MaxForwardKernel(Tensor x, Tensor values, long[] idx, PoolGeometry g) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var xa = x.Array<T>();
            int xo = x.Offset;
            var ya = values.Array<T>();
            var (indices, geometry) = (idx, g); // locals: a lambda cannot capture a struct's fields
            ForPlanes(g.Planes, (long)g.OutH * g.OutW * g.KernelH * g.KernelW, (p0, p1) =>
                Pooling.MaxForward<T>(xa.AsSpan(xo), ya, indices, geometry, p0, p1));
        }
    }

    /// <summary>
    /// Max pooling of [N, C, H, W] (or [C, H, W]) with a square kernel; the stride defaults to the kernel size
    /// (F.max_pool2d). Returns only the values.
    /// </summary>
    public static Tensor MaxPool2d(Tensor input, int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2dWithIndices(input, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding), (dilation, dilation), ceilMode).Values;

    /// <summary>Max pooling of [N, C, L] along L.</summary>
    public static (Tensor Values, Tensor Indices) MaxPool1dWithIndices(Tensor input, int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
    {
        if (input.Rank is not (2 or 3)) throw new ArgumentException($"max_pool1d: expected [N, C, L] or [C, L], got {Shapes.Format(input.ShapeArray)}");
        var (v, i) = MaxPool2dWithIndices(input.Unsqueeze(-2), (1, kernel), (1, stride ?? kernel), (0, padding), (1, dilation), ceilMode);
        return (v.Squeeze(-2), i.Squeeze(-2));
    }

    /// <summary>Max pooling of [N, C, L] (or [C, L]) along L; the stride defaults to the kernel size (F.max_pool1d).</summary>
    public static Tensor MaxPool1d(Tensor input, int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool1dWithIndices(input, kernel, stride, padding, dilation, ceilMode).Values;

    /// <summary>Average pooling of [N, C, H, W] with PyTorch's divisor rules (count_include_pad, divisor_override).</summary>
    public static Tensor AvgPool2d(Tensor input, Size2d kernel, Size2d? stride = null, Size2d? padding = null,
        bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null)
    {
        var s = stride ?? kernel;
        var p = padding ?? (0, 0);
        if (p.H * 2 > kernel.H || p.W * 2 > kernel.W)
            throw new ArgumentException($"avg_pool2d: padding {p} should be at most half of the kernel size {kernel}");
        if (divisorOverride is <= 0) throw new ArgumentException($"avg_pool2d: divisor_override must be positive, got {divisorOverride}");
        var g = PoolShape("avg_pool2d", input, kernel, s, p, (1, 1), ceilMode);
        var output = Empty(PooledShape(input, g), input.DType);
        AveragePlanes(input.ContiguousData(), output, g, countIncludePad, divisorOverride ?? 0, backward: false);
        if (Autograd.ShouldRecord(input)) output.GradFn = new AvgPoolBackward(input, g, countIncludePad, divisorOverride ?? 0);
        return output;
    }

    /// <summary>
    /// Average pooling of [N, C, H, W] with a square kernel; the stride defaults to the kernel size (F.avg_pool2d).
    /// With <paramref name="countIncludePad"/> the zero padding counts in the divisor.
    /// </summary>
    public static Tensor AvgPool2d(Tensor input, int kernel, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d(input, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding), ceilMode, countIncludePad);

    /// <summary>Average pooling to a fixed output size: window i covers [floor(i*in/out), ceil((i+1)*in/out)).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2d outputSize)
    {
        var (planes, h, w) = PlaneShape("adaptive_avg_pool2d", input);
        CheckAdaptive("adaptive_avg_pool2d", outputSize);
        var shape = (int[])input.ShapeArray.Clone();
        shape[^2] = outputSize.H;
        shape[^1] = outputSize.W;
        var output = Empty(shape, input.DType);
        var x = input.ContiguousData();
        Dispatch.Float(input.DType, new AdaptiveAverageKernel(x, output, planes, h, w, outputSize, backward: false));
        KeepAlive(x); // a contiguous copy only the kernel's arrays point into
        if (Autograd.ShouldRecord(input)) output.GradFn = new AdaptiveAvgBackward(input, outputSize);
        return output;
    }

    /// <summary>Adaptive average pooling of src's planes [h, w] into dst's [size], or its backward (src the gradient, dst the input's).</summary>
    private readonly struct AdaptiveAverageKernel(Tensor src, Tensor dst, int planes, int h, int w, (int H, int W) size, bool backward) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var sa = src.Array<T>();
            int so = src.Offset;
            var da = dst.Array<T>();
            var (inH, inW, outH, outW, back) = (h, w, size.H, size.W, backward); // locals: a lambda cannot capture a struct's fields
            ForPlanes(planes, (long)h * w, (p0, p1) => Pooling.AdaptiveAverage<T>(sa.AsSpan(so), da, inH, inW, outH, outW, back, p0, p1));
        }
    }

    /// <summary>Max pooling to a fixed output size, with flat indices into each input plane.</summary>
    public static (Tensor Values, Tensor Indices) AdaptiveMaxPool2d(Tensor input, Size2d outputSize)
    {
        var (planes, h, w) = PlaneShape("adaptive_max_pool2d", input);
        CheckAdaptive("adaptive_max_pool2d", outputSize);
        if (h == 0 || w == 0) throw new ArgumentException($"adaptive_max_pool2d: input {Shapes.Format(input.ShapeArray)} has an empty plane");
        var shape = (int[])input.ShapeArray.Clone();
        shape[^2] = outputSize.H;
        shape[^1] = outputSize.W;
        var values = Empty(shape, input.DType);
        var indices = Empty((int[])shape.Clone(), DType.Int64);
        var x = input.ContiguousData();
        Dispatch.Float(input.DType, new AdaptiveMaxKernel(x, values, indices.Array<long>(), planes, h, w, outputSize));
        KeepAlive(x); // a contiguous copy only the kernel's arrays point into
        var g = new PoolGeometry(planes, h, w, outputSize.H, outputSize.W, 1, 1, 1, 1, 0, 0);
        if (Autograd.ShouldRecord(input)) values.GradFn = new MaxPoolBackward(input, indices, g);
        return (values, indices);
    }

    private readonly struct AdaptiveMaxKernel(Tensor x, Tensor values, long[] idx, int planes, int h, int w, (int H, int W) size) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var xa = x.Array<T>();
            int xo = x.Offset;
            var ya = values.Array<T>();
            var (indices, inH, inW, outH, outW) = (idx, h, w, size.H, size.W); // locals: a lambda cannot capture a struct's fields
            ForPlanes(planes, (long)h * w, (p0, p1) => Pooling.AdaptiveMax<T>(xa.AsSpan(xo), ya, indices, inH, inW, outH, outW, p0, p1));
        }
    }

    private static void CheckAdaptive(string op, (int H, int W) size)
    {
        if (size.H <= 0 || size.W <= 0) throw new ArgumentException($"{op}: output size {size} must be positive");
    }

    private static (int Planes, int H, int W) PlaneShape(string op, Tensor input)
    {
        if (input.Rank is not (3 or 4)) throw new ArgumentException($"{op}: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got {Shapes.Format(input.ShapeArray)}");
        input.RequireFloat(op);
        int h = input.ShapeArray[^2], w = input.ShapeArray[^1];
        return (h * w == 0 ? 0 : input.Numel / (h * w), h, w);
    }

    private static PoolGeometry PoolShape(string op, Tensor input, (int H, int W) k, (int H, int W) s, (int H, int W) p, (int H, int W) d, bool ceilMode)
    {
        var (planes, h, w) = PlaneShape(op, input);
        if (k.H < 1 || k.W < 1 || s.H < 1 || s.W < 1 || d.H < 1 || d.W < 1 || p.H < 0 || p.W < 0)
            throw new ArgumentException($"{op}: kernel {k}, stride {s} and dilation {d} must be positive and padding {p} non-negative");
        int oh = PoolGeometry.OutputSize(h, k.H, s.H, p.H, d.H, ceilMode), ow = PoolGeometry.OutputSize(w, k.W, s.W, p.W, d.W, ceilMode);
        if (oh <= 0 || ow <= 0)
            throw new ArgumentException($"{op}: input {Shapes.Format(input.ShapeArray)} is too small for kernel {k} with padding {p} and dilation {d} (output would be {oh}x{ow})");
        return new PoolGeometry(planes, h, w, oh, ow, k.H, k.W, s.H, s.W, p.H, p.W, d.H, d.W);
    }

    private static int[] PooledShape(Tensor input, PoolGeometry g)
    {
        var shape = (int[])input.ShapeArray.Clone();
        shape[^2] = g.OutH;
        shape[^1] = g.OutW;
        return shape;
    }

    /// <summary>Runs body over plane ranges, split across the worker pool when the total work pays for it.</summary>
    private static void ForPlanes(int planes, long workPerPlane, Action<int, int> body)
    {
        int parts = planes * workPerPlane >= 1 << 16 ? Math.Min(WorkerPool.Threads, planes) : 1;
        if (parts <= 1)
        {
            body(0, planes);
            return;
        }
        WorkerPool.For(parts, t => body((int)((long)planes * t / parts), (int)((long)planes * (t + 1) / parts)));
    }

    private static void AveragePlanes(Tensor src, Tensor dst, PoolGeometry g, bool countIncludePad, int divisor, bool backward)
    {
        Dispatch.Float(dst.DType, new AverageKernel(src, dst, g, countIncludePad, divisor, backward));
        KeepAlive(src, dst); // src is often a caller's temporary contiguous copy
    }

    private readonly struct AverageKernel(Tensor src, Tensor dst, PoolGeometry g, bool countIncludePad, int divisor, bool backward) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var sa = src.Array<T>();
            int so = src.Offset;
            var da = dst.Array<T>();
            var (geometry, includePad, div, back) = (g, countIncludePad, divisor, backward); // locals: a lambda cannot capture a struct's fields
            ForPlanes(g.Planes, (long)g.OutH * g.OutW * g.KernelH * g.KernelW, (p0, p1) =>
                Pooling.Average<T>(sa.AsSpan(so), da, geometry, includePad, div, back, p0, p1));
        }
    }

    private sealed class MaxPoolBackward(Tensor input, Tensor indices, PoolGeometry g) : Node(input)
    {
        private readonly int[] _shape = input.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var gx = Empty(_shape, grad.DType); // each range of planes is cleared by the thread that scatters into it
            var gy = grad.ContiguousData();
            Dispatch.Float(gx.DType, new MaxBackwardKernel(gy, indices.Array<long>(), gx, g));
            KeepAlive(grad, gy);
            return [gx];
        }
    }

    /// <summary>Scatters each pooled gradient to the input position its index names, into planes it clears first.</summary>
    private readonly struct MaxBackwardKernel(Tensor gy, long[] idx, Tensor gx, PoolGeometry g) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var ga = gy.Array<T>();
            int go = gy.Offset;
            var xa = gx.Array<T>();
            var (indices, geometry) = (idx, g); // locals: a lambda cannot capture a struct's fields
            ForPlanes(g.Planes, (long)g.OutH * g.OutW, (p0, p1) =>
                Pooling.MaxBackward<T>(ga.AsSpan(go), indices, xa, geometry, p0, p1));
        }
    }

    private sealed class AvgPoolBackward(Tensor input, PoolGeometry g, bool countIncludePad, int divisor) : Node(input)
    {
        private readonly int[] _shape = input.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var gx = Zeros(_shape, grad.DType);
            AveragePlanes(grad.ContiguousData(), gx, g, countIncludePad, divisor, backward: true);
            return [gx];
        }
    }

    private sealed class AdaptiveAvgBackward(Tensor input, (int H, int W) outputSize) : Node(input)
    {
        private readonly int[] _shape = input.ShapeArray;

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var gx = Zeros(_shape, grad.DType);
            var gy = grad.ContiguousData();
            int h = _shape[^2], w = _shape[^1];
            int planes = h * w == 0 ? 0 : gx.Numel / (h * w);
            Dispatch.Float(gx.DType, new AdaptiveAverageKernel(gy, gx, planes, h, w, outputSize, backward: true));
            KeepAlive(grad, gy);
            return [gx];
        }
    }
}
