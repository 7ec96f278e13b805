using System.Text;

namespace DeepSharp.Serialization;

/// <summary>
/// Writes files all-or-nothing: the content goes to a temp file in the same directory, is flushed to
/// disk, then replaces the target with one rename. A crash or exception midway leaves the previous
/// file (if any) untouched and removes the temp file, so checkpoints and downloads are never half-written.
/// </summary>
public static class AtomicFile
{
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
public sealed class AtomicFileWriter : IDisposable
{
    private readonly FileStream _stream;
    private bool _done;

    internal AtomicFileWriter(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        TargetPath = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(TargetPath) ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"cannot write '{TargetPath}': directory '{dir}' does not exist");
        if (Directory.Exists(TargetPath)) throw new IOException($"cannot write '{TargetPath}': it is a directory");
        // Same directory so the final rename never crosses file systems (and stays atomic).
        TempPath = Path.Combine(dir, $".{Path.GetFileName(TargetPath)}.{Guid.NewGuid():N}.tmp");
        _stream = new FileStream(TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
    }

    public string TargetPath { get; }

    public string TempPath { get; }

    /// <summary>The temp file's stream; write the whole content here.</summary>
    public Stream Stream => _done ? throw new ObjectDisposedException(nameof(AtomicFileWriter), $"the write to '{TargetPath}' is already finished") : _stream;

    /// <summary>Flushes the content to disk and moves it over the target (replacing any existing file).</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        try
        {
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
            File.Move(TempPath, TargetPath, overwrite: true);
            _done = true;
        }
        catch
        {
            Discard();
            throw;
        }
    }

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
}
