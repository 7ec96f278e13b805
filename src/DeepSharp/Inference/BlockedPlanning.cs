using DeepSharp.Kernels;

namespace DeepSharp.Inference;

/// <summary>
/// Lays out the values around the convolutions of the channel-blocked kernel (see <see cref="BlockedConv"/>), after
/// <see cref="FlatPlanning"/>: such a convolution writes a blocked value, which stays blocked when every reader is a
/// blocked convolution (as its input or the residual it adds) and is otherwise converted to NCHW once for all of them;
/// it reads a blocked or flat input in place, and an NCHW input or residual laid out blocked once by a
/// <see cref="ToBlockedStep"/> (shared by the convolutions that read the same value).
/// </summary>
internal static class BlockedPlanning
{
    public static List<PlanStep> Apply(List<PlanStep> steps, PlanValue output)
    {
        if (!steps.Any(s => s is ConvStep { UsesBlockedKernel: true })) return steps;
        var readers = new Dictionary<PlanValue, List<PlanStep?>>(ReferenceEqualityComparer.Instance); // null: read through a view
        foreach (var step in steps)
            foreach (var input in step.Inputs)
                for (PlanValue? v = input; v is not null; v = v.Source) // a view's read is a read of its source too
                    Readers(readers, v).Add(ReferenceEquals(v, input) ? step : null);

        var result = new List<PlanStep>(steps.Count);
        var laidOut = new Dictionary<PlanValue, PlanValue>(ReferenceEqualityComparer.Instance); // NCHW value -> its blocked copy
        foreach (var step in steps)
        {
            if (step is not ConvStep { UsesBlockedKernel: true } conv)
            {
                // A convolution run by the direct kernel writes the blocked layout itself for readers that take only it.
                if (step is ConvStep { CanWriteBlocked: true } direct && ReadOnlyBlocked(direct.Output, readers, output))
                    direct.Output.Blocked = new BlockedShape(direct.Geometry.OutChannels, direct.Geometry.OutH, direct.Geometry.OutW);
                result.Add(step);
                continue;
            }
            var g = conv.Geometry;
            var input = conv.Inputs[0];
            if (!(input.Blocked is not null || input.Root.Flat is { } flat && ReferenceEquals(input, input.Root) && BlockedConv.Reads(flat, g)))
                conv.ReplaceInput(input, LaidOut(input, result, laidOut));
            if (conv.Residual is { } residual && residual.Blocked is null)
                conv.ReplaceInput(residual, LaidOut(residual, result, laidOut));
            result.Add(conv);

            var value = conv.Output;
            var shape = new BlockedShape(g.OutChannels, g.OutH, g.OutW);
            var list = readers.GetValueOrDefault(value) ?? [];
            if (ReadOnlyBlocked(value, readers, output))
            {
                value.Blocked = shape;
                continue;
            }
            // The others read the NCHW value; blocked readers read the blocked one.
            var blocked = new PlanValue(value.SampleShape) { Blocked = shape };
            conv.Output = blocked;
            foreach (var reader in list.OfType<ConvStep>().Where(c => c.UsesBlockedKernel).Distinct()) reader.ReplaceInput(value, blocked);
            result.Add(new FromBlockedStep(blocked, value));
        }
        return result;
    }

    /// <summary>Whether every step that reads <paramref name="value"/> is a blocked convolution taking it as its input or residual.</summary>
    private static bool ReadOnlyBlocked(PlanValue value, Dictionary<PlanValue, List<PlanStep?>> readers, PlanValue output) =>
        !ReferenceEquals(value, output.Root) && ReferenceEquals(value, value.Root) && value.Flat is null &&
        readers.GetValueOrDefault(value) is { Count: > 0 } list &&
        list.All(r => r is ConvStep { UsesBlockedKernel: true } c && (ReferenceEquals(c.Inputs[0], value) || ReferenceEquals(c.Residual, value)));

    private static List<PlanStep?> Readers(Dictionary<PlanValue, List<PlanStep?>> readers, PlanValue value)
    {
        if (!readers.TryGetValue(value, out var list)) readers[value] = list = [];
        return list;
    }

    /// <summary>The blocked copy of NCHW <paramref name="value"/>, made by a step added before the convolution that first reads it.</summary>
    private static PlanValue LaidOut(PlanValue value, List<PlanStep> result, Dictionary<PlanValue, PlanValue> laidOut)
    {
        if (laidOut.TryGetValue(value, out var copy)) return copy;
        if (value.Flat is not null || value.Root.Flat is not null || value.Rank != 4)
            throw new InvalidOperationException($"InferenceModel: the blocked convolution cannot read {value.Describe()}");
        copy = new PlanValue(value.SampleShape) { Blocked = new BlockedShape(value.SampleShape[0], value.SampleShape[1], value.SampleShape[2]) };
        result.Add(new ToBlockedStep(value, copy));
        laidOut[value] = copy;
        return copy;
    }
}
