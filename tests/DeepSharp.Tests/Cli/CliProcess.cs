using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace DeepSharp.Tests.Cli;

/// <summary>What a run of the command printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string All => Stdout + Stderr;

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built <c>deepsharp</c> command (DeepSharp.Cli.dll, copied next to the tests) as a child process with
/// stdout and stderr redirected (so, as in a pipe: stdout is not a terminal).
/// </summary>
internal static partial class CliProcess
{
    /// <summary>The command under test: the build next to the tests, or DEEPSHARP_TEST_CLI (to run these tests against another build).</summary>
    public static string Dll => Environment.GetEnvironmentVariable("DEEPSHARP_TEST_CLI") is { Length: > 0 } other ? other : Path.Combine(AppContext.BaseDirectory, "DeepSharp.Cli.dll");

    /// <summary>The dotnet host running the tests.</summary>
    private static string Host => Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    public static ProcessStartInfo StartInfo(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        // env --default-signal=INT: a test host started in the background may ignore SIGINT, which children would inherit.
        var psi = new ProcessStartInfo(File.Exists("/usr/bin/env") ? "/usr/bin/env" : Host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (psi.FileName == "/usr/bin/env")
        {
            psi.ArgumentList.Add("--default-signal=INT");
            psi.ArgumentList.Add(Host);
        }
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("NO_COLOR");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null) psi.Environment.Remove(k);
            else psi.Environment[k] = v;
        }
        return psi;
    }

    public static CliResult Run(string workingDirectory, params string[] args) => Run(workingDirectory, args, null);

    public static CliResult Run(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment, int timeoutSeconds = 120) =>
        RunToEnd(StartInfo(workingDirectory, args, environment), $"deepsharp {string.Join(' ', args)}", timeoutSeconds);

    /// <summary>Runs a process with no input to its end (killed with its children after the timeout) and collects its output.</summary>
    public static CliResult RunToEnd(ProcessStartInfo psi, string what, int timeoutSeconds)
    {
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{what} did not finish within {timeoutSeconds} s");
        }
        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Sends SIGINT (what Ctrl-C sends) to a process.</summary>
    public static void Interrupt(Process process)
    {
        // The child of env is the CLI itself (env execs), so the pid is the CLI's.
        if (Kill(process.Id, 2) != 0) throw new InvalidOperationException($"kill({process.Id}, SIGINT) failed: errno {Marshal.GetLastPInvokeError().ToString(CultureInfo.InvariantCulture)}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>
    /// A small classification table (3 well-separated classes of <paramref name="features"/> features, 8 by default,
    /// 300 rows) with long class names: an mlp trains on it in well under a second.
    /// </summary>
    public static string WriteTinyCsv(string directory, int rows = 300, int features = 8)
    {
        string[] names = ["alpha-class-with-a-long-name", "beta-class-with-a-long-name", "gamma-class-with-a-long-name"];
        var rng = new Random(1);
        var sb = new StringBuilder(string.Join(',', Enumerable.Range(0, features).Select(i => $"f{i}")) + ",label\n");
        for (int n = 0; n < rows; n++)
        {
            int c = n % 3;
            var values = Enumerable.Range(0, features).Select(i => ((i % 3 == c ? 2.0 : 0.0) + Gaussian(rng)).ToString("F4", CultureInfo.InvariantCulture));
            sb.Append(string.Join(',', values)).Append(',').Append(names[c]).Append('\n');
        }
        string path = Path.Combine(directory, features == 8 ? "tiny.csv" : $"tiny{features}.csv");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
