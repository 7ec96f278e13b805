using System.Runtime.InteropServices;
using System.Text;

namespace DeepSharp.Serialization;

/// <summary>
/// Writes files all-or-nothing: the content goes to a temp file in the same directory
/// (<c>.NAME.GUID.tmp</c>), is flushed to disk, then replaces the target with one rename, and the
/// directory is flushed so the new name is durable too. An exception midway leaves the previous file
/// (if any) untouched and removes the temp file, so checkpoints and downloads are never half-written.
/// A process killed midway cannot remove its temp file: the next write to the same target removes
/// such stale temp files (ours by name, and not held open by a live writer).
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> all-or-nothing.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="IOException"><paramref name="path"/> is a directory, or the write fails.</exception>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var writer = Open(path);
        writer.Stream.Write(bytes);
        writer.Commit();
    }

    /// <summary>Writes text (UTF-8 without BOM unless another encoding is given).</summary>
    public static void WriteAllText(string path, string text, Encoding? encoding = null) =>
        WriteAllBytes(path, (encoding ?? new UTF8Encoding(false)).GetBytes(text));

    /// <summary>Runs <paramref name="write"/> on a temp-file stream and commits when it returns normally.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var writer = Open(path);
        write(writer.Stream);
        writer.Commit();
    }

    /// <summary>
    /// Opens a temp file next to <paramref name="path"/>. Call <see cref="AtomicFileWriter.Commit"/> to
    /// replace the target; disposing without committing discards everything written.
    /// </summary>
    public static AtomicFileWriter Open(string path) => new(path);
}

/// <summary>A write in progress to a temp file that becomes the target only on <see cref="Commit"/>.</summary>
public sealed partial class AtomicFileWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _directory;
    private bool _done;

    internal AtomicFileWriter(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        TargetPath = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(TargetPath) ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"cannot write '{TargetPath}': directory '{dir}' does not exist");
        if (Directory.Exists(TargetPath)) throw new IOException($"cannot write '{TargetPath}': it is a directory");
        _directory = dir;
        RemoveStaleTempFiles(dir, Path.GetFileName(TargetPath));
        // Same directory so the final rename never crosses file systems (and stays atomic). FileShare.None also
        // takes an advisory lock (flock on Unix) that tells other writers this temp file is live.
        TempPath = Path.Combine(dir, $".{Path.GetFileName(TargetPath)}.{Guid.NewGuid():N}.tmp");
        _stream = new FileStream(TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    /// <summary>The full path of the file being replaced.</summary>
    public string TargetPath { get; }

    /// <summary>The temp file the content is written to (<c>.NAME.GUID.tmp</c> next to the target).</summary>
    public string TempPath { get; }

    /// <summary>Whether the commit flushed the directory (fsync) after the rename; false before it, and on Windows.</summary>
    internal bool DirectorySynced { get; private set; }

    /// <summary>The temp file's stream; write the whole content here.</summary>
    public Stream Stream => _done ? throw new ObjectDisposedException(nameof(AtomicFileWriter), $"the write to '{TargetPath}' is already finished") : _stream;

    /// <summary>Flushes the content to disk, moves it over the target (replacing any existing file) and flushes the directory.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        try
        {
            _stream.Flush(flushToDisk: true);
            if (OperatingSystem.IsWindows())
            {
                _stream.Dispose(); // Windows cannot rename a file that is open without FileShare.Delete
                File.Move(TempPath, TargetPath, overwrite: true);
            }
            else
            {
                // Rename while the lock is held, so no other writer ever sees this temp file unlocked and takes it for stale.
                File.Move(TempPath, TargetPath, overwrite: true);
                _stream.Dispose();
            }
            _done = true;
        }
        catch
        {
            Discard();
            throw;
        }
        // The rename is done: the file is complete whatever happens next. Flushing the directory makes the new
        // name itself survive a power cut; failing to (a file system without directory fsync) is not an error.
        DirectorySynced = SyncDirectory(_directory);
    }

    /// <summary>Discards the temp file unless <see cref="Commit"/> has run.</summary>
    public void Dispose()
    {
        if (!_done) Discard();
    }

    private void Discard()
    {
        _done = true;
        _stream.Dispose();
        try { File.Delete(TempPath); }
        catch (IOException) { } // best effort: the target is intact either way
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Deletes temp files that a killed writer left for <paramref name="fileName"/> in <paramref name="dir"/>:
    /// exactly our naming (<c>.NAME.</c> 32 hex digits <c>.tmp</c>), and only when they can be opened with
    /// FileShare.None, that is when no live writer holds them (it keeps its lock until after the rename).
    /// On Windows a file modified in the last 10 s is also left alone: a writer closes its temp file just
    /// before renaming it there. Best effort: whatever cannot be removed stays.
    /// </summary>
    internal static void RemoveStaleTempFiles(string dir, string fileName)
    {
        string prefix = "." + fileName + ".";
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(dir, "*.tmp", new EnumerationOptions { MatchType = MatchType.Simple, AttributesToSkip = 0, IgnoreInaccessible = true });
            foreach (string candidate in candidates)
            {
                if (!IsTempName(Path.GetFileName(candidate.AsSpan()), prefix)) continue;
                if (OperatingSystem.IsWindows() && File.GetLastWriteTimeUtc(candidate) > DateTime.UtcNow.AddSeconds(-10)) continue;
                try
                {
                    // Deleted on close, while our lock is still held.
                    using var stale = new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
                }
                catch (IOException) { } // held by a live writer, or already gone
                catch (UnauthorizedAccessException) { }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static bool IsTempName(ReadOnlySpan<char> name, string prefix)
    {
        if (!name.StartsWith(prefix, StringComparison.Ordinal) || !name.EndsWith(".tmp", StringComparison.Ordinal)) return false;
        var guid = name[prefix.Length..^4];
        if (guid.Length != 32) return false;
        foreach (char c in guid)
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    /// <summary>
    /// fsync(2) on a directory, so that a rename in it is on disk. .NET cannot open a directory as a file
    /// (File.OpenHandle refuses), hence open/fsync/close from libc through source-generated (AOT-safe)
    /// P/Invoke. Windows has no directory flush through these APIs (NTFS journals the rename): false there.
    /// </summary>
    internal static bool SyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows() || OperatingSystem.IsBrowser() || OperatingSystem.IsWasi()) return false;
        try
        {
            int fd = Open(dir, 0 /* O_RDONLY */);
            if (fd < 0) return false;
            try { return Fsync(fd) == 0; }
            finally { _ = Close(fd); }
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
