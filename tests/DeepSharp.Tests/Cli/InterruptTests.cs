using System.Diagnostics;
using DeepSharp.Cli.Support;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>
/// Ctrl-C during training: the first one finishes the step, saves a checkpoint to resume from, says how, and exits
/// with 130; the second one stops at once.
/// </summary>
public sealed class InterruptTests
{
    [Fact]
    public async Task FirstCtrlCSavesAResumableCheckpointPrintsHowToResumeAndExits130()
    {
        using var dir = new TempDir();
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        var run = dir.File("run");
        // Many epochs of tiny batches: the run is certainly still training when the signal arrives.
        string[] args = ["train", "--model", "mlp", "--data", "csv:" + csv, "--epochs", "100000", "--batch-size", "2", "--out", run];
        using var process = Process.Start(CliProcess.StartInfo(dir.Path, args))!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = new List<string>();
        // Wait for the first finished epoch, then press "Ctrl-C".
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            stdout.Add(line);
            if (line.StartsWith("epoch 1/", StringComparison.Ordinal)) break;
        }
        CliProcess.Interrupt(process);
        stdout.AddRange((await process.StandardOutput.ReadToEndAsync()).Split('\n'));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        string output = string.Join('\n', stdout), errors = await stderr;

        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{output}\n{errors}");
        var checkpoint = Path.Combine(run, "checkpoint", "last.safetensors");
        Assert.True(File.Exists(checkpoint));
        Assert.Contains("interrupted", errors, StringComparison.Ordinal);
        Assert.Contains($"saved a checkpoint to resume from: {checkpoint}", output, StringComparison.Ordinal);
        var resume = stdout.Single(l => l.StartsWith("resume with: deepsharp train ", StringComparison.Ordinal));
        Assert.EndsWith($"--resume {checkpoint}", resume.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', output + errors); // piped: the terminal needs no restoring, and nothing tried to

        // The checkpoint resumes: two more epochs from where it stopped.
        var epochs = stdout.Count(l => l.StartsWith("epoch ", StringComparison.Ordinal));
        var resumed = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "csv:" + csv, "--epochs", (epochs + 2).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--batch-size", "2", "--out", run, "--resume", checkpoint);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"resumed from {checkpoint} after epoch {epochs}", resumed.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(run, "model.safetensors")));
    }

    [Fact]
    public void SecondCtrlCStopsAtOnceAndAFirstOneOutsideTrainingToo()
    {
        var exits = new List<int>();
        var messages = new StringWriter();
        var interruption = new Interruption(exits.Add, messages);

        // Outside a graceful section (loading data, evaluating): stop at once.
        interruption.Signal();
        Assert.Equal([130], exits);

        using (interruption.BeginGraceful("training"))
        {
            interruption.Signal();
            Assert.True(interruption.Token.IsCancellationRequested);
            Assert.Equal([130], exits); // asked to stop, not stopped
            Assert.Contains("press Ctrl-C again to stop at once", messages.ToString(), StringComparison.Ordinal);
            interruption.Signal();
            Assert.Equal([130, 130], exits);
            Assert.Contains("stopped at once", messages.ToString(), StringComparison.Ordinal);
        }
    }
}
