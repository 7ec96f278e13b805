namespace DeepSharp.Inference;

/// <summary>
/// Lays out a plan's activations in one block, llm.c style, from their lifetimes: walking the steps in order, each
/// output takes a block region whose previous value has been read for the last time (the smallest that fits, else
/// the largest free one, grown), or a new region. Regions are then placed one after another, 64-byte aligned.
/// </summary>
internal static class MemoryPlanner
{
    private const int AlignFloats = 16;

    private sealed class Region
    {
        public long Size;
        public int BusyUntil;
        public readonly List<PlanValue> Values = [];
    }

    /// <summary>Sets every step output's <see cref="PlanValue.Offset"/> and returns the arena size in floats.</summary>
    public static long Assign(IReadOnlyList<PlanStep> steps, PlanValue output, int maxBatch)
    {
        var lastRead = new Dictionary<PlanValue, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < steps.Count; i++)
            foreach (var input in steps[i].Inputs) lastRead[input.Root] = i;
        lastRead[output.Root] = int.MaxValue;

        var regions = new List<Region>();
        for (int i = 0; i < steps.Count; i++)
        {
            var value = steps[i].Output.Root;
            long size = value.Floats(maxBatch);
            Region? best = null;
            foreach (var r in regions)
            {
                if (r.BusyUntil >= i) continue;
                if (best is null || Better(r, best, size)) best = r;
            }
            if (best is null) regions.Add(best = new Region());
            best.Size = Math.Max(best.Size, size);
            best.BusyUntil = lastRead.GetValueOrDefault(value, i);
            best.Values.Add(value);
        }

        long offset = 0;
        foreach (var r in regions)
        {
            foreach (var v in r.Values) v.Offset = offset;
            offset += (r.Size + AlignFloats - 1) / AlignFloats * AlignFloats;
        }
        return offset;

        // A region that fits beats one that does not; among fitting ones the smallest, else the largest.
        static bool Better(Region candidate, Region current, long size)
        {
            bool fits = candidate.Size >= size, currentFits = current.Size >= size;
            if (fits != currentFits) return fits;
            return fits ? candidate.Size < current.Size : candidate.Size > current.Size;
        }
    }
}
