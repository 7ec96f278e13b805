using DeepSharp.Kernels;

namespace DeepSharp.Inference;

/// <summary>
/// One activation of a plan: its shape per sample (the batch dim is left out, so a plan serves every batch up to
/// the one it was prepared for) and where it lives. A view (flatten, dropout in eval) shares its source's buffer.
/// </summary>
internal sealed class PlanValue(int[] sampleShape, PlanValue? viewOf = null)
{
    public int[] SampleShape { get; } = sampleShape;

    /// <summary>Elements per sample.</summary>
    public int SampleSize { get; } = Shapes.Numel(sampleShape);

    /// <summary>The value this one is a view of, or null.</summary>
    public PlanValue? Source { get; } = viewOf;

    /// <summary>The value whose buffer this one reads (itself unless it is a view).</summary>
    public PlanValue Root => Source?.Root ?? this;

    /// <summary>The model's input: read in place from the caller's tensor, never written.</summary>
    public bool IsInput { get; init; }

    /// <summary>
    /// Set when the value is kept in the flat layout of the convolutions that read it (see <see cref="FlatPlanning"/>);
    /// only flat-aware steps read or write it then.
    /// </summary>
    public FlatShape? Flat { get; set; }

    /// <summary>
    /// Set when the value is kept in the channel-blocked layout of the convolutions that write and read it (see
    /// <see cref="BlockedPlanning"/>); only blocked-aware steps read or write it then.
    /// </summary>
    public BlockedShape? Blocked { get; set; }

    /// <summary>Floats a batch of this value takes in an arena.</summary>
    public long Floats(int batch) => Flat is { } flat ? flat.Floats(batch) : Blocked is { } blocked ? blocked.Floats(batch) : (long)SampleSize * batch;

    /// <summary>Offset in floats of this root's buffer in an arena (set by <see cref="MemoryPlanner"/>).</summary>
    public long Offset { get; set; }

    public int Rank => SampleShape.Length + 1;

    public string Describe() => "[N" + string.Concat(SampleShape.Select(d => ", " + d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]" + (Flat is null ? "" : " flat") + (Blocked is null ? "" : " blocked");
}
