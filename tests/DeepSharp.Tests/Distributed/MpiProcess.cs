using System.Diagnostics;
using System.Text;
using DeepSharp.Tests.Cli;

namespace DeepSharp.Tests.Distributed;

/// <summary>
/// Runs the built <c>deepsharp</c> command as an MPI job: <c>mpirun --allow-run-as-root --oversubscribe -np N dotnet
/// DeepSharp.Cli.dll ...</c> (oversubscribe: more ranks than this machine's cores). Tests call <see cref="RequireMpirun"/>
/// first: without Open MPI they are skipped with the reason (CI installs openmpi-bin, so there they run).
/// </summary>
internal static class MpiProcess
{
    public static string? Mpirun => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists);

    public static void RequireMpirun()
    {
        if (Mpirun is null) Assert.Skip("Open MPI is not installed (no mpirun on PATH): apt-get install openmpi-bin to run the multi-process tests");
    }

    public static CliResult Run(string workingDirectory, int processes, IEnumerable<string> args, int timeoutSeconds = 180) =>
        CliProcess.RunToEnd(StartInfo(workingDirectory, processes, args), $"mpirun -np {processes} deepsharp {string.Join(' ', args)}", timeoutSeconds);

    /// <summary>The mpirun command line of a job of <paramref name="processes"/> ranks running deepsharp with <paramref name="args"/>.</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, int processes, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Mpirun!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in (string[])["--allow-run-as-root", "--oversubscribe", "-np", processes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet", CliProcess.Dll])
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return psi;
    }

    /// <summary>The process ids of the ranks mpirun <paramref name="mpirun"/> started, by rank (read from /proc: parent and OMPI_COMM_WORLD_RANK).</summary>
    public static Dictionary<int, int> Ranks(int mpirun)
    {
        var ranks = new Dictionary<int, int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) != mpirun) continue;
                foreach (var entry in File.ReadAllText(Path.Combine(dir, "environ")).Split('\0'))
                    if (entry.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal))
                        ranks[int.Parse(entry["OMPI_COMM_WORLD_RANK=".Length..], System.Globalization.CultureInfo.InvariantCulture)] = pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { } // a process that ended meanwhile
        }
        return ranks;
    }
}
