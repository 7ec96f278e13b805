using DeepSharp.Data;
using DeepSharp.Data.Text;

namespace DeepSharp.Training;

/// <summary>
/// Where a <see cref="Trainer"/>'s training batches come from epoch after epoch, and how a position within an epoch is
/// saved in a checkpoint and restored: a <see cref="DataLoader"/> (<see cref="LoaderBatches"/>), the parallel streams of a
/// text for a recurrent language model (<see cref="StreamedBatches"/>), or random windows of a text for a GPT
/// (<see cref="WindowBatches"/>). Positions travel as a <see cref="DataLoaderState"/> in every case (a text's as epoch:0:0:batch).
/// </summary>
internal abstract class TrainingBatches
{
    /// <summary>Batches in one epoch (under gradient accumulation, each is one of a step's batches).</summary>
    public abstract int Count { get; }

    /// <summary>The figures monitors are told when training begins.</summary>
    public abstract RunPlan Plan(int epochs, int epoch, long step);

    /// <summary>Examples are counted in rows of a batch; this many units (1 sample, or T tokens) make a row, for the throughput.</summary>
    public virtual int UnitsPerRow => 1;

    /// <summary>True for token streams: epoch logs carry tokens_per_second and perplexity.</summary>
    public virtual bool PerToken => false;

    /// <summary>Restores a checkpoint's position (null: the start of <paramref name="epoch"/>).</summary>
    public abstract void Resume(DataLoaderState? position, int epoch);

    /// <summary>The rest of the current epoch, with the number of its batches done before (non-zero after a mid-epoch resume).</summary>
    public abstract (int Done, IEnumerable<(Tensor Input, Tensor Target)> Batches) Epoch();

    /// <summary>The position after <paramref name="done"/> batches of <paramref name="epoch"/>, or null when that was its last batch.</summary>
    public abstract DataLoaderState? StoppedAt(int epoch, int done);

    /// <summary>The position a checkpoint saved between epochs holds (the next epoch, <paramref name="epoch"/>, starts there).</summary>
    public virtual DataLoaderState? Between(int epoch) => null;

    /// <summary>A checkpoint's batch within an epoch, checked against the epoch's length (in the checkpoint's units).</summary>
    protected static int CheckResume(int batch, int perEpoch) => batch <= perEpoch ? batch
        : throw new ArgumentException($"Trainer.Fit: the checkpoint stopped at batch {batch} of an epoch, but this text gives {perEpoch} batches per epoch (another text or batch size?)");
}

/// <summary>The batches of a <see cref="DataLoader"/>, whose own state (shuffling generator, position in examples) is the position.</summary>
internal sealed class LoaderBatches(DataLoader loader) : TrainingBatches
{
    public override int Count => loader.Count;

    public override RunPlan Plan(int epochs, int epoch, long step) => new(epochs, epoch, step, loader.Count, loader.BatchSize);

    public override void Resume(DataLoaderState? position, int epoch)
    {
        if (position is not null) loader.LoadState(position);
    }

    public override (int Done, IEnumerable<(Tensor Input, Tensor Target)> Batches) Epoch() => (loader.State.Batch, loader);

    public override DataLoaderState? StoppedAt(int epoch, int done) => loader.State is { } p && p.Batch < loader.Count ? p with { Epoch = epoch } : null;

    // Between epochs the next epoch starts here (in examples: any batch or world size resumes it).
    public override DataLoaderState? Between(int epoch) => new(epoch, loader.Generator.Seed, loader.Generator.Offset, 0) { Samples = 0 };
}

/// <summary>
/// Truncated BPTT batches of a recurrent model: the text cut into <paramref name="streams"/> parallel streams, batch k holding
/// window k of each; data-parallel, this rank's rows <paramref name="rows"/> of each global batch.
/// </summary>
internal sealed class StreamedBatches(long[] tokens, int streams, int sequenceLength, Func<Tensor, Tensor> rows) : TrainingBatches
{
    private readonly StreamBatches _stream = new(tokens, streams, sequenceLength);
    private int _resume;

    public override int Count => _stream.Count;

    public override RunPlan Plan(int epochs, int epoch, long step) => new(epochs, epoch, step, Count, _stream.BatchSize * _stream.SequenceLength, "tokens");

    public override int UnitsPerRow => _stream.SequenceLength;

    public override bool PerToken => true;

    public override void Resume(DataLoaderState? position, int epoch) => _resume = position is { } p && p.Epoch == epoch ? p.Batch : 0;

    public override (int Done, IEnumerable<(Tensor Input, Tensor Target)> Batches) Epoch()
    {
        int first = CheckResume(_resume, Count);
        _resume = 0;
        return (first, Range(first));
    }

    private IEnumerable<(Tensor Input, Tensor Target)> Range(int first)
    {
        for (int k = first; k < Count; k++)
        {
            var (input, target) = _stream[k];
            yield return (rows(input), rows(target));
        }
    }

    public override DataLoaderState? StoppedAt(int epoch, int done) => done < Count ? new DataLoaderState(epoch, 0, 0, done) : null;
}

/// <summary>
/// A GPT's batches: <paramref name="steps"/> optimizer steps per epoch of <paramref name="accumulate"/> random windows each.
/// Checkpoints count the position in steps (as they always have), so a run resumes with another accumulation count.
/// </summary>
internal sealed class WindowBatches(RandomWindows windows, int steps, int accumulate) : TrainingBatches
{
    private int _resumeStep;

    public override int Count => steps * accumulate;

    public override RunPlan Plan(int epochs, int epoch, long step) => new(epochs, epoch, step, steps, windows.BatchSize * windows.SequenceLength * accumulate, "tokens");

    public override int UnitsPerRow => windows.SequenceLength;

    public override bool PerToken => true;

    public override void Resume(DataLoaderState? position, int epoch) => _resumeStep = position is { } p && p.Epoch == epoch ? p.Batch : 0;

    public override (int Done, IEnumerable<(Tensor Input, Tensor Target)> Batches) Epoch()
    {
        int first = CheckResume(_resumeStep, steps) * accumulate;
        _resumeStep = 0;
        return (first, Draw(Count - first));
    }

    private IEnumerable<(Tensor Input, Tensor Target)> Draw(int count)
    {
        for (int i = 0; i < count; i++) yield return windows.Next();
    }

    public override DataLoaderState? StoppedAt(int epoch, int done) => done < Count ? new DataLoaderState(epoch, 0, 0, done / accumulate) : null;
}
