using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>
/// Output to a pipe follows the terminal conventions: no escape codes (colours, bold, cursor), also with NO_COLOR,
/// and no hard wrapping: a log line or a table row stays on one line however wide it is.
/// </summary>
public sealed class TerminalOutputTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PipedTrainAndEvalOutputHasNoEscapeCodesAndNoWrappedLines(bool noColor)
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        var env = new Dictionary<string, string?> { ["NO_COLOR"] = noColor ? "1" : null, ["COLUMNS"] = "80" };
        var train = CliProcess.Run(dir.Path, ["train", "--model", "mlp", "--data", "csv:" + csv, "--epochs", "2", "--batch-size", "16", "--out", dir.File("run")], env);
        Assert.True(train.ExitCode == 0, train.ToString());
        var eval = CliProcess.Run(dir.Path, ["eval", "--weights", dir.File("run"), "--data", "csv:" + csv], env);
        Assert.True(eval.ExitCode == 0, eval.ToString());

        foreach (var result in new[] { train, eval })
        {
            Assert.DoesNotContain('\u001b', result.All);
            Assert.DoesNotContain("[?25", result.All, StringComparison.Ordinal); // cursor show/hide without the escape byte
        }
        // Every epoch line is whole: from "epoch k/2" to its throughput and time.
        var epochLines = train.Stdout.Split('\n').Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)).ToList();
        Assert.True(epochLines.Count == 2, train.ToString());
        Assert.All(epochLines, l => Assert.Matches(@"^epoch \d/2  loss \S+  accuracy \S+%  val_loss \S+  val_accuracy \S+%  \S+ samples/s  \S+s\s*$", l));
        // The header line (model, data, sizes, optimizer, threads) is one line, longer than 80 columns.
        Assert.Contains(train.Stdout.Split('\n'), l => l.StartsWith("mlp on csv:", StringComparison.Ordinal) && l.Contains("threads", StringComparison.Ordinal) && l.Length > 80);
        // The confusion matrix is wider than 80 columns: each row holds its label and its three counts on one line.
        var lines = eval.Stdout.Split('\n');
        foreach (var name in new[] { "alpha", "beta", "gamma" })
            Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^\s*{name}-class-with-a-long-name\s+\d+\s+\d+\s+\d+\s*$"));
        // and the header row holds the three column labels.
        Assert.Contains(eval.Stdout.Split('\n'), l => l.Contains("alpha-class-with-a-long-name", StringComparison.Ordinal)
                                                      && l.Contains("beta-class-with-a-long-name", StringComparison.Ordinal)
                                                      && l.Contains("gamma-class-with-a-long-name", StringComparison.Ordinal));
    }

    [Fact]
    public void PipedHelpAndErrorsHaveNoEscapeCodes()
    {
        using var dir = new TempDir();
        foreach (var args in new[] { new[] { "summary", "--model", "lenet5" }, ["explain-backprop"], ["train", "--epochs", "0"], ["examples"] })
        {
            var r = CliProcess.Run(dir.Path, args);
            Assert.DoesNotContain('\u001b', r.All);
        }
    }
}
