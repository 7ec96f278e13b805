using System.CommandLine;

namespace DeepSharp.Cli.Support;

/// <summary>An error the user can fix; printed without a stack trace.</summary>
internal sealed class CliException(string message) : Exception(message);

internal static class CliRunner
{
    /// <summary>The arguments the command was started with (for the "resume with" hint after Ctrl-C).</summary>
    public static IReadOnlyList<string> Arguments { get; private set; } = [];

    /// <summary>Configures the terminal and Ctrl-C, parses and runs; every failure becomes one line on stderr and a non-zero exit code.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        Arguments = args;
        Terminal.Configure();
        Interruption.Install();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"deepsharp: {e.Message}");
            return 2;
        }
        try
        {
            // Ctrl-C is ours (Interruption), not System.CommandLine's.
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (Exception ex)
        {
            Terminal.RestoreCursor();
            Console.Error.WriteLine($"deepsharp: {Explanation(ex)}");
            return 1;
        }
    }

    /// <summary>
    /// A missing dataset's explanation keeps its lines (where it looked, what to do), indented under the first;
    /// every other error is one line.
    /// </summary>
    internal static string Explanation(Exception ex)
    {
        while (ex is AggregateException { InnerException: { } inner }) ex = inner;
        if (ex is not FileNotFoundException || !ex.Message.Contains('\n', StringComparison.Ordinal)) return OneLine(ex);
        var lines = ex.Message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(Environment.NewLine + "  ", lines);
    }

    /// <summary>
    /// The message of the innermost meaningful exception on one line, without .NET's argument decorations
    /// (" (Parameter 'x')", "Actual value was ..."): the message itself names the problem.
    /// </summary>
    internal static string OneLine(Exception ex)
    {
        while (ex is AggregateException { InnerException: { } inner }) ex = inner;
        while (ex is System.Reflection.TargetInvocationException { InnerException: { } inner2 }) ex = inner2;
        string message = ex.Message;
        if (ex is ArgumentOutOfRangeException range && range.ActualValue is not null)
        {
            int at = message.LastIndexOf("Actual value was ", StringComparison.Ordinal);
            if (at >= 0) message = message[..at].TrimEnd();
        }
        if (ex is ArgumentException { ParamName: { } name })
        {
            string suffix = $" (Parameter '{name}')";
            int at = message.LastIndexOf(suffix, StringComparison.Ordinal);
            if (at >= 0) message = message.Remove(at, suffix.Length);
        }
        return message.ReplaceLineEndings(" ").Trim();
    }

    /// <summary>The command line that repeats this run with <paramref name="option"/> set to <paramref name="value"/> (replacing an earlier value).</summary>
    public static string CommandLineWith(string option, string value)
    {
        var args = new List<string>();
        for (int i = 0; i < Arguments.Count; i++)
        {
            string a = Arguments[i];
            // The hidden test hook --stop-after-steps would stop the resumed run again at once.
            if (a == option || a == "--stop-after-steps") { i++; continue; }
            if (a.StartsWith(option + "=", StringComparison.Ordinal) || a.StartsWith("--stop-after-steps=", StringComparison.Ordinal)) continue;
            args.Add(a);
        }
        args.Add(option);
        args.Add(value);
        return "deepsharp " + string.Join(' ', args.Select(Quote));
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
