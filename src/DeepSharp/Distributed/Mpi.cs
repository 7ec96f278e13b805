using System.Runtime.InteropServices;

namespace DeepSharp.Distributed;

/// <summary>
/// A thin binding to the system's Open MPI (libmpi.so.40, Debian's openmpi-bin 4.x), loaded at run time so that
/// the library works without MPI until distributed training is asked for. Calls go through unmanaged function
/// pointers resolved with <see cref="NativeLibrary"/>: no reflection, no generated marshalling (NativeAOT-safe).
/// <para>
/// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM...) are the addresses of global symbols such as
/// <c>ompi_mpi_comm_world</c>, read here with <see cref="NativeLibrary.GetExport"/>. MPICH and its derivatives
/// (Intel MPI, MVAPICH) use integer handles and a different library name; they are not supported.
/// </para>
/// Only the thread that called <see cref="Init"/> calls MPI (MPI_THREAD_FUNNELED): the worker pool never does.
/// </summary>
public static unsafe class Mpi
{
    private static readonly string[] LibraryNames = ["libmpi.so.40", "libmpi.so"];

    private static Api? s_api;
    private static readonly Lock s_lock = new();

    /// <summary>True when this process was started by an MPI launcher (mpirun/mpiexec, or srun with PMIx).</summary>
    public static bool LaunchedByMpi => LauncherWorldSize is not null;

    /// <summary>The number of processes the launcher started, read from its environment (null when there is no launcher).</summary>
    public static int? LauncherWorldSize
    {
        get
        {
            foreach (var name in (string[])["OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"])
                if (int.TryParse(Environment.GetEnvironmentVariable(name), out int size) && size > 0) return size;
            // PMIx launchers (srun --mpi=pmix) always set the rank, not always the size.
            return Environment.GetEnvironmentVariable("PMIX_RANK") is { Length: > 0 } ? 0 : null;
        }
    }

    /// <summary>True once <see cref="Init"/> ran in this process (MPI_Initialized).</summary>
    public static bool IsInitialized
    {
        get
        {
            if (s_api is not { } api) return false;
            int flag;
            api.Check(api.Initialized(&flag), "MPI_Initialized");
            return flag != 0;
        }
    }

    /// <summary>True once <see cref="Finalize"/> ran (MPI cannot be initialized again afterwards).</summary>
    public static bool IsFinalized
    {
        get
        {
            if (s_api is not { } api) return false;
            int flag;
            api.Check(api.Finalized(&flag), "MPI_Finalized");
            return flag != 0;
        }
    }

    /// <summary>
    /// Initializes MPI once per process (later calls return the same world) and returns MPI_COMM_WORLD.
    /// Throws when Open MPI is not installed; outside a launcher MPI starts a world of one process.
    /// </summary>
    public static Communicator Init()
    {
        lock (s_lock)
        {
            var api = Load();
            if (IsFinalized) throw new InvalidOperationException("MPI: Init after Finalize; MPI can be initialized only once per process");
            if (!IsInitialized)
            {
                int provided;
                api.Check(api.InitThread(null, null, ThreadFunneled, &provided), "MPI_Init_thread");
            }
            return new Communicator(api, api.CommWorld);
        }
    }

    /// <summary>Shuts MPI down (MPI_Finalize) if it was initialized; every rank must call it before exiting.</summary>
#pragma warning disable CS0465 // MPI's name; a static class has no destructor to be confused with
    public static void Finalize()
#pragma warning restore CS0465
    {
        lock (s_lock)
        {
            if (s_api is { } api && IsInitialized && !IsFinalized) api.Check(api.FinalizeMpi(), "MPI_Finalize");
        }
    }

    /// <summary>Ends every process of the job (MPI_Abort): what a rank does after a failure the others cannot see.</summary>
    public static void Abort(int errorCode)
    {
        if (s_api is { } api && IsInitialized && !IsFinalized) api.Abort(api.CommWorld, errorCode);
    }

