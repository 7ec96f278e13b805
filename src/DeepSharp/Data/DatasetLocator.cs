using System.Text;

namespace DeepSharp.Data;

/// <summary>
/// Finds a dataset's files on disk, in a fixed order, or downloads them. A directory qualifies when
/// it holds every requested file, compressed (name.gz) or not (name).
/// </summary>
internal static class DatasetLocator
{
    public const string EnvironmentVariable = "DEEPSHARP_DATA";

    /// <summary>The full paths of <paramref name="files"/>, or an exception listing everywhere it looked.</summary>
    public static string[] Find(string name, string folder, DataFile[] files, string[] mirrors, string? directory, bool download)
    {
        var searched = new List<string>();
        foreach (var (dir, why) in Candidates(folder, directory))
        {
            searched.Add($"{dir} ({why})");
            if (TryResolve(dir, files) is { } found) return found;
        }

        string target = directory ?? DownloadDirectory(folder);
        string downloadNote;
        if (download)
        {
            string? firstCreated = FirstMissingAncestor(target);
            try
            {
                Directory.CreateDirectory(target);
                foreach (var f in files)
                    if (TryResolve(target, [f]) is null) Downloader.Fetch(mirrors, f, Path.Combine(target, f.Name));
                return TryResolve(target, files) ?? throw new InvalidOperationException($"downloaded files are missing from {target}");
            }
            catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or InvalidDataException or TaskCanceledException or InvalidOperationException)
            {
                downloadNote = $"Downloading into {target} failed: {e.Message}";
                RemoveCreatedIfEmpty(target, firstCreated);
            }
        }
        else
        {
            downloadNote = "Downloading was disabled (Download: false).";
        }
        throw new FileNotFoundException(Explain(name, folder, files, mirrors, searched, downloadNote));
    }

    /// <summary>The outermost folder of <paramref name="dir"/>'s path that does not exist yet (null: it exists).</summary>
    private static string? FirstMissingAncestor(string dir)
    {
        string? missing = null;
        for (var d = new DirectoryInfo(dir); d is not null && !d.Exists; d = d.Parent) missing = d.FullName;
        return missing;
    }

    /// <summary>A failed download leaves nothing behind: the folders it created go if nothing landed in them.</summary>
    private static void RemoveCreatedIfEmpty(string dir, string? firstCreated)
    {
        if (firstCreated is null) return;
        try
        {
            for (var d = new DirectoryInfo(dir); d is not null && d.FullName.Length >= firstCreated.Length; d = d.Parent)
            {
                if (!d.Exists || d.EnumerateFileSystemInfos().Any()) return;
                d.Delete();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string Explain(string name, string folder, DataFile[] files, string[] mirrors, List<string> searched, string downloadNote)
    {
        var sb = new StringBuilder();
        sb.Append($"{name}: could not find {string.Join(" and ", files.Select(f => Path.GetFileNameWithoutExtension(f.Name) + "[.gz]"))}. Searched:\n");
        foreach (var s in searched) sb.Append($"  - {s}\n");
        sb.Append(downloadNote).Append('\n');
        sb.Append($"Put the files (gzip or uncompressed) in one of these directories, pass a directory explicitly, or set {EnvironmentVariable} to a folder containing {folder}/. ");
        sb.Append($"They are available from {mirrors[^1]}");
        return sb.ToString();
    }

    /// <summary>Directories to search, in order, with the reason each is on the list.</summary>
    internal static IEnumerable<(string Dir, string Why)> Candidates(string folder, string? directory)
    {
        if (directory is not null) yield return (Path.GetFullPath(directory), "directory given");
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) yield return (Path.GetFullPath(Path.Combine(env, folder)), $"${EnvironmentVariable}/{folder}");
        foreach (var repo in RepoDataDirectories(folder)) yield return (repo, "repository data folder");
        yield return (Path.Combine("/usr/share/datasets", folder), "Debian package location");
        yield return (DownloadDirectory(folder), "download cache");
    }

    /// <summary>data/&lt;folder&gt; in the nearest ancestor of the current and of the application directory that has one.</summary>
    private static List<string> RepoDataDirectories(string folder)
    {
        var result = new List<string>();
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "data", folder);
                if (Directory.Exists(candidate))
                {
                    if (!result.Contains(candidate)) result.Add(candidate);
                    break;
                }
            }
        }
        return result;
    }

    internal static string DownloadDirectory(string folder)
    {
        string root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(root)) root = Path.GetTempPath();
        return Path.Combine(root, "deepsharp", folder);
    }

    private static string[]? TryResolve(string dir, DataFile[] files)
    {
        var paths = new string[files.Length];
        for (int i = 0; i < files.Length; i++)
        {
            string gz = Path.Combine(dir, files[i].Name);
            string raw = Path.Combine(dir, Path.GetFileNameWithoutExtension(files[i].Name));
            if (File.Exists(gz)) paths[i] = gz;
            else if (File.Exists(raw)) paths[i] = raw;
            else return null;
        }
        return paths;
    }
}
