using DeepSharp.Serialization;
using DeepSharp.Tests.Cli;

namespace DeepSharp.Tests.Distributed;

/// <summary>MPI jobs oversubscribe the cores: they run alone, so that timing-sensitive tests elsewhere are not starved.</summary>
[CollectionDefinition(nameof(MpiJobs), DisableParallelization = true)]
public sealed class MpiJobs;

/// <summary>
/// Real MPI jobs of 2 and 3 processes (3: shards that are not a power of two): the collectives, and data-parallel
/// training of the CLI against one process with the same global batch.
/// </summary>
[Collection(nameof(MpiJobs))]
public sealed class DataParallelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deepsharp-mpi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void CollectivesAreExactForIntegersAndWithinRoundingForFloats(int processes)
    {
        MpiProcess.RequireMpirun();
        var run = MpiProcess.Run(_dir, processes, ["selfcheck", "--mpi"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"mpi selfcheck passed on {processes} processes", run.Stdout);
        Assert.Contains("ok    rank 0: allreduce int64 (exact)", run.Stdout);
        Assert.Contains("ok    rank 0: iallreduce float32 with test and wait", run.Stdout);
        Assert.DoesNotContain("FAIL", run.All);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void DataParallelRunEqualsOneProcessWithTheGlobalBatchAndRepeatsBitForBit(int processes)
    {
        MpiProcess.RequireMpirun();
        // 240 rows: 168 train examples, a multiple of 2 x 4 and 3 x 4, so no shard is padded and every global batch matches.
        string csv = CliProcess.WriteTinyCsv(_dir, rows: 240);
        string[] Args(string output, int batch) =>
            ["train", "--model", "mlp", "--data", $"csv:{csv}", "--epochs", "2", "--batch-size", $"{batch}", "--optimizer", "sgd", "--threads", "1", "--out", output];

        var parallel = MpiProcess.Run(_dir, processes, Args("dp", 4));
        Assert.True(parallel.ExitCode == 0, parallel.ToString());
        Assert.Contains($"data-parallel over {processes} processes: global batch {processes * 4}", parallel.Stdout);
        var again = MpiProcess.Run(_dir, processes, Args("dp-again", 4));
        Assert.True(again.ExitCode == 0, again.ToString());
        var single = CliProcess.Run(_dir, Args("single", 4 * processes), null);
        Assert.True(single.ExitCode == 0, single.ToString());

        // Only rank 0 writes.
        Assert.True(File.Exists(Path.Combine(_dir, "dp", "metrics.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "dp", "model.safetensors")), File.ReadAllBytes(Path.Combine(_dir, "dp-again", "model.safetensors")));

        var dp = SafeTensors.Load(Path.Combine(_dir, "dp", "model.safetensors")).Tensors;
        var sp = SafeTensors.Load(Path.Combine(_dir, "single", "model.safetensors")).Tensors;
        Assert.Equal(sp.Keys.Order(), dp.Keys.Order());
        foreach (var (name, expected) in sp)
        {
            float[] e = expected.ToArray<float>(), a = dp[name].ToArray<float>();
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(a[i] - e[i]) <= 1e-5f + 1e-4f * Math.Abs(e[i]), $"{name}[{i}]: data-parallel {a[i]}, one process {e[i]}");
        }
        // The epoch losses, summed over ranks, are the single run's within rounding.
        var dpLoss = LossColumn(Path.Combine(_dir, "dp", "history.csv"));
        var spLoss = LossColumn(Path.Combine(_dir, "single", "history.csv"));
        Assert.Equal(spLoss.Length, dpLoss.Length);
        for (int i = 0; i < spLoss.Length; i++) Assert.True(Math.Abs(dpLoss[i] - spLoss[i]) <= 1e-5, $"epoch {i + 1} loss {dpLoss[i]} vs {spLoss[i]}");
    }

    [Fact]
    public void ResumedDataParallelRunEqualsTheUninterruptedOne()
    {
        MpiProcess.RequireMpirun();
        string csv = CliProcess.WriteTinyCsv(_dir, rows: 240);
        string[] Args(string output, int epochs) =>
            ["train", "--model", "mlp", "--data", $"csv:{csv}", "--epochs", $"{epochs}", "--batch-size", "4", "--optimizer", "adam", "--threads", "1", "--out", output];

        var straight = MpiProcess.Run(_dir, 2, Args("straight", 2));
        Assert.True(straight.ExitCode == 0, straight.ToString());
        var first = MpiProcess.Run(_dir, 2, Args("resumed", 1));
        Assert.True(first.ExitCode == 0, first.ToString());
        var rest = MpiProcess.Run(_dir, 2, [.. Args("resumed", 2), "--resume", Path.Combine("resumed", "checkpoint", "last.safetensors")]);
        Assert.True(rest.ExitCode == 0, rest.ToString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "straight", "model.safetensors")), File.ReadAllBytes(Path.Combine(_dir, "resumed", "model.safetensors")));
    }

    [Fact]
    public void AFailingRankStopsTheWholeJobWithItsMessage()
    {
        MpiProcess.RequireMpirun();
        var run = MpiProcess.Run(_dir, 2, ["train", "--model", "mlp", "--data", "csv:missing.csv", "--epochs", "1", "--out", "never"], timeoutSeconds: 60);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("of 2:", run.All);
        Assert.Contains("stopping every rank", run.All);
    }

    [Fact]
    public void DistributedOutsideALauncherSaysHowToStartIt()
    {
        var run = CliProcess.Run(_dir, ["train", "--model", "mlp", "--distributed", "--epochs", "1"],
            new Dictionary<string, string?> { ["OMPI_COMM_WORLD_SIZE"] = null, ["PMIX_RANK"] = null, ["PMIX_SIZE"] = null, ["PMI_SIZE"] = null });
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("--distributed: this process was not started by an MPI launcher", run.Stderr);
        Assert.Contains("mpirun -np 2 deepsharp train", run.Stderr);
    }

    private static double[] LossColumn(string csv)
    {
        var lines = File.ReadAllLines(csv);
        int column = Array.IndexOf(lines[0].Split(','), "loss");
        return [.. lines.Skip(1).Select(l => double.Parse(l.Split(',')[column], System.Globalization.CultureInfo.InvariantCulture))];
    }
}
