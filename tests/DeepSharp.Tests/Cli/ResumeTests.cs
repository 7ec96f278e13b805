using System.Globalization;
using System.Text.Json;
using DeepSharp.Serialization;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>
/// Extending a run with --resume trains as if the longer run had been planned from the start (the schedule is
/// re-planned for the new total), and the run's history.csv and metrics.json keep the epochs before the resume.
/// </summary>
public sealed class ResumeTests
{
    private static string[] Train(string csv, string run, int epochs, params string[] extra) =>
        ["train", "--model", "mlp", "--data", "csv:" + csv, "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--batch-size", "16", "--out", run, .. extra];

    [Fact]
    public void ResumingACosineRunToMoreEpochsMatchesTheLongerRunAndKeepsTheHistory()
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        var straight = CliProcess.Run(dir.Path, Train(csv, dir.File("straight"), 3));
        Assert.True(straight.ExitCode == 0, straight.ToString());
        var first = CliProcess.Run(dir.Path, Train(csv, dir.File("resumed"), 1));
        Assert.True(first.ExitCode == 0, first.ToString());
        var second = CliProcess.Run(dir.Path, Train(csv, dir.File("resumed"), 3, "--resume", Path.Combine(dir.File("resumed"), "checkpoint", "last.safetensors")));
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("cosine schedule re-planned for 3 epochs", second.Stdout, StringComparison.Ordinal);

        // The learning rate of epochs 2 and 3 is the 3-epoch schedule's, not 0 (the 1-epoch schedule's end).
        var lrStraight = Column(Path.Combine(dir.File("straight"), "history.csv"), "lr");
        var lrResumed = Column(Path.Combine(dir.File("resumed"), "history.csv"), "lr");
        Assert.Equal(3, lrResumed.Count);
        Assert.All(lrResumed, lr => Assert.True(lr > 0));
        Assert.Equal(lrStraight, lrResumed);

        // Same weights as the straight run, bit for bit, and the same history (losses and accuracies).
        var a = SafeTensors.Load(Path.Combine(dir.File("straight"), "model.safetensors")).Tensors;
        var b = SafeTensors.Load(Path.Combine(dir.File("resumed"), "model.safetensors")).Tensors;
        foreach (var (name, t) in a) Assert.Equal(t.ToDoubleArray(), b[name].ToDoubleArray());
        Assert.Equal(Column(Path.Combine(dir.File("straight"), "history.csv"), "val_loss"), Column(Path.Combine(dir.File("resumed"), "history.csv"), "val_loss"));

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.File("resumed"), "metrics.json")));
        var history = metrics.RootElement.GetProperty("history").EnumerateArray().Select(r => r.GetProperty("epoch").GetDouble()).ToList();
        Assert.Equal([1.0, 2, 3], history);
        Assert.Equal(3, metrics.RootElement.GetProperty("epochs").GetInt32());
    }

    [Fact]
    public void ResumingIntoANewFolderCarriesTheEarlierHistoryOver()
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        Assert.Equal(0, CliProcess.Run(dir.Path, Train(csv, dir.File("a"), 2)).ExitCode);
        var r = CliProcess.Run(dir.Path, Train(csv, dir.File("b"), 3, "--resume", Path.Combine(dir.File("a"), "checkpoint", "last.safetensors")));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, Column(Path.Combine(dir.File("b"), "history.csv"), "loss").Count);
    }

    [Fact]
    public void ResumingWithNoEpochsLeftIsAnError()
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        Assert.Equal(0, CliProcess.Run(dir.Path, Train(csv, dir.File("a"), 1)).ExitCode);
        var r = CliProcess.Run(dir.Path, Train(csv, dir.File("a"), 1, "--resume", Path.Combine(dir.File("a"), "checkpoint", "last.safetensors")));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("has already trained 1 epochs and --epochs is 1", r.Stderr, StringComparison.Ordinal);
    }

    private static List<double> Column(string csv, string key)
    {
        var lines = File.ReadAllLines(csv);
        int k = Array.IndexOf(lines[0].Split(','), key);
        Assert.True(k >= 0, $"no column {key} in {csv}");
        return lines.Skip(1).Select(l => double.Parse(l.Split(',')[k], CultureInfo.InvariantCulture)).ToList();
    }
}
