using System.CommandLine;
using System.Text.Json;
using DeepSharp.Cli.Support;
using DeepSharp.Data;
using DeepSharp.Kernels;
using DeepSharp.Serialization;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp train</c>: train a zoo model and write weights, checkpoints and metrics.</summary>
internal static class TrainCommand
{
    public const string DefaultModel = "lenet5";

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = Inputs.ModelHelp, DefaultValueFactory = _ => DefaultModel };
        var data = new Option<string>("--data") { Description = Inputs.DataHelp, DefaultValueFactory = _ => "fashion-mnist" };
        var dataDir = new Option<string?>("--data-dir") { Description = "directory holding the dataset files (default: search DEEPSHARP_DATA, data/, /usr/share/datasets)" };
        var label = new Option<string?>("--label") { Description = "CSV label column name (default: last column)" };
        var epochs = new Option<int>("--epochs") { Description = "number of epochs", DefaultValueFactory = _ => 10 };
        var batch = new Option<int>("--batch-size") { Description = "mini-batch size", DefaultValueFactory = _ => 64 };
        var lr = new Option<double?>("--lr") { Description = "learning rate (default: 0.05 for sgd, 1e-3 for adam, 2e-3 for adam on lenet5)" };
        var optimizer = new Option<string>("--optimizer") { Description = Choices.OptimizerHelp, DefaultValueFactory = _ => "adam" };
        var schedule = new Option<string>("--lr-schedule") { Description = "cosine (anneal to 0 over the run, default), step (x0.1 every third of the run) or none", DefaultValueFactory = _ => "cosine" };
        var augment = new Option<string?>("--augment") { Description = "training-image augmentation, comma-separated: " + AugmentationParser.Help };
        var seed = new Option<int>("--seed") { Description = "random seed (same seed, same run)", DefaultValueFactory = _ => 42 };
        var threads = new Option<int?>("--threads") { Description = "worker threads (default: all cores)" };
        var output = new Option<string?>("--out") { Description = "output directory (default: runs/MODEL)" };
        var resume = new Option<string?>("--resume") { Description = "checkpoint file to resume from (e.g. runs/mlp/checkpoint/last.safetensors)" };
        var report = new Option<bool>("--report") { Description = "record activation and gradient statistics every 50 steps and write DIR/report.html" };
        var command = new Command("train", "Train a model; writes DIR/model.safetensors, DIR/checkpoint/ and DIR/metrics.json")
        {
            model, data, dataDir, label, epochs, batch, lr, optimizer, schedule, augment, seed, threads, output, resume, report,
        };
        command.SetAction(p => Run(new TrainSettings(
            p.GetValue(model)!, p.GetValue(data)!, p.GetValue(dataDir), p.GetValue(label), p.GetValue(epochs), p.GetValue(batch),
            p.GetValue(lr), p.GetValue(optimizer)!, p.GetValue(schedule)!, p.GetValue(augment), p.GetValue(seed), p.GetValue(threads), p.GetValue(output), p.GetValue(resume), p.GetValue(report))));
        return command;
    }

    internal sealed record TrainSettings(string Model, string Data, string? DataDir, string? Label, int Epochs, int BatchSize, double? Lr,
        string Optimizer, string Schedule, string? Augment, int Seed, int? Threads, string? Out, string? Resume, bool Report = false);

    internal static int Run(TrainSettings s)
    {
        if (LanguageModelTraining.Handles(s.Model, s.Data)) return LanguageModelTraining.Run(s);
        if (s.Epochs < 0) throw new CliException($"--epochs must be non-negative, got {s.Epochs}");
        if (s.BatchSize <= 0) throw new CliException($"--batch-size must be positive, got {s.BatchSize}");
        if (s.Threads is int t)
        {
            if (t < 1) throw new CliException($"--threads must be at least 1, got {t}");
            WorkerPool.Threads = t;
        }
        if (s.Resume is not null && !File.Exists(s.Resume)) throw new CliException($"--resume: checkpoint '{s.Resume}' not found");
        string outDir = s.Out ?? Path.Combine("runs", s.Model);
        Directory.CreateDirectory(outDir);

        Generator.Default.ManualSeed((ulong)s.Seed);
        var loaderGenerator = new Generator((ulong)s.Seed + 1);
        var data = Inputs.Load(s.Data, s.DataDir, s.Seed, s.Label);
        var model = Inputs.CreateModel(s.Model, data, new Generator((ulong)s.Seed));
        double lr = s.Lr ?? Choices.DefaultLr(s.Optimizer, s.Model);
        var optimizer = Choices.CreateOptimizer(s.Optimizer, model.Parameters(), lr);
        var trainer = new Trainer(model, Choices.Loss(model), optimizer, new TrainerOptions
        {
            Scheduler = Choices.CreateSchedule(s.Schedule, optimizer, s.Epochs),
            Reporter = new ConsoleReporter(),
            CountCorrect = Choices.Accuracy(model),
        });
        ITransform? augmentation = null;
        if (!string.IsNullOrEmpty(s.Augment))
        {
            if (data.Features != 784) throw new CliException("--augment applies to 28x28 image datasets (fashion-mnist, mnist)");
            try
            {
                augmentation = AugmentationParser.Parse(s.Augment, 28, 1);
            }
            catch (ArgumentException e)
            {
                throw new CliException($"--augment: {e.Message}");
            }
        }
        var train = new DataLoader(data.Train, s.BatchSize, shuffle: true, generator: loaderGenerator, transform: augmentation);
        var validation = new DataLoader(data.Validation, 1000);
        var test = new DataLoader(data.Test, 1000);
        if (s.Resume is not null)
        {
            trainer.LoadCheckpoint(s.Resume);
            AnsiConsole.MarkupLine($"[grey]resumed from {Markup.Escape(s.Resume)} after epoch {trainer.Epoch}[/]");
        }
        AnsiConsole.MarkupLine($"[bold]{s.Model}[/] on {data.Name}: {data.Train.Count:N0} train / {data.Validation.Count:N0} validation / {data.Test.Count:N0} test, " +
                               $"{model.ParameterCount:N0} parameters, {s.Optimizer} lr {lr}, batch {s.BatchSize}, {WorkerPool.Threads} threads");

        var checkpoints = new ModelCheckpoint(Path.Combine(outDir, "checkpoint"), monitor: "val_accuracy");
        var recorder = s.Report ? ReportCommand.CreateRecorder(outDir) : null;
        List<ICallback> callbacks = [checkpoints, new MetricsLogger(Path.Combine(outDir, "history.csv"))];
        if (recorder is not null) callbacks.Add(recorder);
        var history = trainer.Fit(train, validation, s.Epochs, callbacks);
        var result = trainer.Evaluate(test, keepPredictions: true);
        SafeTensors.Save(Path.Combine(outDir, "model.safetensors"), model.StateDict(), new Dictionary<string, string> { ["model"] = s.Model });

        var metrics = RunMetrics.From(s.Model, data, result, history, trainer.Epoch);
        AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(metrics, CliJson.Default.RunMetrics));
        Report.Summary(metrics, outDir);
        if (recorder is not null) AnsiConsole.MarkupLine($"report: [bold]{Markup.Escape(ReportCommand.Generate(outDir, s.DataDir))}[/]");
        return 0;
    }
}
