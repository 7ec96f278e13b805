namespace DeepSharp.Data;

/// <summary>
/// Where a <see cref="DataLoader"/> stands, for checkpoints: the epoch number, the generator state
/// at the start of that epoch (which fixes its shuffle order and augmentation draws) and how many of
/// its batches were already handed out. Restoring it with <see cref="DataLoader.LoadState"/> makes
/// the next enumeration yield exactly the batches an uninterrupted run would have yielded next.
/// </summary>
public sealed record DataLoaderState(int Epoch, ulong Seed, long Offset, int Batch);
