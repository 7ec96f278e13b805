using DeepSharp.Data;

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

    [Fact]
    public void RejectsARankOutsideTheWorld()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(2, 2));
        Assert.Contains("rank 2 is outside 0..1", e.Message);
    }
}
