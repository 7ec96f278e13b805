using DeepSharp.Tests.Insight.TensorBoard;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

public sealed class TensorBoardCliTests
{
    [Fact]
    public void TrainWithTensorBoardWritesAnEventFileIntoTheRunFolder()
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        var r = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "csv:" + csv, "--batch-size", "16", "--epochs", "2",
            "--out", dir.File("run"), "--tensorboard");
        Assert.True(r.ExitCode == 0, r.ToString());
        var file = Assert.Single(Directory.GetFiles(dir.File("run"), "events.out.tfevents.*"));
        Assert.Contains(file, r.Stdout, StringComparison.Ordinal);
        var events = EventFileReader.Read(file);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        var losses = events.Where(e => e.Values.Any(v => v.One(1)!.AsString == "train/loss")).Select(e => e.Step).ToList();
        Assert.Equal(Enumerable.Range(1, losses.Count).Select(i => (long)i), losses);
        Assert.Equal(2, events.Count(e => e.Values.Any(v => v.One(1)!.AsString == "epoch/val_loss")));
    }

    [Fact]
    public void TensorBoardTakesAnExplicitFolder()
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        var r = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "csv:" + csv, "--batch-size", "16", "--epochs", "1",
            "--out", dir.File("run"), "--tensorboard", dir.File("tb"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Single(Directory.GetFiles(dir.File("tb"), "events.out.tfevents.*"));
        Assert.Empty(Directory.GetFiles(dir.File("run"), "events.out.tfevents.*"));
    }
}