    private const int ThreadFunneled = 1; // MPI_THREAD_FUNNELED in Open MPI's mpi.h

    private static Api Load()
    {
        if (s_api is not null) return s_api;
        nint handle = 0;
        foreach (var name in LibraryNames)
            if (NativeLibrary.TryLoad(name, out handle)) break;
        if (handle == 0)
            throw new DllNotFoundException("Open MPI not found (libmpi.so.40): apt-get install openmpi-bin (Debian/Ubuntu), or load your cluster's openmpi module");
        return s_api = new Api(handle);
    }

    /// <summary>The entry points and handles of one loaded libmpi.</summary>
    internal sealed class Api
    {
        public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
        public readonly delegate* unmanaged<int*, int> Initialized;
        public readonly delegate* unmanaged<int*, int> Finalized;
        public readonly delegate* unmanaged<int> FinalizeMpi;
        public readonly delegate* unmanaged<nint, int, int> Abort;
        public readonly delegate* unmanaged<nint, int*, int> CommRank;
        public readonly delegate* unmanaged<nint, int*, int> CommSize;
        public readonly delegate* unmanaged<nint, int> Barrier;
        public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
        public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
        public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int> Iallreduce;
        public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
        public readonly delegate* unmanaged<nint*, void*, int> Wait;
        public readonly delegate* unmanaged<nint*, int*, void*, int> Test;
        public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

        // Handles: addresses of Open MPI's predefined objects.
        public readonly nint CommWorld, Byte, Float, Double, Int64, OpSum;

        public Api(nint lib)
        {
            InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export(lib, "MPI_Init_thread");
            Initialized = (delegate* unmanaged<int*, int>)Export(lib, "MPI_Initialized");
            Finalized = (delegate* unmanaged<int*, int>)Export(lib, "MPI_Finalized");
            FinalizeMpi = (delegate* unmanaged<int>)Export(lib, "MPI_Finalize");
            Abort = (delegate* unmanaged<nint, int, int>)Export(lib, "MPI_Abort");
            CommRank = (delegate* unmanaged<nint, int*, int>)Export(lib, "MPI_Comm_rank");
            CommSize = (delegate* unmanaged<nint, int*, int>)Export(lib, "MPI_Comm_size");
            Barrier = (delegate* unmanaged<nint, int>)Export(lib, "MPI_Barrier");
            Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export(lib, "MPI_Bcast");
            Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export(lib, "MPI_Allreduce");
            Iallreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, nint*, int>)Export(lib, "MPI_Iallreduce");
            Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export(lib, "MPI_Allgather");
            Wait = (delegate* unmanaged<nint*, void*, int>)Export(lib, "MPI_Wait");
            Test = (delegate* unmanaged<nint*, int*, void*, int>)Export(lib, "MPI_Test");
            ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export(lib, "MPI_Error_string");
            CommWorld = Export(lib, "ompi_mpi_comm_world");
            Byte = Export(lib, "ompi_mpi_byte");
            Float = Export(lib, "ompi_mpi_float");
            Double = Export(lib, "ompi_mpi_double");
            Int64 = Export(lib, "ompi_mpi_int64_t");
            OpSum = Export(lib, "ompi_mpi_op_sum");
        }

        private static nint Export(nint lib, string name) =>
            NativeLibrary.TryGetExport(lib, name, out nint address) ? address
                : throw new EntryPointNotFoundException($"MPI: the loaded libmpi has no symbol '{name}'; DeepSharp needs Open MPI 4 or later (MPICH-based libraries are not supported)");

        /// <summary>Turns an MPI error code into an exception naming the call (MPI_SUCCESS is 0).</summary>
        public void Check(int code, string call)
        {
            if (code == 0) return;
            var text = stackalloc byte[512]; // MPI_MAX_ERROR_STRING is 256 in Open MPI
            int length = 0;
            string message = ErrorString(code, text, &length) == 0 ? System.Text.Encoding.UTF8.GetString(text, length) : $"error {code}";
            throw new InvalidOperationException($"{call} failed: {message}");
        }
    }
}
