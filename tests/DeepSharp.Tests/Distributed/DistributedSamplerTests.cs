using DeepSharp.Data;
using DeepSharp.Distributed;

namespace DeepSharp.Tests.Distributed;

/// <summary>The index arithmetic of data-parallel sharding (no MPI needed).</summary>
public sealed class DistributedSamplerTests
{
    [Theory]
    [InlineData(12, 2)]
    [InlineData(10, 3)]
    [InlineData(2, 3)]
    [InlineData(0, 2)]
    public void PaddedShardsHaveEqualSizesAndCoverEveryIndex(int n, int world)
    {
        var order = new Generator(5).Permutation(n);
        var shards = Enumerable.Range(0, world).Select(r => new DistributedSampler(r, world).Shard(order)).ToArray();
        int size = (n + world - 1) / world;
        Assert.All(shards, s => Assert.Equal(n == 0 ? 0 : size, s.Length));
        Assert.Equal(Enumerable.Range(0, n), shards.SelectMany(s => s).Distinct().Order());
    }

    [Fact]
    public void UnpaddedShardsTakeEveryIndexOnce()
    {
        var order = new Generator(5).Permutation(10);
        var shards = Enumerable.Range(0, 3).Select(r => new DistributedSampler(r, 3, pad: false)).ToArray();
        Assert.Equal([4, 3, 3], shards.Select(s => s.Count(10)));
        Assert.Equal(Enumerable.Range(0, 10), shards.SelectMany(s => s.Shard(order)).Order());
    }

    [Fact]
    public void RanksBatchBTogetherAreTheGlobalBatchB()
    {
        // Two ranks with batch 3 see, in batch b, exactly the examples of batch b of one loader with batch 6.
        var data = new TensorDataset(Tensor.Arange(0, 24).Reshape(24, 1), Tensor.Arange(0, 24).To(DType.Int64));
        var single = new DataLoader(data, 6, shuffle: true, generator: new Generator(9), prefetch: 0).Select(b => b.Target.ToArray<long>()).ToList();
        var ranks = Enumerable.Range(0, 2).Select(r =>
            new DataLoader(data, 3, shuffle: true, generator: new Generator(9), prefetch: 0, sampler: new DistributedSampler(r, 2))
                .Select(b => b.Target.ToArray<long>()).ToList()).ToArray();
        Assert.All(ranks, r => Assert.Equal(single.Count, r.Count));
        for (int b = 0; b < single.Count; b++)
            Assert.Equal(single[b].Order(), ranks[0][b].Concat(ranks[1][b]).Order());
    }

    [Theory]
    [InlineData(24, 2, 3, 12)]
    [InlineData(24, 3, 1, 12)]
    [InlineData(23, 2, 3, 10)] // the rest (13) does not divide: padding wraps to the start of the order
    public void ShardsFromAPositionContinueTheSharedOrderAtAnyWorldSize(int n, int before, int after, int position)
    {
        var order = new Generator(3).Permutation(n);
        // The examples the first world consumed: positions 0..position-1 of the shared order, whoever took them.
        var consumed = Enumerable.Range(0, before).SelectMany(r => new DistributedSampler(r, before).Shard(order).Take(position / before)).Order();
        Assert.Equal(order[..position].Order(), consumed);

        var shards = Enumerable.Range(0, after).Select(r => new DistributedSampler(r, after).Shard(order, position)).ToArray();
        int size = (n - position + after - 1) / after;
        Assert.All(shards, s => Assert.Equal(size, s.Length));
        Assert.All(Enumerable.Range(0, after), r => Assert.Equal(size, new DistributedSampler(r, after).Count(n, position)));
        // Element i of every shard, rank by rank, is the rest of the order (then the padding from its start).
        var interleaved = Enumerable.Range(0, size).SelectMany(i => shards.Select(s => s[i])).ToArray();
        Assert.Equal([.. order[position..], .. order[..(size * after - (n - position))]], interleaved);
    }

