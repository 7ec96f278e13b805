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

/// <summary>
/// The buffer pool's stress mode: until disposed, every rent on this thread first runs a full collection and
/// waits for finalizers, so any storage that has become unreachable is returned (and poisoned) before the rent.
/// A kernel still reading such a storage's array through a span then sees the poison deterministically. Slow.
/// </summary>
internal static class PoolStress
{
    public static bool Active => PoolDiagnostics.BeforeRent is not null;

    public static Scope CollectOnEveryRent()
    {
        var previous = PoolDiagnostics.BeforeRent;
        PoolDiagnostics.BeforeRent = static () =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        };
        return new Scope(previous);
    }

    public readonly struct Scope(Action? previous) : IDisposable
    {
        public void Dispose() => PoolDiagnostics.BeforeRent = previous;
    }
}
