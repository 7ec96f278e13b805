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

    private static string TempName(string target) => $".{target}.{Guid.NewGuid():N}.tmp";

    [Fact]
    public void StaleTempFilesOfOurNamingAreRemovedOnTheNextWriteToTheSameTarget()
    {
        // A writer killed (SIGKILL) between creating its temp file and the rename leaves the temp file behind;
        // the campaign found up to 61 MiB of them that nothing ever removed.
        using var dir = new TempDir();
        string target = dir.File("last.safetensors");
        File.WriteAllText(target, "old");
        string stale = dir.File(TempName("last.safetensors")), stale2 = dir.File(TempName("last.safetensors"));
        File.WriteAllBytes(stale, new byte[100_000]);
        File.WriteAllBytes(stale2, []);
        // Not ours to remove: another target's temp file, names that only look alike, the user's files.
        string[] keep =
        [
            dir.File(TempName("best.safetensors")),
            dir.File(".last.safetensors.not-a-guid.tmp"),
            dir.File($".last.safetensors.{Guid.NewGuid():N}.tmp.bak"),
            dir.File($"last.safetensors.{Guid.NewGuid():N}.tmp"),
            dir.File($".last.safetensors.{Guid.NewGuid():N}x.tmp"),
            dir.File("notes.txt"),
        ];
        foreach (var k in keep) File.WriteAllText(k, "keep");

        AtomicFile.WriteAllText(target, "new");

        Assert.Equal("new", File.ReadAllText(target));
        Assert.False(File.Exists(stale));
        Assert.False(File.Exists(stale2));
        Assert.All(keep, k => Assert.True(File.Exists(k), $"{k} was removed"));
        Assert.Equal(keep.Length + 1, Directory.GetFiles(dir.Path).Length);
    }

    [Fact]
    public void TheTempFileOfAWriteInProgressIsLeftAlone()
    {
        using var dir = new TempDir();
        string target = dir.File("model.bin");
        using var slow = AtomicFile.Open(target); // holds its temp file open (and locked) while writing
        slow.Stream.Write([1, 2, 3]);
        AtomicFile.WriteAllBytes(target, [9]); // a second writer to the same target
        Assert.True(File.Exists(slow.TempPath));
        Assert.Equal([9], File.ReadAllBytes(target));
        slow.Commit();
        Assert.Equal([1, 2, 3], File.ReadAllBytes(target));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void CommitFlushesTheDirectoryEntryToDisk()
    {
        using var dir = new TempDir();
        using var writer = AtomicFile.Open(dir.File("a.bin"));
        writer.Stream.Write([1]);
        Assert.False(writer.DirectorySynced);
        writer.Commit();
        // fsync(2) of the directory after the rename, so the new name survives a power cut; Windows has no
        // equivalent through .NET (NTFS journals the rename) and reports false.
        Assert.Equal(!OperatingSystem.IsWindows(), writer.DirectorySynced);
        Assert.Equal(!OperatingSystem.IsWindows(), AtomicFileWriter.SyncDirectory(dir.Path));
        Assert.False(AtomicFileWriter.SyncDirectory(dir.File("no-such-dir")));
    }
}
