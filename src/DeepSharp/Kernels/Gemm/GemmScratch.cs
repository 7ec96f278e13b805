using System.Runtime.InteropServices;

namespace DeepSharp.Kernels;

/// <summary>
/// Per-thread, 64-byte aligned native packing buffers that grow once and are reused, so GEMM allocates nothing
/// in steady state. Freed by the finalizer when the owning thread dies.
/// </summary>
internal sealed unsafe class GemmScratch
{
    [ThreadStatic] private static GemmScratch? t_current;

    private void* _a, _b, _v;
    private nuint _aBytes, _bBytes, _vBytes;

    public static GemmScratch Current => t_current ??= new GemmScratch();

    /// <summary>Buffer for this thread's packed A block.</summary>
    public void* A(nuint bytes) => Ensure(ref _a, ref _aBytes, bytes);

    /// <summary>Buffer for this thread's packed B panel.</summary>
    public void* B(nuint bytes) => Ensure(ref _b, ref _bBytes, bytes);

    /// <summary>Small vector buffer for the unpacked path (a gathered row or column).</summary>
    public void* Vec(nuint bytes) => Ensure(ref _v, ref _vBytes, bytes);

    private static void* Ensure(ref void* ptr, ref nuint size, nuint bytes)
    {
        if (bytes > size)
        {
            NativeMemory.AlignedFree(ptr);
            ptr = null;
            size = 0;
            // Round up so slightly larger requests later do not reallocate again.
            nuint rounded = (bytes + 65535) & ~(nuint)65535;
            ptr = NativeMemory.AlignedAlloc(rounded, 64);
            size = rounded;
        }
        return ptr;
    }

    ~GemmScratch()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_v);
    }
}
