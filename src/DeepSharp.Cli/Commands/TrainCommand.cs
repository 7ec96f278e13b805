using System.CommandLine;
using System.Text.Json;
using DeepSharp.Cli.Support;
using DeepSharp.Dashboard;
using DeepSharp.Data;
using DeepSharp.Distributed;
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
        var model = new Option<string>("--model") { Description = ModelCatalog.Help(languageModels: true) + "; " + ModelCatalog.LayoutRule, DefaultValueFactory = _ => DefaultModel };
        var data = new Option<string>("--data") { Description = Inputs.DataHelp, DefaultValueFactory = _ => "fashion-mnist" };
        var dataDir = new Option<string?>("--data-dir") { Description = "directory holding the dataset files (default: search DEEPSHARP_DATA, data/, /usr/share/datasets); when given, the data must be there" };
        var label = new Option<string?>("--label") { Description = "CSV label column name (default: last column)" };
        var epochs = new Option<int>("--epochs") { Description = "total number of epochs (with --resume: including those already trained)", DefaultValueFactory = _ => 10 };
        var batch = new Option<int>("--batch-size") { Description = "mini-batch size", DefaultValueFactory = _ => 64 };
        var lr = new Option<double?>("--lr") { Description = "learning rate, positive (default: 0.05 for sgd, 1e-3 for adam, 2e-3 for adam on lenet5)" };
        var optimizer = new Option<string>("--optimizer") { Description = Choices.OptimizerHelp, DefaultValueFactory = _ => "adam" };
        var schedule = new Option<string>("--lr-schedule") { Description = Choices.ScheduleHelp, DefaultValueFactory = _ => "cosine" };
        var augment = new Option<string?>("--augment") { Description = "training-image augmentation, comma-separated: " + AugmentationParser.Help };
        var seed = new Option<int>("--seed") { Description = "random seed (same seed, same run)", DefaultValueFactory = _ => 42 };
        var threads = new Option<int?>("--threads") { Description = "worker threads per process (default: all cores, shared among the processes an MPI launcher starts on one machine)" };
        var output = new Option<string?>("--out") { Description = "output directory (default: runs/MODEL)" };
        var resume = new Option<string?>("--resume") { Description = "checkpoint to resume from (e.g. runs/lenet5/checkpoint/last.safetensors); training continues up to --epochs in total, history included" };
        var report = new Option<bool>("--report") { Description = "record activation and gradient statistics while training and write DIR/report.html" };
        var tensorBoard = new Option<string?>("--tensorboard")
        {
            Description = "write TensorBoard event files (loss and lr per step, epoch metrics, weight histograms) into DIR (default: the run folder)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var dashboard = new Option<int?>("--dashboard")
        {
            Description = $"serve a live page of the run (curves, throughput, ETA, layer statistics, warnings) on PORT (default {DashboardOptions.DefaultPort}, 0: any free port)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var dashboardBind = new Option<string?>("--dashboard-bind") { Description = "the address the dashboard listens on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)" };
        var imageSize = new Option<int>("--image-size") { Description = $"side of the square RGB images made from --data images:DIR (default {Inputs.DefaultImageSize})", DefaultValueFactory = _ => Inputs.DefaultImageSize };
        var distributed = new Option<bool>("--distributed") { Description = "data-parallel training over MPI; implied when started by mpirun/srun, required to be: --batch-size is per process" };
        var bucketMb = new Option<double>("--bucket-mb")
        {
            Description = $"data-parallel: MiB of gradients per allreduce bucket (default {DataParallel.DefaultBucketBytes >> 20}, as PyTorch DDP); smaller buckets start during backward and overlap it",
            DefaultValueFactory = _ => DataParallel.DefaultBucketBytes / (double)(1 << 20),
        };
        // Test hook, not shown in --help: stop as after a Ctrl-C once N optimizer steps are done (every rank of a job at the same step).
        var stopAfter = new Option<long?>("--stop-after-steps") { Hidden = true };
        var gpt = GptTrainOptions.CreateOptions();
        var command = new Command("train", "Train a model; writes DIR/model.safetensors, DIR/checkpoint/, DIR/history.csv and DIR/metrics.json. " +
                                           "Ctrl-C stops after the current step and saves a checkpoint to resume from (a second Ctrl-C stops at once).")
        {
            model, data, dataDir, label, epochs, batch, lr, optimizer, schedule, augment, seed, threads, output, resume, report, tensorBoard, dashboard, dashboardBind, distributed, bucketMb, imageSize, stopAfter,
        };
        foreach (var option in gpt.All) command.Options.Add(option);
        command.SetAction(p => Run(new TrainSettings(
            p.GetValue(model)!, p.GetValue(data)!, p.GetValue(dataDir), p.GetValue(label), p.GetValue(epochs), p.GetValue(batch),
            p.GetValue(lr), p.GetValue(optimizer)!, p.GetValue(schedule)!, p.GetValue(augment), p.GetValue(seed), p.GetValue(threads), p.GetValue(output), p.GetValue(resume), p.GetValue(report),
            p.GetResult(tensorBoard) is null ? null : p.GetValue(tensorBoard) ?? "",
            p.GetResult(dashboard) is null ? null : p.GetValue(dashboard) ?? DashboardOptions.DefaultPort, p.GetValue(dashboardBind), p.GetValue(distributed),
            gpt.Read(p, batchGiven: p.GetResult(batch) is { Implicit: false }, optimizerGiven: p.GetResult(optimizer) is { Implicit: false }, epochsGiven: p.GetResult(epochs) is { Implicit: false }),
            p.GetValue(imageSize), p.GetValue(bucketMb), p.GetValue(stopAfter))));
        return command;
    }

    internal sealed record TrainSettings(string Model, string Data, string? DataDir, string? Label, int Epochs, int BatchSize, double? Lr,
        string Optimizer, string Schedule, string? Augment, int Seed, int? Threads, string? Out, string? Resume, bool Report = false,
        string? TensorBoard = null, int? Dashboard = null, string? DashboardBind = null, bool Distributed = false, GptTrainOptions? Gpt = null,
        int ImageSize = Inputs.DefaultImageSize, double BucketMb = DataParallel.DefaultBucketBytes / (double)(1 << 20), long? StopAfterSteps = null)
    {
        // --tensorboard: null when off, "" for the run folder, else the folder given

        /// <summary>What a rank other than 0 of a data-parallel job does: the same training without files, pages or reports.</summary>
        public TrainSettings Silent => this with { Report = false, TensorBoard = null, Dashboard = null, DashboardBind = null };
    }

    /// <summary>Checks every option that can be checked without data, before anything is created or loaded.</summary>
    internal static void Validate(TrainSettings s)
    {
        ModelCatalog.Require(s.Model, "train", languageModels: true);
        if (s.Epochs < 1) throw new CliException($"--epochs must be at least 1, got {s.Epochs}");
        if (s.BatchSize <= 0) throw new CliException($"--batch-size must be positive, got {s.BatchSize}");
        if (s.Lr is double lr && (!(lr > 0) || double.IsInfinity(lr)))
            throw new CliException($"--lr must be a positive number, got {lr.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (s.Threads is int t && t < 1) throw new CliException($"--threads must be at least 1, got {t}");
        if (s.ImageSize is < 8 or > 1024) throw new CliException($"--image-size must be between 8 and 1024, got {s.ImageSize}");
        if (!(s.BucketMb > 0) || double.IsInfinity(s.BucketMb))
            throw new CliException($"--bucket-mb must be a positive number of MiB, got {s.BucketMb.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        if (s.StopAfterSteps is long stop && stop < 1) throw new CliException($"--stop-after-steps must be at least 1, got {stop}");
        Choices.ValidateSchedule(s.Schedule);
        if (s.Optimizer is not ("sgd" or "adam" or "adamw" or "rmsprop" or "adagrad")) throw new CliException($"unknown --optimizer '{s.Optimizer}'; expected {Choices.OptimizerHelp}");
        if (s.Resume is not null && !File.Exists(s.Resume))
            throw new CliException(Directory.Exists(s.Resume)
                ? $"--resume: '{s.Resume}' is a directory; pass a checkpoint file such as {Path.Combine(s.Resume, "checkpoint", "last.safetensors")}"
                : $"--resume: checkpoint '{s.Resume}' not found");
        if (s.Dashboard is int port && port is < 0 or > 65535) throw new CliException($"--dashboard: port {port} is not a TCP port (1-65535, or 0 for any free port)");
        if (s.DashboardBind is { } bind)
        {
            if (s.Dashboard is null) throw new CliException("--dashboard-bind applies to --dashboard; add --dashboard [PORT]");
            if (!System.Net.IPAddress.TryParse(bind, out _)) throw new CliException($"--dashboard-bind: '{bind}' is not an IP address (for example 127.0.0.1, 0.0.0.0 or ::)");
        }
        s.Gpt?.Validate(s.Model);
        if (s.Threads is int threads) Compute.Threads = threads;
    }

    internal static int Run(TrainSettings s)
    {
        Validate(s);
        var world = DistributedRun.Start(s.Distributed, s.Threads);
        if (world is not null)
        {
            if (s.Model == "gpt") throw new CliException("data-parallel training of gpt is not supported yet; run it in one process (char-lstm and char-gru train data-parallel)");
            // Rank 0 writes the files, reports and pages; the other ranks only train.
            var mine = world.IsRoot ? s : s.Silent;
            return DistributedRun.Run(world, () => LanguageModelTraining.Handles(s.Model, s.Data) ? LanguageModelTraining.Run(mine, world) : Run(mine, world));
        }
        if (LanguageModelTraining.Handles(s.Model, s.Data)) return LanguageModelTraining.Run(s);
        return Run(s, null);
    }

    /// <summary>One process's training; with <paramref name="world"/>, its rank's share of data-parallel training (only rank 0 prints and writes).</summary>
    private static int Run(TrainSettings s, Communicator? world)
    {
        bool root = world is null || world.IsRoot;
        string outDir = s.Out ?? Path.Combine("runs", s.Model);
        using var output = root ? OutputDirectory.Prepare(outDir) : null;

        // Dropout draws from Generator.Default: ranks differ so that they do not drop the same units on different data.
        Generator.Default.ManualSeed((ulong)s.Seed + 1_000_003UL * (ulong)(world?.Rank ?? 0));
        var loaderGenerator = new Generator((ulong)s.Seed + 1);
        var data = Inputs.Load(s.Data, s.DataDir, s.Seed, s.Label, imageSize: s.ImageSize);
        var augmentation = Augmentation(s.Augment, data);
        var model = ModelCatalog.CreateClassifier(s.Model, data, new Generator((ulong)s.Seed));
        double lr = s.Lr ?? Choices.DefaultLr(s.Optimizer, s.Model);
        var optimizer = Choices.CreateOptimizer(s.Optimizer, model.Parameters(), lr);
        // Every rank draws the same shuffled order (same seed) and takes its shard of it.
        var train = new DataLoader(data.Train, s.BatchSize, shuffle: true, generator: loaderGenerator, transform: augmentation,
            sampler: world is null ? null : new DistributedSampler(world.Rank, world.Size));
        var validation = new DataLoader(data.Validation, 1000, sampler: world is null ? null : new DistributedSampler(world.Rank, world.Size, pad: false));
        var test = new DataLoader(data.Test, 1000);
        using var dataParallel = world is null ? null : DistributedRun.Create(model, world, s.BucketMb, s.Seed);
        var (scheduler, perBatch) = Choices.CreateSchedule(s.Schedule, optimizer, s.Epochs, train.Count, cosinePerBatch: false);
        using var monitors = RunMonitors.Create(s, outDir, model, data.ClassNames, dataParallel);
        var trainer = new Trainer(model, Choices.Loss(model), optimizer, new TrainerOptions
        {
            Monitors = monitors.Monitors,
            Scheduler = scheduler,
            SchedulerPerBatch = perBatch,
            Reporter = root ? new ConsoleReporter() : null,
            CountCorrect = Choices.Accuracy(model),
            CheckpointMetadata = Weights.Metadata(s.Model, data),
            DataParallel = dataParallel,
            // Validation and test through a plan, as `eval` does: the cnn's 5,000 validation images took 1.07 s eagerly.
            PreparedInference = true,
        });
        IReadOnlyList<EpochLogs>? earlier = null;
        if (s.Resume is not null)
        {
            Resume(s, trainer.LoadCheckpoint, () => trainer.Epoch);
            earlier = EarlierHistory(s.Resume, outDir);
            var at = trainer.ResumePosition is { Batch: > 0 } p ? $", batch {p.Batch} of epoch {trainer.Epoch + 1}" : "";
            if (root) AnsiConsole.MarkupLine(Markup.Escape($"resumed from {s.Resume} after epoch {trainer.Epoch}{at}; training to epoch {s.Epochs}" +
                (scheduler is null ? "" : $", {s.Schedule} schedule re-planned for {s.Epochs} epochs (lr now {optimizer.ParamGroups[0].Lr:G4})")));
        }
        if (world is not null) DistributedRun.Describe(world, dataParallel!, s.BatchSize, train.Count);
        if (root) AnsiConsole.MarkupLine($"[bold]{Markup.Escape(s.Model)}[/] on {Markup.Escape(data.Name)}: {data.Train.Count:N0} train / {data.Validation.Count:N0} validation / {data.Test.Count:N0} test, " +
                               $"{model.ParameterCount:N0} parameters, {s.Optimizer} lr {lr}, batch {s.BatchSize}, {Compute.Threads} threads{(world is null ? "" : " per process")}");

        if (output is null)
        {
            // Another rank of a data-parallel job: train in step with rank 0, which writes and reports everything.
            return trainer.Fit(train, validation, s.Epochs, cancellationToken: monitors.Stop).Interrupted ? Interruption.ExitCode : 0;
        }
        var checkpoints = new ModelCheckpoint(output.Sub("checkpoint"), monitor: "val_accuracy");
        var recorder = s.Report ? ReportCommand.CreateRecorder(outDir, s.Resume, watch: monitors.Dashboard is { } d ? d.Watch : null)
            : monitors.DashboardRecorder();
        var logger = new MetricsLogger(Path.Combine(outDir, "history.csv")) { Earlier = earlier };
        List<ICallback> callbacks = [checkpoints, logger];
        if (recorder is not null) callbacks.Add(recorder);
        TrainingHistory history;
        // Ctrl-C stops one process at a step boundary, which a data-parallel job cannot do alone: mpirun ends it.
        using (world is null ? Interruption.Current.BeginGraceful("training") : null)
        using (var stop = monitors.StopOn(world is null ? Interruption.Current.Token : default))
            history = trainer.Fit(train, validation, s.Epochs, callbacks, stop.Token);
        monitors.Communication?.Print();
        if (history.Interrupted) return Interrupted(outDir, output, trainer.SaveCheckpoint, trainer.Epoch, trainer.InterruptedAt?.Batch ?? 0);

        var result = trainer.Evaluate(test, keepPredictions: true);
        SafeTensors.Save(Path.Combine(outDir, "model.safetensors"), model.StateDict(), Weights.Metadata(s.Model, data));

        var metrics = RunMetrics.From(s.Model, data, result, logger.Epochs, history.WallSeconds, trainer.Epoch) with { Communication = dataParallel?.Statistics };
        if (metrics.ConfusionMatrix is not null) monitors.Dashboard?.ShowConfusion(metrics.ConfusionMatrix, metrics.Classes);
        AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(metrics, CliJson.Default.RunMetrics));
        output.Complete();
        Report.Summary(metrics, outDir);
        monitors.Finish(s, outDir);
        return 0;
    }

    /// <summary>The --augment transforms for the dataset's images (their size and channels), or null without --augment.</summary>
    private static ITransform? Augmentation(string? spec, DataChoice data)
    {
        if (string.IsNullOrEmpty(spec)) return null;
        if (!data.IsImage) throw new CliException($"--augment applies to images; {data.Name} holds {data.ShapeText}");
        try
        {
            return AugmentationParser.Parse(spec, data.ImageSize, data.Channels);
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--augment: {CliRunner.OneLine(e)}");
        }
    }

    /// <summary>Restores a checkpoint with the schedule re-planned for this run; a mismatch names the model the file was saved from.</summary>
    internal static void Resume(TrainSettings s, Action<string, bool> load, Func<int> epoch)
    {
        try
        {
            load(s.Resume!, true);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or InvalidOperationException or FormatException or OverflowException)
        {
            string? saved = null;
            try
            {
                saved = Weights.SavedModel(SafeTensors.Load(s.Resume!));
            }
            catch (Exception inner) when (inner is InvalidDataException or IOException)
            {
                // Unreadable: the first error says why.
            }
            if (saved is not null && saved != s.Model)
                throw new CliException($"--resume: '{s.Resume}' is a checkpoint of model '{saved}', not '{s.Model}'; use --model {saved}");
            throw new CliException($"--resume: cannot restore '{s.Resume}': {CliRunner.OneLine(e)}");
        }
        if (epoch() >= s.Epochs)
            throw new CliException($"--resume: '{s.Resume}' has already trained {epoch()} epochs and --epochs is {s.Epochs}; " +
                                   $"ask for more epochs (e.g. --epochs {epoch() + 1}) to train further, or use deepsharp eval to evaluate it");
    }

    /// <summary>The history of the epochs before the resume: DIR/history.csv, else the one next to the checkpoint's run folder.</summary>
    private static IReadOnlyList<EpochLogs>? EarlierHistory(string resume, string outDir)
    {
        var runDir = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(resume)));
        foreach (var csv in new[] { Path.Combine(outDir, "history.csv"), runDir is null ? null : Path.Combine(runDir, "history.csv") })
        {
            if (csv is null || !File.Exists(csv)) continue;
            try
            {
                return MetricsLogger.ReadCsv(csv);
            }
            catch (InvalidDataException e)
            {
                throw new CliException($"--resume: the history of the earlier epochs, {e.Message}");
            }
        }
        return null;
    }

    /// <summary>
    /// After Ctrl-C: save a checkpoint of the state reached (mid-epoch included), say how to resume, exit 130.
    /// </summary>
    internal static int Interrupted(string outDir, OutputDirectory output, Action<string> save, int epoch, int batch)
    {
        string path = Path.Combine(outDir, "checkpoint", "last.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        save(path);
        output.Complete();
        string where = batch > 0 ? $"during epoch {epoch + 1} (after batch {batch})" : $"after epoch {epoch}";
        // Plain Console: a terminal soft-wraps these lines, so the command can be copied whole.
        Console.Out.WriteLine($"interrupted {where}; saved a checkpoint to resume from: {path}");
        Console.Out.WriteLine($"resume with: {CliRunner.CommandLineWith("--resume", path)}");
        Terminal.RestoreCursor();
        return Interruption.ExitCode;
    }
}
