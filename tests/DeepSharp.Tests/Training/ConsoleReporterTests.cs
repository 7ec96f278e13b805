using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Tests.Training;

/// <summary>What the console reporter prints: progress lines within an epoch when the console is not interactive (a pipe, a log file).</summary>
[Collection("WorkerPool")]
public sealed class ConsoleReporterTests
{
    private static TensorDataset Data(int n) => ResumeAndInterruptTests.Data(n);

    private static (Trainer Trainer, Module<Tensor, Tensor> Model, DataLoader Loader) Setup(TensorDataset data, int epochs) => ResumeAndInterruptTests.Setup(data, epochs);

    [Fact]
    public void ANonInteractiveConsoleGetsProgressLinesWithinAnEpoch()
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = 10_000;
        var data = Data(160);
        var (trainer, _, loader) = Setup(data, 1);
        var reporting = new Trainer(trainer.Model, (o, t) => Functional.CrossEntropy(o, t), trainer.Optimizer,
            new TrainerOptions { Reporter = new ConsoleReporter(console) { ProgressInterval = TimeSpan.Zero } });
        reporting.Fit(loader, epochs: 1);
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Batches 1..9 of 10 get a progress line (the 10th is the epoch's own line).
        var progress = lines.Where(l => l.Contains(" batch ", StringComparison.Ordinal)).ToList();
        Assert.Equal(9, progress.Count);
        Assert.Matches(@"^epoch 1/1  batch 5/10 \(50%\)  loss \d\.\d{4}  accuracy \d+\.\d\d%  [\d,]+ samples/s  \d+s elapsed, about \d+s left in the epoch$", progress[4]);
        Assert.Matches(@"^epoch 1/1  loss \S+  accuracy \d+\.\d\d%", lines[^1]);

        // With the default interval (15 s), a short epoch prints only its summary line.
        var quiet = new StringWriter();
        var quietConsole = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(quiet) });
        var again = new Trainer(trainer.Model, (o, t) => Functional.CrossEntropy(o, t), trainer.Optimizer, new TrainerOptions { Reporter = new ConsoleReporter(quietConsole) });
        again.Fit(loader, epochs: 1);
        Assert.Single(quiet.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void AccuraciesArePercentagesWithoutASpace()
    {
        Assert.Equal("87.06%", ConsoleReporter.Percent(0.8706));
        Assert.Equal("100.00%", ConsoleReporter.Percent(1));
    }
}
