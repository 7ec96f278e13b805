using DeepSharp.Kernels;

namespace DeepSharp.Inference;

/// <summary>
/// Keeps activations in the flat layout between the convolutions of the flat kernel (see <see cref="FlatShape"/>):
/// a convolution then reads its input in place and writes its output straight into the layout its readers take,
/// instead of laying out its input and copying its output back to NCHW (a quarter of ResNet-20's inference time).
/// A value is flat when every step that reads it is such a convolution (as its input, or as the residual it adds,
/// whose output must then be flat alike), and its producer writes the layout's rows and columns, or it is laid out
/// once by a <see cref="ToFlatStep"/> after a producer that cannot (a pooling layer, another convolution kernel).
/// </summary>
internal static class FlatPlanning
{
    public static List<PlanStep> Apply(List<PlanStep> steps, PlanValue output)
    {
        var readers = new Dictionary<PlanValue, List<ConvStep?>>(ReferenceEqualityComparer.Instance); // null: a reader that needs NCHW
        foreach (var step in steps)
            foreach (var input in step.Inputs)
            {
                // A view's source is read through the view, as NCHW.
                if (!ReferenceEquals(input.Root, input)) Readers(readers, input.Root).Add(null);
                // The blocked kernel reads a flat input (not a flat residual) in place too.
                Readers(readers, input).Add(step is ConvStep conv && (conv.UsesFlatKernel || conv.UsesBlockedKernel && ReferenceEquals(conv.Inputs[0], input)) ? conv : null);
            }
        Readers(readers, output.Root).Add(null);

        // Each candidate's shape and whether its producer writes it itself; then drop candidates whose neighbours are not flat, until none changes.
        var plans = new Dictionary<PlanValue, (FlatShape Shape, bool Convert)>(ReferenceEqualityComparer.Instance);
        var producers = new Dictionary<PlanValue, PlanStep>(ReferenceEqualityComparer.Instance);
        foreach (var step in steps)
        {
            producers[step.Output] = step;
            if (Candidate(step, readers) is { } plan) plans[step.Output] = plan;
        }
        for (bool changed = true; changed;)
        {
            changed = false;
            foreach (var (value, plan) in plans.ToArray())
            {
                var fixedPlan = Check(value, plan, producers[value], readers[value], plans);
                if (fixedPlan == plan) continue;
                if (fixedPlan is { } p) plans[value] = p;
                else plans.Remove(value);
                changed = true;
            }
        }

        var result = new List<PlanStep>(steps.Count);
        foreach (var step in steps)
        {
            result.Add(step);
            if (!plans.TryGetValue(step.Output, out var plan)) continue;
            if (!plan.Convert)
            {
                step.Output.Flat = plan.Shape;
                continue;
            }
            var flat = new PlanValue(step.Output.SampleShape) { Flat = plan.Shape };
            foreach (var reader in readers[step.Output].Distinct()) reader!.ReplaceInput(step.Output, flat);
            result.Add(new ToFlatStep(step.Output, flat));
        }
        return result;
    }

    private static List<ConvStep?> Readers(Dictionary<PlanValue, List<ConvStep?>> readers, PlanValue value)
    {
        if (!readers.TryGetValue(value, out var list)) readers[value] = list = [];
        return list;
    }

    /// <summary>The flat shape of <paramref name="step"/>'s output if every reader is a flat-kernel convolution whose padding agrees.</summary>
    private static (FlatShape, bool)? Candidate(PlanStep step, Dictionary<PlanValue, List<ConvStep?>> readers)
    {
        var value = step.Output;
        if (step is ConvStep { UsesBlockedKernel: true }) return null; // writes the blocked layout
        if (value.Rank != 4 || !readers.TryGetValue(value, out var list) || list.Count == 0 || list.Any(r => r is null)) return null;
        (int H, int W)? pad = null;
        bool readInPlace = false; // some reader reads it without laying it out: worth a conversion
        foreach (var conv in list)
        {
            if (conv!.UsesBlockedKernel) continue; // takes any padding that covers its own (checked below)
            var g = conv.Geometry;
            bool input = ReferenceEquals(conv.Inputs[0], value);
            if (ReferenceEquals(conv.Residual, value)) readInPlace = true;
            if (!input || !g.UnitStride) continue;
            // The layout holds what a (2 pad + 1)-wide kernel reads: a wider one would read past a channel's slack.
            if (g.KernelH - 1 > 2 * g.PadH || g.KernelW - 1 > 2 * g.PadW || (pad is { } p && p != (g.PadH, g.PadW))) return null;
            pad = (g.PadH, g.PadW);
            readInPlace = true;
        }
        int c = value.SampleShape[0], h = value.SampleShape[1], w = value.SampleShape[2];
        if (step is ConvStep producer && producer.UsesFlatKernel)
        {
            var pg = producer.Geometry;
            var natural = new FlatLayout(pg, 1, 1);
            // Without a stride-1 reader, the padding the producer's own layout leaves (a 3x3 pad-1 layer's: 1).
            pad ??= pg.UnitStride ? (natural.ImageRows - h, natural.RowStride - w) : null;
            if (pad is { } p && Writes(pg, natural, new FlatShape(c, h, w, p.H, p.W))) return Covered(new FlatShape(c, h, w, p.H, p.W), false, list);
        }
        return readInPlace && pad is { } q ? Covered(new FlatShape(c, h, w, q.H, q.W), true, list) : null;
    }

    /// <summary>The plan, if the borders of <paramref name="shape"/> hold the padding of every blocked-kernel reader.</summary>
    private static (FlatShape, bool)? Covered(FlatShape shape, bool convert, List<ConvStep?> readers) =>
        readers.All(conv => !conv!.UsesBlockedKernel || BlockedConv.Reads(shape, conv.Geometry)) ? (shape, convert) : null;

    /// <summary>Whether a convolution's output positions are those of <paramref name="shape"/> (a strided layout can be widened to them).</summary>
    private static bool Writes(in ConvGeometry g, in FlatLayout natural, FlatShape shape)
    {
        var target = shape.Layout(1, 1);
        return g.UnitStride
            ? natural.RowStride == target.RowStride && natural.ImageRows == target.ImageRows
            : natural.RowStride <= target.RowStride && natural.ImageRows <= target.ImageRows;
    }

    /// <summary>
    /// The plan for <paramref name="value"/> given the others: a producer that adds a residual writes flat only with a
    /// flat residual of the same shape (else it writes NCHW and a conversion follows), and a reader that adds the
    /// value as its residual and writes flat needs the same shape. Null: not flat.
    /// </summary>
    private static (FlatShape Shape, bool Convert)? Check(PlanValue value, (FlatShape Shape, bool Convert) plan, PlanStep producer,
        List<ConvStep?> readers, Dictionary<PlanValue, (FlatShape Shape, bool Convert)> plans)
    {
        // A reader writing flat adds the value in its tiles, at its own output positions; one writing NCHW reads it as planes.
        foreach (var conv in readers)
            if (ReferenceEquals(conv!.Residual, value) && plans.TryGetValue(conv.Output, out var other) && !other.Convert && other.Shape != plan.Shape)
                return null;
        if (!plan.Convert && producer is ConvStep { Residual: { } residual } &&
            !(plans.TryGetValue(residual, out var r) && r.Shape == plan.Shape))
            return readers.Any(conv => ReferenceEquals(conv!.Inputs[0], value) && conv.Geometry.UnitStride)
                ? (plan.Shape, true) : null;
        return plan;
    }
}
