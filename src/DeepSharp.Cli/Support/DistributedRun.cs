using DeepSharp.Distributed;
using DeepSharp.NN;
using DeepSharp.Training;

namespace DeepSharp.Cli.Support;

/// <summary>
/// A command started by an MPI launcher (<c>mpirun -np N deepsharp train ...</c>): MPI is initialized, each process
/// gets its share of the cores unless --threads says otherwise, and a failure on one rank ends the whole job
/// (MPI_Abort) instead of leaving the others waiting in a collective forever.
/// </summary>
internal static class DistributedRun
{
    /// <summary>The world to train in, or null for a single-process run; --distributed insists on a launcher.</summary>
    public static Communicator? Start(bool insist, int? threads)
    {
        if (!Mpi.LaunchedByMpi)
        {
            if (insist) throw new CliException("--distributed: this process was not started by an MPI launcher; run it as: mpirun -np 2 deepsharp train ... (or srun on Slurm)");
            return null;
        }
        Communicator world;
        try
        {
            world = Mpi.Init();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            throw new CliException(CliRunner.OneLine(e));
        }
        // Processes on one machine share its cores: by default each takes cores / local processes.
        if (threads is null && int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int local) && local > 1)
            Compute.Threads = Math.Max(1, Environment.ProcessorCount / local);
        return world;
    }

    /// <summary>Runs <paramref name="body"/> on every rank; an exception on one rank is printed with its rank and aborts the job.</summary>
    public static int Run(Communicator world, Func<int> body)
    {
        int code;
        try
        {
            code = body();
        }
        catch (Exception e)
        {
            Terminal.RestoreCursor();
            Console.Error.WriteLine($"deepsharp: rank {world.Rank} of {world.Size}: {CliRunner.Explanation(e)}; stopping every rank");
            Console.Error.Flush();
            Mpi.Abort(1);
            throw;
        }
        Mpi.Finalize();
        return code;
    }

    /// <summary>
    /// The gradient averaging of one rank: buckets of <paramref name="bucketMb"/> MiB (--bucket-mb), and Generator.Default
    /// plus <paramref name="dropout"/> reseeded before every step from (seed, rank, step), so that ranks drop different
    /// units and a checkpoint resumes at any world size without per-rank generator states.
    /// </summary>
    public static DataParallel Create(Module model, Communicator world, double bucketMb, int seed, Generator? dropout = null) =>
        new(model, world, Math.Max(sizeof(float), (long)(bucketMb * (1 << 20))))
        {
            Seed = (ulong)seed,
            RankGenerators = dropout is null || dropout == Generator.Default ? [Generator.Default] : [Generator.Default, dropout],
        };

    /// <summary>Rank 0's line on how the job shares a step.</summary>
    public static void Describe(Communicator world, DataParallel dp, int batchSize, int stepsPerEpoch, string unit = "")
    {
        if (!world.IsRoot) return;
        // Plain Console: one line however narrow the terminal, for logs and scripts.
        Console.Out.WriteLine($"data-parallel over {world.Size} processes: global batch {world.Size * batchSize}{unit}, {stepsPerEpoch:N0} steps per epoch, " +
                              $"{dp.GradientBytesPerStep / 1024.0:N0} KiB of gradients in {dp.Buckets} allreduce(s) of at most {dp.BucketBytes / 1024.0:N0} KiB per step");
    }
}

/// <summary>
/// The compute/communication split of a data-parallel run (rank 0's figures): printed when training ends, over every
/// step and over the steps after a warm-up (the JIT compiles the first steps): the first epoch, or the first
/// <see cref="WarmupSteps"/> steps of a run that ends within its first epoch.
/// </summary>
internal sealed class CommunicationMonitor(DataParallel dp) : ITrainingMonitor
{
    public const int WarmupSteps = 20;

    private DataParallelStatistics? _afterWarmup, _afterFirstEpoch;

    public void StepEnd(in StepMetrics step)
    {
        if (dp.Statistics.Steps == WarmupSteps) _afterWarmup = dp.Statistics;
    }

    public void EpochEnd(long step, EpochLogs logs) => _afterFirstEpoch ??= dp.Statistics;

    public void Print()
    {
        var all = dp.Statistics;
        if (all.Steps == 0) return;
        // Plain Console: one line however narrow the terminal, for logs and scripts.
        Console.Out.WriteLine($"communication (rank 0), {all}");
        var (since, after) = _afterFirstEpoch is not null ? (_afterFirstEpoch, "the first epoch") : (_afterWarmup, $"the first {WarmupSteps} steps");
        if (since is not null && all.Steps > since.Steps) Console.Out.WriteLine($"communication (rank 0) after {after}, {all - since}");
    }
}

/// <summary>
/// Test hook (hidden option --stop-after-steps N): after optimizer step N training stops as after a Ctrl-C, saving a
/// checkpoint of the position reached (mid-epoch included). Every rank of a data-parallel job counts the same steps,
/// so all stop together, which a signal cannot guarantee.
/// </summary>
internal sealed class StopAfterSteps(long steps) : ITrainingMonitor, IDisposable
{
    private readonly CancellationTokenSource _stop = new();

    public CancellationToken Token => _stop.Token;

    public void StepEnd(in StepMetrics step)
    {
        if (step.Step >= steps) _stop.Cancel();
    }

    public void Dispose() => _stop.Dispose();
}
