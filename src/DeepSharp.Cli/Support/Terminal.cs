using Spectre.Console;

namespace DeepSharp.Cli.Support;

/// <summary>
/// How the command writes to its standard output, decided once at start-up (clig.dev's conventions):
/// <list type="bullet">
/// <item>stdout is a terminal: colours, bold text and live progress bars, tables fitted to the terminal's width;</item>
/// <item>stdout is a pipe or a file: plain text only, with no escape codes of any kind (no colours, no cursor
/// movement, no hidden cursor), no live displays (progress comes as log lines) and no wrapping: a log line or a
/// table row stays on one line however long it is;</item>
/// <item><c>NO_COLOR</c> set to any non-empty value, or <c>TERM=dumb</c>: plain text as for a pipe, wrapped at the
/// terminal's width.</item>
/// </list>
/// </summary>
internal static class Terminal
{
    /// <summary>Width given to Spectre.Console when output is not a terminal: wide enough that nothing wraps.</summary>
    public const int UnwrappedWidth = 32_767;

    /// <summary>Whether escape codes (colours, cursor movement) may be written to stdout.</summary>
    public static bool Ansi { get; private set; }

    /// <summary>Configures <see cref="AnsiConsole.Console"/> for this process from the environment.</summary>
    public static void Configure() => Configure(!Console.IsOutputRedirected, Environment.GetEnvironmentVariable("NO_COLOR"), Environment.GetEnvironmentVariable("TERM"));

    /// <summary>The console for stdout given whether it is a terminal and the NO_COLOR and TERM variables.</summary>
    public static void Configure(bool isTerminal, string? noColor, string? term)
    {
        bool plain = !string.IsNullOrEmpty(noColor) || string.Equals(term, "dumb", StringComparison.Ordinal);
        Ansi = isTerminal && !plain;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = Ansi ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Ansi ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Ansi ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        if (!isTerminal) console.Profile.Width = UnwrappedWidth;
        AnsiConsole.Console = console;
    }

    /// <summary>Shows the cursor again (a live display hides it), when escape codes are in use.</summary>
    public static void RestoreCursor()
    {
        if (!Ansi) return;
        try
        {
            Console.Out.Write("\u001b[?25h");
            Console.Out.Flush();
        }
        catch (IOException)
        {
            // stdout is gone (the terminal closed): nothing to restore.
        }
    }
}
