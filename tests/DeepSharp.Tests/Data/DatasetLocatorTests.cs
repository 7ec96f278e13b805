using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data;

/// <summary>A dataset that cannot be found or downloaded: an explanation over several lines, nothing left on disk.</summary>
public sealed class DatasetLocatorTests
{
    [Fact]
    public void AFailedDownloadLeavesNoFoldersBehindAndExplainsWhereItLooked()
    {
        using var dir = new TempDir();
        string target = Path.Combine(dir.Path, "cache", "deepsharp", "missing-set");
        // Port 9 (discard) on loopback refuses at once: the download fails without any network.
        var e = Assert.Throws<FileNotFoundException>(() => DatasetLocator.Find(
            "Missing set", "deepsharp-test-missing-set", [new DataFile("nothing-here.gz", 1024, [])], ["http://127.0.0.1:9/"], target, download: true));

        Assert.False(Directory.Exists(Path.Combine(dir.Path, "cache")), "the folders created for the download were left behind");
        Assert.Contains("Searched:", e.Message, StringComparison.Ordinal);
        Assert.Contains("Downloading into", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Split('\n').Length >= 4, e.Message);
    }

    [Fact]
    public void AFailedDownloadKeepsAFolderThatExistedBefore()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => DatasetLocator.Find(
            "Missing set", "deepsharp-test-missing-set", [new DataFile("nothing-here.gz", 1024, [])], ["http://127.0.0.1:9/"], dir.Path, download: true));
        Assert.True(Directory.Exists(dir.Path));
    }

    [Fact]
    public void TheCommandPrintsAMissingDatasetsExplanationLineByLine()
    {
        var text = CliRunner.Explanation(new FileNotFoundException("MNIST: could not find t10k-images. Searched:\n  - /usr/share/datasets/mnist (Debian package location)\nPut the files in one of these directories."));
        var lines = text.Split(Environment.NewLine);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("MNIST: could not find", lines[0], StringComparison.Ordinal);
        Assert.Equal("  - /usr/share/datasets/mnist (Debian package location)", lines[1]);

        // Every other error stays on one line.
        Assert.Equal("bad value here", CliRunner.Explanation(new InvalidOperationException("bad value\nhere")));
    }
}
