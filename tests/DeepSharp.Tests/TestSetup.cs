using System.Runtime.CompilerServices;

namespace DeepSharp.Tests;

internal static class TestSetup
{
    /// <summary>
    /// Runs before any test: uninitialised and returned pool buffers are filled with NaN for the whole run, so
    /// a kernel that reads memory it never wrote (or a buffer already handed back) fails its test loudly.
    /// </summary>
#pragma warning disable CA2255 // a module initializer is exactly what a test assembly wants here
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void EnablePoolPoisoning() => PoolDiagnostics.Poison = true;
}
