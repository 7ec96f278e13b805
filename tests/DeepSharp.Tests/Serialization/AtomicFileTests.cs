using DeepSharp.Serialization;

namespace DeepSharp.Tests.Serialization;

public sealed class AtomicFileTests
{
    [Fact]
    public void WritesAndReplaces()
    {
        using var dir = new TempDir();
        string path = dir.File("a.txt");
        AtomicFile.WriteAllText(path, "one");
        AtomicFile.WriteAllText(path, "two");
        Assert.Equal("two", File.ReadAllText(path));
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path)); // no temp files left behind
    }

    [Fact]
    public void FailureMidwayLeavesTheOldFileAndNoTempFile()
    {
        using var dir = new TempDir();
        string path = dir.File("model.bin");
        File.WriteAllText(path, "precious");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100_000]);
            throw new InvalidOperationException("disk on fire");
        }));
        Assert.Equal("disk on fire", e.Message);
        Assert.Equal("precious", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void DisposingWithoutCommitDiscards()
    {
        using var dir = new TempDir();
        string path = dir.File("x.bin");
        using (var w = AtomicFile.Open(path))
        {
            w.Stream.Write([1, 2, 3]);
            Assert.True(File.Exists(w.TempPath));
        }
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void MissingDirectoryIsAClearError()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText("/nonexistent-dir-deepsharp/x.txt", "x"));
        Assert.Contains("/nonexistent-dir-deepsharp", e.Message);
    }
}
