namespace DeepSharp.Data;

/// <summary>
/// The share of each epoch that one rank of a data-parallel job trains on (PyTorch's DistributedSampler). Every rank
/// draws the same shuffled order (same seed), pads it by wrapping around to a multiple of the world size, and takes
/// every <c>WorldSize</c>-th index starting at its rank. Interleaving makes the union of the ranks' batch b exactly
/// the contiguous batch b of a single process whose batch is WorldSize times larger, and padding gives every rank the
/// same number of batches, so that no rank waits forever in a collective the others never start.
/// Without <see cref="Pad"/> (evaluation, where each example must count once) the shards differ by at most one example.
/// <para>A position in an epoch is counted in examples of the shared order consumed by all ranks together (global batch
/// b ends at (b + 1) x batch x WorldSize), which does not depend on the world size: <see cref="Shard(int[], int)"/> cuts
/// the rest of an epoch from such a position, so a checkpoint written by N processes resumes with M of them.</para>
/// </summary>
public sealed record DistributedSampler
{
    /// <summary>The shard of rank <paramref name="rank"/> out of <paramref name="worldSize"/> (PyTorch's <c>DistributedSampler</c>).</summary>
    /// <param name="rank">This process's rank, 0 &lt;= rank &lt; worldSize.</param>
    /// <param name="worldSize">Number of ranks sharing each epoch.</param>
    /// <param name="pad">Repeat examples so every rank gets the same count (see <see cref="Pad"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="worldSize"/> is below 1 or <paramref name="rank"/> is outside 0..worldSize-1.</exception>
    public DistributedSampler(int rank, int worldSize, bool pad = true)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), $"DistributedSampler: world size must be at least 1, got {worldSize}");
        if ((uint)rank >= (uint)worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"DistributedSampler: rank {rank} is outside 0..{worldSize - 1}");
        Rank = rank;
        WorldSize = worldSize;
        Pad = pad;
    }

    /// <summary>This rank, 0..WorldSize-1.</summary>
    public int Rank { get; }

    /// <summary>Number of ranks the data is split across.</summary>
    public int WorldSize { get; }

    /// <summary>Repeat examples from the start of the order so that every rank gets ceil(n / WorldSize) of them.</summary>
    public bool Pad { get; }

    /// <summary>How many of <paramref name="datasetCount"/> examples this rank takes per epoch.</summary>
    public int Count(int datasetCount) => Count(datasetCount, 0);

    /// <summary>How many of the examples after position <paramref name="start"/> of a <paramref name="datasetCount"/>-example epoch this rank takes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="start"/> is outside 0..datasetCount.</exception>
    public int Count(int datasetCount, int start)
    {
        if ((uint)start > (uint)datasetCount) throw new ArgumentOutOfRangeException(nameof(start), $"DistributedSampler: position {start} is outside the epoch's 0..{datasetCount} examples");
        int rest = datasetCount - start;
        return Pad ? (int)(((long)rest + WorldSize - 1) / WorldSize) : rest / WorldSize + (Rank < rest % WorldSize ? 1 : 0);
    }

    /// <summary>This rank's indices from an epoch's order of the whole dataset.</summary>
    public int[] Shard(int[] order) => Shard(order, 0);

    /// <summary>
    /// This rank's indices of the rest of an epoch, from position <paramref name="start"/> of <paramref name="order"/> (the
    /// examples all ranks consumed before): rank r takes order[start + r], order[start + r + WorldSize], ...; padding wraps
    /// around to the start of the order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="start"/> is outside 0..order.Length.</exception>
    public int[] Shard(int[] order, int start)
    {
        ArgumentNullException.ThrowIfNull(order);
        int n = order.Length;
        var shard = new int[n == 0 ? 0 : Count(n, start)];
        for (int i = 0; i < shard.Length; i++) shard[i] = order[(int)((start + Rank + (long)i * WorldSize) % n)];
        return shard;
    }
}
