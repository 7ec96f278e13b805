namespace DeepSharp.Inference;

/// <summary>
/// The activations of one call in flight: a single pinned block laid out by <see cref="MemoryPlanner"/>, allocated
/// once and reused by every later call. Concurrent callers each take their own arena from the model's pool.
/// </summary>
internal sealed unsafe class Arena
{
    private readonly float[] _data;

    public Arena(long floats)
    {
        // 16 floats more than the plan, so that Base can start on a cache line: the plan aligns its regions to 64 bytes
        // from Base, and vector loads and stores that straddle lines cost per call (a pinned array's data is only
        // 8-byte aligned, so it varied from process to process).
        _data = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(floats, 1) + LineFloats), pinned: true);
        if (PoolDiagnostics.Poison) _data.AsSpan().Fill(float.NaN); // a step reading what no step wrote shows up as NaN
        var start = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_data));
        Base = (float*)(((nuint)start + 63) & ~(nuint)63);
    }

    private const int LineFloats = 64 / sizeof(float);

    /// <summary>Zeros every activation (before timing steps on it).</summary>
    public void Clear() => _data.AsSpan().Clear();

    /// <summary>Start of the activation block (pinned for the arena's lifetime).</summary>
    public float* Base { get; }

    /// <summary>The caller's input for the call in flight (pinned by the caller).</summary>
    public float* Input { get; set; }

    /// <summary>Samples in the call in flight.</summary>
    public int Batch { get; set; }

    public float* Pointer(PlanValue value)
    {
        var root = value.Root;
        return root.IsInput ? Input : Base + root.Offset;
    }

    public Span<float> Span(PlanValue value) =>
        value.Root.Flat is null && value.Root.Blocked is null ? new(Pointer(value), checked(Batch * value.SampleSize))
        : throw new InvalidOperationException("InferenceModel: a flat- or blocked-layout value was read as an NCHW span (a planning error)");
}
