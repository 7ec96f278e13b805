using DeepSharp.Cli.Support;
using DeepSharp.Distributed;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>mpirun -np N deepsharp selfcheck --mpi</c>: checks the collectives data-parallel training relies on, across the
/// processes of a real MPI job (the answer to "does MPI work on this cluster?"). Each rank contributes values that
/// depend on its rank, so a rank left out, counted twice or misaligned shows as a wrong sum. Integer sums must be
/// exact; float sums within the rounding of N additions. Exits 1 on any wrong result.
/// </summary>
internal static class MpiCheck
{
    public static int Run()
    {
        var world = DistributedRun.Start(insist: true, threads: 1)!;
        return DistributedRun.Run(world, () =>
        {
            var checks = new (string Name, Func<Communicator, string?> Check)[]
            {
                ("allreduce int64 (exact)", AllreduceInt64),
                ("allreduce float32", c => AllreduceFloat(c, blocking: true)),
                ("allreduce float64", AllreduceDouble),
                ("iallreduce float32 with test and wait", c => AllreduceFloat(c, blocking: false)),
                ("allgather", Allgather),
                ("broadcast from the last rank", Broadcast),
            };
            int failures = 0;
            foreach (var (name, check) in checks)
            {
                string? error = check(world);
                world.Barrier();
                if (error is not null) failures++;
                // Every rank reports its failures; rank 0 also reports successes.
                if (error is not null || world.IsRoot) Console.WriteLine($"{(error is null ? "ok  " : "FAIL")}  rank {world.Rank}: {name}{(error is null ? "" : ": " + error)}");
            }
            long failed = world.Allgather(failures).Sum();
            if (world.IsRoot) Console.WriteLine(failed == 0 ? $"mpi selfcheck passed on {world.Size} processes" : $"mpi selfcheck FAILED: {failed} wrong result(s) over {world.Size} processes");
            return failed == 0 ? 0 : 1;
        });
    }

    private const int Count = 10_007; // not a multiple of anything MPI might split by

    private static string? AllreduceInt64(Communicator c)
    {
        // Values near 2^50: a float64 detour would lose the low bits.
        var x = new long[Count];
        for (int i = 0; i < Count; i++) x[i] = (1L << 50) + (c.Rank + 1) * 1_000_003L * i - c.Rank;
        c.AllreduceSum(x);
        long n = c.Size, ranks = n * (n + 1) / 2, rankSum = n * (n - 1) / 2;
        for (int i = 0; i < Count; i++)
        {
            long expected = n * (1L << 50) + ranks * 1_000_003L * i - rankSum;
            if (x[i] != expected) return $"element {i} is {x[i]}, expected {expected}";
        }
        return null;
    }

    private static float Value(int rank, int i) => MathF.Sin(i * 0.37f + rank * 1.3f) * (1 + rank);

    private static string? AllreduceFloat(Communicator c, bool blocking)
    {
        var x = new float[Count];
        for (int i = 0; i < Count; i++) x[i] = Value(c.Rank, i);
        if (blocking) c.AllreduceSum(x);
        else
        {
            var request = c.IallreduceSum(x.AsMemory());
            for (int spins = 0; spins < 100 && !request.Test(); spins++) Thread.Yield();
            request.Wait();
            if (!request.IsCompleted) return "Wait returned before the request completed";
        }
        for (int i = 0; i < Count; i++)
        {
            double expected = 0, magnitude = 0;
            for (int r = 0; r < c.Size; r++)
            {
                expected += Value(r, i);
                magnitude += Math.Abs(Value(r, i));
            }
            if (!(Math.Abs(x[i] - expected) <= c.Size * 1.2e-7 * magnitude)) return $"element {i} is {x[i]}, expected {expected} (float32 rounding of {c.Size} terms)";
        }
        return null;
    }

    private static string? AllreduceDouble(Communicator c)
    {
        var x = new double[Count];
        for (int i = 0; i < Count; i++) x[i] = Math.Exp(Math.Sin(i + c.Rank));
        c.AllreduceSum(x);
        for (int i = 0; i < Count; i++)
        {
            double expected = 0;
            for (int r = 0; r < c.Size; r++) expected += Math.Exp(Math.Sin(i + r));
            if (!(Math.Abs(x[i] - expected) <= c.Size * 2.3e-16 * expected)) return $"element {i} is {x[i]}, expected {expected}";
        }
        return null;
    }

    private static string? Allgather(Communicator c)
    {
        var all = c.Allgather(c.Rank * 10L + 1);
        for (int r = 0; r < c.Size; r++)
            if (all[r] != r * 10L + 1) return $"slot {r} holds {all[r]}, expected {r * 10L + 1}";
        return null;
    }

    private static string? Broadcast(Communicator c)
    {
        int root = c.Size - 1;
        var x = new double[Count];
        for (int i = 0; i < Count; i++) x[i] = c.Rank * 1e6 + i;
        c.Broadcast<double>(x, root);
        for (int i = 0; i < Count; i++)
            if (x[i] != root * 1e6 + i) return $"element {i} is {x[i]}, expected rank {root}'s {root * 1e6 + i}";
        return null;
    }
}
