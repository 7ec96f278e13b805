using DeepSharp.Kernels;

namespace DeepSharp.Inference;

/// <summary>
/// Max, average and adaptive-average pooling over the N*C planes of an [N, C, H, W] value, with the eager ops'
/// kernels; planes are split over the worker pool when there is enough work (the eager ops' threshold).
/// </summary>
internal sealed unsafe class PoolStep : PlanStep
{
    public enum Kind { Max, Average, AdaptiveAverage }

    private readonly Kind _kind;
    private readonly PoolGeometry _geometry; // Planes = channels of one sample
    private readonly bool _countIncludePad;
    private readonly int _divisor;

    public PoolStep(Kind kind, PoolGeometry geometry, PlanValue input, PlanValue output, bool countIncludePad = true, int divisor = 0)
        : base([input], output)
    {
        (_kind, _geometry, _countIncludePad, _divisor) = (kind, geometry, countIncludePad, divisor);
    }

    /// <summary>Max pooling (which a direct convolution before it can take over, see <see cref="ConvStep.FuseMaxPool"/>).</summary>
    public bool IsMax => _kind == Kind.Max;

    /// <summary>The pooling of one sample (Planes: its channels).</summary>
    public PoolGeometry Geometry => _geometry;

    private long WorkPerPlane => _kind == Kind.AdaptiveAverage
        ? (long)_geometry.InH * _geometry.InW
        : (long)_geometry.OutH * _geometry.OutW * _geometry.KernelH * _geometry.KernelW;

    public override long WorkPerSample => _geometry.Planes * WorkPerPlane;

    public override void Run(Arena arena)
    {
        int planes = arena.Batch * _geometry.Planes;
        var task = new PlanesTask(this, arena, _geometry with { Planes = planes });
        int parts = planes * WorkPerPlane >= 1 << 16 ? Math.Min(WorkerPool.Threads, planes) : 1;
        task.Parts = parts;
        if (parts <= 1) task.Run(0);
        else WorkerPool.For(parts, task);
    }

    private void RunPlanes(Arena arena, in PoolGeometry g, int p0, int p1)
    {
        var x = arena.Span(Inputs[0]);
        var y = arena.Span(Output);
        switch (_kind)
        {
            case Kind.Max: Pooling.MaxForward<float>(x, y, [], g, p0, p1); break;
            case Kind.Average: Pooling.Average<float>(x, y, g, _countIncludePad, _divisor, backward: false, p0, p1); break;
            default: Pooling.AdaptiveAverage<float>(x, y, g.InH, g.InW, g.OutH, g.OutW, backward: false, p0, p1); break;
        }
    }

    public override string Describe()
    {
        var g = _geometry;
        string name = _kind switch { Kind.Max => "max_pool2d", Kind.Average => "avg_pool2d", _ => "adaptive_avg_pool2d" };
        return _kind == Kind.AdaptiveAverage ? $"{name} {Output.Describe()}" : $"{name} {g.KernelH}x{g.KernelW} stride {g.StrideH} {Output.Describe()}";
    }

    private sealed class PlanesTask(PoolStep step, Arena arena, PoolGeometry g) : IParallelTask
    {
        public int Parts { get; set; } = 1;

        public void Run(int part) =>
            step.RunPlanes(arena, g, (int)((long)g.Planes * part / Parts), (int)((long)g.Planes * (part + 1) / Parts));
    }
}
