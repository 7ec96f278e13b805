namespace DeepSharp.Cli.Support;

/// <summary>
/// An output folder (--out): created when missing and checked for writing before any work starts, so that a
/// run fails at once with a clear message instead of after training. A run that fails (the scope is disposed
/// without <see cref="Complete"/>) removes the folders it created as long as they are still empty; it never
/// removes anything that existed before or holds files (a checkpoint a failed run wrote stays for --resume).
/// </summary>
internal sealed class OutputDirectory : IDisposable
{
    private readonly List<string> _created = [];
    private bool _complete;

    private OutputDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>Creates <paramref name="path"/> (and missing parents) and checks that files can be written in it.</summary>
    public static OutputDirectory Prepare(string path, string option = "--out")
    {
        var dir = new OutputDirectory(path);
        try
        {
            dir.Create(path);
            string probe = System.IO.Path.Combine(path, $".deepsharp-write-check-{Environment.ProcessId}");
            try
            {
                using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
            }
            finally
            {
                if (File.Exists(probe)) File.Delete(probe);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            dir.Dispose();
            throw new CliException($"{option}: cannot write to '{path}': {Reason(e)}");
        }
        return dir;
    }

    /// <summary>Creates a subfolder (e.g. checkpoint/) that is removed with the others if the run fails while it is empty.</summary>
    public string Sub(string name)
    {
        string sub = System.IO.Path.Combine(Path, name);
        Create(sub);
        return sub;
    }

    /// <summary>The run succeeded (or stopped with something worth keeping): keep everything.</summary>
    public void Complete() => _complete = true;

    public void Dispose()
    {
        if (_complete) return;
        for (int i = _created.Count - 1; i >= 0; i--)
        {
            try
            {
                if (Directory.Exists(_created[i]) && !Directory.EnumerateFileSystemEntries(_created[i]).Any()) Directory.Delete(_created[i]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: a folder we cannot remove is left as it is.
            }
        }
        _created.Clear();
    }

    private void Create(string path)
    {
        // Record every level that does not exist yet, outermost first, so that Dispose removes them innermost first.
        var missing = new Stack<string>();
        for (var d = System.IO.Path.GetFullPath(path); !string.IsNullOrEmpty(d) && !Directory.Exists(d); d = System.IO.Path.GetDirectoryName(d)!)
        {
            if (File.Exists(d)) throw new IOException("a file of that name exists");
            missing.Push(d);
        }
        foreach (var d in missing)
        {
            Directory.CreateDirectory(d);
            _created.Add(d);
        }
    }

    /// <summary>What went wrong, in words and without file names (the message names the folder).</summary>
    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException or FileNotFoundException => "the location does not accept new files or folders",
        PathTooLongException => "the path is too long",
        IOException io when io.Message.Contains("Read-only", StringComparison.OrdinalIgnoreCase) => "read-only file system",
        IOException io when io.Message.Contains("space", StringComparison.OrdinalIgnoreCase) => "no space left on the device",
        IOException io when io.Message == "a file of that name exists" => "a file of that name exists",
        _ => "the file system refused (" + e.GetType().Name + ")",
    };
}
