using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>A character model's run: report works on it (and says what does not apply), and a resumed run keeps its history.</summary>
public sealed class LanguageModelRunTests
{
    private static string WriteText(string dir)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 24; i++) sb.Append("ROMEO: But soft, what light through yonder window breaks?\nJULIET: Ay me!\n");
        var path = Path.Combine(dir, "text.txt");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    [Fact]
    public void ReportOnACharLstmRunShowsItsCurvesAndGatesAndAResumeKeepsTheHistory()
    {
        using var dir = new TempDir();
        var text = WriteText(dir.Path);
        var run = dir.File("run");
        string[] train = ["train", "--model", "char-lstm", "--data", "text:" + text, "--batch-size", "2", "--out", run];
        var first = CliProcess.Run(dir.Path, [.. train, "--epochs", "1"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        var second = CliProcess.Run(dir.Path, [.. train, "--epochs", "2", "--resume", Path.Combine(run, "checkpoint", "last.safetensors"), "--report"]);
        Assert.True(second.ExitCode == 0, second.ToString());
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))))
            Assert.Equal([1.0, 2], metrics.RootElement.GetProperty("history").EnumerateArray().Select(r => r.GetProperty("epoch").GetDouble()));

        var report = CliProcess.Run(dir.Path, "report", run);
        Assert.True(report.ExitCode == 0, report.ToString());
        var html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.Contains("DeepSharp report: char-lstm", html, StringComparison.Ordinal);
        Assert.Contains("Loss per epoch", html, StringComparison.Ordinal);
        Assert.Contains("LSTM rnn: input gate", html, StringComparison.Ordinal);
        Assert.Contains("char-lstm is a character language model", html, StringComparison.Ordinal);
        Assert.DoesNotMatch(new Regex("unknown --model|available:"), report.All);
    }

    [Fact]
    public void CommandsForClassifiersSayWhatToUseForACharacterModel()
    {
        using var dir = new TempDir();
        var r = CliProcess.Run(dir.Path, "eval", "--model", "char-lstm", "--weights", dir.File("w.safetensors"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("'char-lstm' is a language model; eval takes the classifiers", r.Stderr, StringComparison.Ordinal);
    }
    [Fact]
    public void AGptTrainsResumesSamplesAndReports()
    {
        using var dir = new TempDir();
        var text = WriteText(dir.Path);
        var run = dir.File("gpt");
        string[] train = ["train", "--model", "gpt", "--data", "text:" + text, "--layers", "1", "--heads", "2", "--width", "16", "--context", "16",
            "--batch-size", "4", "--steps-per-epoch", "3", "--warmup", "2", "--out", run];
        var first = CliProcess.Run(dir.Path, [.. train, "--epochs", "1"]);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("1 layers, 2 heads, width 16, context 16", first.Stdout, StringComparison.Ordinal);
        var second = CliProcess.Run(dir.Path, [.. train, "--epochs", "2", "--resume", Path.Combine(run, "checkpoint", "last.safetensors")]);
        Assert.True(second.ExitCode == 0, second.ToString());
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))))
        {
            Assert.Equal([1.0, 2], metrics.RootElement.GetProperty("history").EnumerateArray().Select(r => r.GetProperty("epoch").GetDouble()));
            Assert.Equal(16, metrics.RootElement.GetProperty("gpt").GetProperty("width").GetInt32());
            Assert.Equal("char", metrics.RootElement.GetProperty("tokenizer").GetString());
        }

        var sample = CliProcess.Run(dir.Path, "sample", "--weights", run, "--prime", "ROMEO:", "--length", "30", "--top-k", "5", "--top-p", "0.9", "--seed", "3");
        Assert.True(sample.ExitCode == 0, sample.ToString());
        Assert.StartsWith("ROMEO:", sample.Stdout, StringComparison.Ordinal);
        Assert.True(sample.Stdout.TrimEnd('\n').Length >= 30, sample.Stdout);
        var again = CliProcess.Run(dir.Path, "sample", "--weights", run, "--prime", "ROMEO:", "--length", "30", "--top-k", "5", "--top-p", "0.9", "--seed", "3");
        Assert.Equal(sample.Stdout, again.Stdout);

        var report = CliProcess.Run(dir.Path, "report", run);
        Assert.True(report.ExitCode == 0, report.ToString());
        var html = File.ReadAllText(Path.Combine(run, "report.html"));
        Assert.Contains("DeepSharp report: gpt", html, StringComparison.Ordinal);
        // Attention maps: one per block and head (1 block of 2 heads here), drawn from the run's sample.
        Assert.Contains("block 0, head 0: rows = queries", html, StringComparison.Ordinal);
        Assert.Contains("block 0, head 1: rows = queries", html, StringComparison.Ordinal);
        Assert.DoesNotContain("block 1, head 0", html, StringComparison.Ordinal);

        var bad = CliProcess.Run(dir.Path, "train", "--model", "gpt", "--data", "text:" + text, "--width", "10", "--heads", "3", "--out", dir.File("bad"));
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--width 10 must be divisible by --heads 3", bad.Stderr, StringComparison.Ordinal);
        var wrongModel = CliProcess.Run(dir.Path, "train", "--model", "char-lstm", "--tokenizer", "gpt2", "--out", dir.File("bad2"));
        Assert.NotEqual(0, wrongModel.ExitCode);
        Assert.Contains("apply to --model gpt", wrongModel.Stderr, StringComparison.Ordinal);
    }
}
