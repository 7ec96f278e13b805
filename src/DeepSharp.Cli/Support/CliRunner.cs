using System.CommandLine;

namespace DeepSharp.Cli.Support;

/// <summary>An error the user can fix; printed as one line without a stack trace.</summary>
internal sealed class CliException(string message) : Exception(message);

internal static class CliRunner
{
    /// <summary>Parses and runs; every failure becomes one line on stderr and a non-zero exit code.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine($"deepsharp: {e.Message}");
            return 2;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"deepsharp: {OneLine(ex)}");
            return 1;
        }
    }

    private static string OneLine(Exception ex)
    {
        while (ex is AggregateException { InnerException: { } inner }) ex = inner;
        while (ex is System.Reflection.TargetInvocationException { InnerException: { } inner2 }) ex = inner2;
        return ex.Message.ReplaceLineEndings(" ");
    }
}
