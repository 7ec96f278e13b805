using System.Globalization;
using System.Text.Json;
using DeepSharp.Serialization;
using DeepSharp.Tests.Cli;

namespace DeepSharp.Tests.Distributed;

/// <summary>
/// Checkpoints of data-parallel runs resume at another world size (issue #16): the position is counted in examples of the
/// order all ranks share, so N processes x batch B continue as M processes x batch B N / M, and the result equals one
/// process with the global batch throughout.
/// </summary>
[Collection(nameof(MpiJobs))]
public sealed class WorldSizeResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deepsharp-mpi-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // 240 rows: 168 train examples, 14 global batches of 12 (2 x 6, 3 x 4 and 1 x 12 alike).
    private string[] Args(string csv, string output, int epochs, int batch, string optimizer) =>
        ["train", "--model", "mlp", "--data", $"csv:{csv}", "--epochs", $"{epochs}", "--batch-size", $"{batch}", "--optimizer", optimizer, "--threads", "1", "--out", output];

    private CliResult Job(int processes, string[] args)
    {
        var run = processes == 1 ? CliProcess.Run(_dir, args, null) : MpiProcess.Run(_dir, processes, args);
        return run;
    }

    [Theory]
    [InlineData(2, 6, 3, 4)]
    [InlineData(3, 4, 1, 12)]
    public void AnEpochAtOneWorldSizeThenTheNextAtAnotherEqualsOneProcessWithTheGlobalBatch(int first, int firstBatch, int then, int thenBatch)
    {
        MpiProcess.RequireMpirun();
        string csv = CliProcess.WriteTinyCsv(_dir, rows: 240);
        var single = Job(1, Args(csv, "single", 2, 12, "sgd"));
        Assert.True(single.ExitCode == 0, single.ToString());

        var one = Job(first, Args(csv, "resumed", 1, firstBatch, "sgd"));
        Assert.True(one.ExitCode == 0, one.ToString());
        var two = Job(then, [.. Args(csv, "resumed", 2, thenBatch, "sgd"), "--resume", Path.Combine("resumed", "checkpoint", "last.safetensors")]);
        Assert.True(two.ExitCode == 0, two.ToString());
        Assert.Contains("resumed from", two.Stdout);

        AssertSameWeights("single", "resumed");
        var expected = Column("single", "loss");
        var actual = Column("resumed", "loss");
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5, $"epoch {i + 1} loss {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void AJobStoppedMidEpochResumesAtAnotherWorldSizeAndEndsAsTheUninterruptedRun()
    {
        MpiProcess.RequireMpirun();
        string csv = CliProcess.WriteTinyCsv(_dir, rows: 240);
        var single = Job(1, Args(csv, "single", 2, 12, "adam"));
        Assert.True(single.ExitCode == 0, single.ToString());

        // 2 x 6 stops after step 5 of the 14 of epoch 1 (as Ctrl-C would), 3 x 4 takes over from example 60.
        var stopped = Job(2, [.. Args(csv, "resumed", 2, 6, "adam"), "--stop-after-steps", "5"]);
        Assert.True(stopped.ExitCode != 0, stopped.ToString());
        string checkpoint = Path.Combine("resumed", "checkpoint", "last.safetensors");
        Assert.Contains($"interrupted during epoch 1 (after batch 5); saved a checkpoint to resume from: {checkpoint}", stopped.Stdout);
        Assert.False(File.Exists(Path.Combine(_dir, "resumed", "model.safetensors")));
        Assert.Contains($"resume with: deepsharp train --model mlp --data csv:{csv} --epochs 2 --batch-size 6 --optimizer adam --threads 1 --out resumed --resume {checkpoint}", stopped.Stdout);
        // Epoch 0, the loader's generator state, batch 5 of the writer's and example 60 of the order all ranks share.
        using (var meta = JsonDocument.Parse(SafeTensors.Load(Path.Combine(_dir, checkpoint)).Metadata["deepsharp"]))
        {
            var loader = meta.RootElement.GetProperty("Loader").GetString()!.Split(':');
            Assert.Equal(["0", "5", "60"], [loader[0], loader[3], loader[4]]);
        }

        var rest = Job(3, [.. Args(csv, "resumed", 2, 4, "adam"), "--resume", checkpoint]);
        Assert.True(rest.ExitCode == 0, rest.ToString());
        Assert.Contains("after epoch 0, batch 5 of epoch 1;", System.Text.RegularExpressions.Regex.Replace(rest.Stdout, @"\s+", " ")); // the console may wrap it
        AssertSameWeights("single", "resumed");
    }

    [Fact]
    public async Task ARankKilledMidTrainingEndsTheJobAndItsLastCheckpointResumesAtAnotherWorldSize()
    {
        MpiProcess.RequireMpirun();
        // 3,000 rows: 2,100 train examples, 175 global batches of 12 per epoch, so an epoch lasts long enough to be killed in.
        string csv = CliProcess.WriteTinyCsv(_dir, rows: 3000);
        const int epochs = 4;
        string checkpoint = Path.Combine(_dir, "killed", "checkpoint", "last.safetensors");
        var psi = MpiProcess.StartInfo(_dir, 2, Args(csv, "killed", epochs, 6, "sgd"));
        using var job = System.Diagnostics.Process.Start(psi)!;
        job.StandardInput.Close();
        var stdout = job.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = job.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !job.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(10, TestContext.Current.CancellationToken);
        Assert.True(File.Exists(checkpoint) && !job.HasExited, "the job should have written the checkpoint of epoch 1 and still be training");
        var ranks = MpiProcess.Ranks(job.Id);
        Assert.True(ranks.ContainsKey(1), $"rank 1 of mpirun {job.Id} not found: {string.Join(", ", ranks)}");
        System.Diagnostics.Process.GetProcessById(ranks[1]).Kill(); // SIGKILL: no handler, no message from the rank itself

        // The other rank waits in an allreduce that can never finish: mpirun must end the whole job, and say why.
        bool ended = job.WaitForExit(60_000);
        if (!ended) job.Kill(entireProcessTree: true);
        string output = await stdout + await stderr;
        Assert.True(ended, "the job hung after a rank was killed:\n" + output);
        Assert.NotEqual(0, job.ExitCode);
        Assert.Matches(@"rank 1 .*(signal 9|Killed)", System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " "));
        Assert.False(File.Exists(Path.Combine(_dir, "killed", "model.safetensors")));

        // What the killed job left behind resumes with 3 processes and ends where one process with the global batch does.
        var rest = Job(3, [.. Args(csv, "killed", epochs, 4, "sgd"), "--resume", Path.Combine("killed", "checkpoint", "last.safetensors")]);
        Assert.True(rest.ExitCode == 0, rest.ToString());
        Assert.Contains("resumed from", rest.Stdout);
        var single = Job(1, Args(csv, "single", epochs, 12, "sgd"));
        Assert.True(single.ExitCode == 0, single.ToString());
        AssertSameWeights("single", "killed");
    }

    [Fact]
    public void ReportTensorBoardAndStatisticsOfADataParallelRunAreWrittenByRankZero()
    {
        MpiProcess.RequireMpirun();
        string csv = CliProcess.WriteTinyCsv(_dir, rows: 240);
        // Buckets of 1 KiB: the mlp's gradients travel in several allreduces, started while backward runs.
        var run = Job(2, [.. Args(csv, "dp", 2, 6, "sgd"), "--report", "--tensorboard", "--bucket-mb", "0.001"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(Directory.GetFiles(Path.Combine(_dir, "dp"), "events.out.tfevents.*"));
        Assert.True(File.Exists(Path.Combine(_dir, "dp", "report.html")), run.ToString());
        Assert.Contains("DeepSharp report: mlp", File.ReadAllText(Path.Combine(_dir, "dp", "report.html")));
        Assert.Single(run.Stdout.Split('\n'), l => l.StartsWith("report: ", StringComparison.Ordinal));
        Assert.Contains("communication (rank 0), 28 steps: compute (forward+backward)", run.Stdout);

        long parameters = SafeTensors.Load(Path.Combine(_dir, "dp", "model.safetensors")).Tensors.Values.Sum(t => (long)t.Numel);
        int buckets = int.Parse(System.Text.RegularExpressions.Regex.Match(run.Stdout, @"KiB of gradients in (\d+) allreduce\(s\) of at most 1 KiB per step").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(buckets > 1, run.Stdout);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "dp", "metrics.json")));
        var c = metrics.RootElement.GetProperty("communication");
        Assert.Equal(28, c.GetProperty("steps").GetInt64());
        Assert.Equal(parameters * sizeof(float) * 28, c.GetProperty("bytes").GetInt64());
        Assert.Equal(buckets * 28L, c.GetProperty("allreduces").GetInt64());
        Assert.Equal(0, c.GetProperty("broadcast_bytes").GetInt64()); // an mlp has no buffers
        foreach (var name in (string[])["compute_seconds", "exposed_seconds", "allreduce_seconds", "synchronize_seconds", "broadcast_seconds"])
            Assert.True(c.GetProperty(name).GetDouble() >= 0, $"{name} {c.GetProperty(name)}");
        Assert.True(c.GetProperty("compute_seconds").GetDouble() > 0);
        Assert.True(c.GetProperty("exposed_seconds").GetDouble() <= c.GetProperty("allreduce_seconds").GetDouble());
        Assert.True(c.GetProperty("exposed_seconds").GetDouble() <= c.GetProperty("synchronize_seconds").GetDouble());
        double overlap = c.GetProperty("overlap").GetDouble();
        Assert.InRange(overlap, 0, 1);
        Assert.Equal(1 - c.GetProperty("exposed_seconds").GetDouble() / c.GetProperty("allreduce_seconds").GetDouble(), overlap, 1e-9);
    }

    [Fact]
    public void ACharLstmTrainedByTwoProcessesEqualsOneProcessWithTheGlobalBatch()
    {
        MpiProcess.RequireMpirun();
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < 24; i++) text.Append("ROMEO: But soft, what light through yonder window breaks?\nJULIET: Ay me!\n");
        File.WriteAllText(Path.Combine(_dir, "text.txt"), text.ToString());
        string[] Lm(string output, int batch) =>
            ["train", "--model", "char-lstm", "--data", "text:text.txt", "--epochs", "2", "--batch-size", $"{batch}", "--threads", "1", "--out", output];

        var parallel = Job(2, Lm("dp", 2));
        Assert.True(parallel.ExitCode == 0, parallel.ToString());
        Assert.Contains("data-parallel over 2 processes: global batch 4 streams", parallel.Stdout);
        var single = Job(1, Lm("single", 4));
        Assert.True(single.ExitCode == 0, single.ToString());

        AssertSameWeights("single", "dp");
        using var dp = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "dp", "metrics.json")));
        using var sp = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "single", "metrics.json")));
        foreach (var key in (string[])["loss", "val_loss"])
            for (int e = 0; e < 2; e++)
            {
                double a = dp.RootElement.GetProperty("history")[e].GetProperty(key).GetDouble(), b = sp.RootElement.GetProperty("history")[e].GetProperty(key).GetDouble();
                Assert.True(Math.Abs(a - b) <= 1e-5, $"epoch {e + 1} {key}: data-parallel {a}, one process {b}");
            }
        Assert.True(dp.RootElement.GetProperty("communication").GetProperty("steps").GetInt64() > 0);
    }

    private void AssertSameWeights(string expectedRun, string actualRun)
    {
        var expected = SafeTensors.Load(Path.Combine(_dir, expectedRun, "model.safetensors")).Tensors;
        var actual = SafeTensors.Load(Path.Combine(_dir, actualRun, "model.safetensors")).Tensors;
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            if (e.DType != DType.Float32) continue;
            float[] x = e.ToArray<float>(), y = actual[name].ToArray<float>();
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(y[i] - x[i]) <= 1e-5f + 1e-4f * Math.Abs(x[i]), $"{name}[{i}]: {actualRun} {y[i]}, {expectedRun} {x[i]}");
        }
    }

    private double[] Column(string run, string column)
    {
        var lines = File.ReadAllLines(Path.Combine(_dir, run, "history.csv"));
        int at = Array.IndexOf(lines[0].Split(','), column);
        return [.. lines.Skip(1).Select(l => double.Parse(l.Split(',')[at], CultureInfo.InvariantCulture))];
    }
}
