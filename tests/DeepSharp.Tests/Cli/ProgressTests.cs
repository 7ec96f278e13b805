using DeepSharp.Cli.Examples;
using Spectre.Console;

namespace DeepSharp.Tests.Cli;

/// <summary>Long work reports progress in every mode: examples seq2seq prints a line at a steady rate between its held-out checks.</summary>
public sealed class ProgressTests
{
    [Fact]
    public void Seq2SeqExampleReportsProgressBetweenItsChecks()
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(text),
        });
        // 4 steps, well before the first held-out check (step 250): without progress lines nothing would be printed while training.
        int exit = Seq2SeqExample.Run(0, console, maxSteps: 4, progressInterval: TimeSpan.Zero, beamExamples: 2);
        Assert.Equal(1, exit); // 4 steps do not reach 99%
        var progress = text.ToString().Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^step\s+\d+/4  loss \d+\.\d{4}  \d+s \(held-out check every 250 steps\)")).ToList();
        Assert.Equal(4, progress.Count);
        Assert.Equal(Seq2SeqExample.ProgressInterval, TimeSpan.FromSeconds(10));
    }
}