    [Fact]
    public void ALoaderResumesAnotherWorldSizesPositionWithTheNextGlobalBatch()
    {
        // 2 ranks x batch 3 take 2 global batches of 6; then 3 ranks x batch 2 (and one loader x batch 6) continue.
        var data = new TensorDataset(Tensor.Arange(0, 30).Reshape(30, 1), Tensor.Arange(0, 30).To(DType.Int64));
        DataLoader Loader(int batch, DistributedSampler? sampler) => new(data, batch, shuffle: true, generator: new Generator(9), prefetch: 0, sampler: sampler);
        var single = Loader(6, null).Select(b => b.Target.ToArray<long>()).ToList();

        var first = Loader(3, new DistributedSampler(0, 2));
        DataLoaderState? saved = null;
        int seen = 0;
        foreach (var _ in first)
            if (++seen == 2)
            {
                saved = first.State;
                break;
            }
        Assert.Equal(12, saved!.Samples);
        Assert.Equal(2, saved.Batch);

        var ranks = Enumerable.Range(0, 3).Select(r =>
        {
            var loader = Loader(2, new DistributedSampler(r, 3));
            loader.LoadState(saved);
            Assert.Equal(2, loader.State.Batch);
            return loader.Select(b => b.Target.ToArray<long>()).ToList();
        }).ToArray();
        Assert.All(ranks, r => Assert.Equal(single.Count - 2, r.Count));
        for (int b = 2; b < single.Count; b++)
            Assert.Equal(single[b].Order(), ranks.SelectMany(r => r[b - 2]).Order());

        var one = Loader(6, null);
        one.LoadState(saved);
        Assert.Equal(single[2..], one.Select(b => b.Target.ToArray<long>()).ToList());
    }

    [Fact]
    public void AugmentationSeedsFollowThePositionInTheSharedOrderAndTheRank()
    {
        // One rank of one is the plain loader; resumed mid-epoch, the rest of the epoch is augmented as uninterrupted.
        var data = new TensorDataset(Tensor.Zeros([20, 3]), Tensor.Arange(0, 20).To(DType.Int64));
        var noise = Transforms.From((x, g) => x.Add(Tensor.Rand([.. x.Shape], g)));
        DataLoader Loader(DistributedSampler? sampler) => new(data, 4, shuffle: true, generator: new Generator(2), transform: noise, prefetch: 0, sampler: sampler);
        var plain = Loader(null).Select(b => b.Input.ToArray<float>()).ToList();
        Assert.Equal(plain, Loader(new DistributedSampler(0, 1)).Select(b => b.Input.ToArray<float>()).ToList());

        var resumed = Loader(null);
        resumed.LoadState(new DataLoaderState(0, 2, 0, 0) { Samples = 8 });
        Assert.Equal(plain[2..], resumed.Select(b => b.Input.ToArray<float>()).ToList());

        // Two ranks draw different noise for their halves of a global batch.
        var ranks = Enumerable.Range(0, 2).Select(r => Loader(new DistributedSampler(r, 2)).First().Input.ToArray<float>()).ToArray();
        Assert.NotEqual(ranks[0], ranks[1]);
    }

    [Fact]
    public void RankSeedsAreFixedBySeedRankStepAndGenerator()
    {
        Assert.Equal(DataParallel.RankSeed(42, 1, 7, 0), DataParallel.RankSeed(42, 1, 7, 0));
        ulong[] seeds = [DataParallel.RankSeed(42, 0, 7, 0), DataParallel.RankSeed(42, 1, 7, 0), DataParallel.RankSeed(42, 1, 8, 0),
            DataParallel.RankSeed(42, 1, 7, 1), DataParallel.RankSeed(43, 1, 7, 0), DataParallel.RankSeed(42, 7, 1, 0)];
        Assert.Equal(seeds.Length, seeds.Distinct().Count());
    }

    [Fact]
    public void RejectsARankOutsideTheWorld()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(2, 2));
        Assert.Contains("rank 2 is outside 0..1", e.Message);
    }
}
