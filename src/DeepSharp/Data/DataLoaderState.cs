namespace DeepSharp.Data;

/// <summary>
/// Where a <see cref="DataLoader"/> stands, for checkpoints: the epoch number, the generator state
/// at the start of that epoch (which fixes its shuffle order and augmentation draws) and how many of
/// its batches were already handed out. Restoring it with <see cref="DataLoader.LoadState"/> makes
/// the next enumeration yield exactly the batches an uninterrupted run would have yielded next.
/// </summary>
/// <param name="Epoch">The epoch in progress (0-based).</param>
/// <param name="Seed">The loader generator's seed at the start of that epoch.</param>
/// <param name="Offset">The loader generator's offset at the start of that epoch.</param>
/// <param name="Batch">Batches of the epoch handed out by the loader that saved the state (its own batch size and shard).</param>
public sealed record DataLoaderState(int Epoch, ulong Seed, long Offset, int Batch)
{
    /// <summary>
    /// The same position in units that depend on neither the batch size nor the number of data-parallel ranks: examples
    /// of the epoch's order consumed by all ranks together (at most the dataset's size). When set, <see cref="DataLoader.LoadState"/>
    /// resumes from here, so a loader with another batch size or <see cref="DistributedSampler"/> world size continues
    /// with the next example; null (a state written before this existed) resumes from <see cref="Batch"/> in the
    /// restoring loader's own units.
    /// </summary>
    public long? Samples { get; init; }
}
