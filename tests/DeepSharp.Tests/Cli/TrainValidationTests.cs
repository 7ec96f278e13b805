using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>
/// Bad options fail at once with one clear line on stderr, a non-zero exit code, no .NET exception text and
/// nothing left behind (no --out folder).
/// </summary>
public sealed class TrainValidationTests
{
    private static CliResult Train(TempDir dir, params string[] extra)
    {
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        string[] model = extra.Contains("--model") ? [] : ["--model", "mlp"];
        return CliProcess.Run(dir.Path, ["train", .. model, "--data", "csv:" + csv, "--batch-size", "16", .. extra]);
    }

    private static void AssertCleanFailure(CliResult r, string expected)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains(expected, r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Trim().Split('\n')); // one line
        foreach (var leak in new[] { "Parameter '", "Actual value was", "Exception", "   at ", ".tmp" })
            Assert.DoesNotContain(leak, r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroEpochsIsAnErrorAndWritesNothing()
    {
        using var dir = new TempDir();
        var r = Train(dir, "--epochs", "0", "--out", dir.File("run"));
        AssertCleanFailure(r, "--epochs must be at least 1, got 0");
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void NegativeLearningRateIsAnErrorWithoutExceptionText()
    {
        using var dir = new TempDir();
        var r = Train(dir, "--epochs", "1", "--lr", "-1", "--out", dir.File("run"));
        AssertCleanFailure(r, "--lr must be a positive number, got -1");
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void AMissingDataDirIsAnErrorNotSilentlyReplaced()
    {
        using var dir = new TempDir();
        var missing = CliProcess.Run(dir.Path, "train", "--epochs", "1", "--data-dir", dir.File("nope"), "--out", dir.File("run"));
        AssertCleanFailure(missing, $"--data-dir: directory '{dir.File("nope")}' does not exist");
        Directory.CreateDirectory(dir.File("empty"));
        var empty = CliProcess.Run(dir.Path, "train", "--epochs", "1", "--data-dir", dir.File("empty"), "--out", dir.File("run"));
        AssertCleanFailure(empty, $"--data-dir: '{dir.File("empty")}' does not hold the fashion-mnist files");
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void AnUnwritableOutSaysSoWithoutTempFileNames()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a-file"), "x");
        var underFile = Train(dir, "--epochs", "1", "--out", Path.Combine(dir.File("a-file"), "run"));
        AssertCleanFailure(underFile, $"--out: cannot write to '{Path.Combine(dir.File("a-file"), "run")}'");
        var proc = Train(dir, "--epochs", "1", "--out", "/proc/deepsharp_out");
        AssertCleanFailure(proc, "--out: cannot write to '/proc/deepsharp_out'");
    }

    [Fact]
    public void ARunThatFailsAfterCreatingItsOutFolderRemovesIt()
    {
        using var dir = new TempDir();
        // lenet5 takes images; the CSV rows are flat vectors, so the first forward pass fails, after --out was prepared.
        var r = Train(dir, "--model", "lenet5", "--epochs", "1", "--out", Path.Combine(dir.File("new"), "run"));
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.StartsWith("deepsharp: ", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("new")), "the failed run left its (empty) output folders behind");
    }

    [Fact]
    public void ReportChecksItsOutBeforeWorking()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("run"));
        File.WriteAllText(Path.Combine(dir.File("run"), "metrics.json"), "{}");
        File.WriteAllText(Path.Combine(dir.File("run"), "model.safetensors"), "");
        var r = CliProcess.Run(dir.Path, "report", dir.File("run"), "--out", "/proc/deepsharp_out/report.html");
        AssertCleanFailure(r, "--out: cannot write to '/proc/deepsharp_out'");
    }

    [Fact]
    public void AnExistingOutFolderIsNeverRemoved()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("mine"));
        var r = Train(dir, "--model", "lenet5", "--epochs", "1", "--out", dir.File("mine"));
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.True(Directory.Exists(dir.File("mine")));
    }
}
