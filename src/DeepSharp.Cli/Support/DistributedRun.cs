using DeepSharp.Distributed;

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
}
