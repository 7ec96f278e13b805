namespace DeepSharp.Cli.Support;

/// <summary>
/// Ctrl-C (SIGINT). While a command has work it can stop cleanly (a training run: finish the step, save a
/// resumable checkpoint), the first Ctrl-C asks it to stop through <see cref="Token"/> and the second stops the
/// process at once. Otherwise the first Ctrl-C stops at once. Stopping at once restores the terminal (the cursor a
/// progress bar hid) and exits with 130 (128 + SIGINT), the shell's convention for "interrupted".
/// </summary>
internal sealed class Interruption : IDisposable
{
    public const int ExitCode = 130;

    private readonly Action<int> _exit;
    private readonly TextWriter _error;
    private readonly object _gate = new();
    private CancellationTokenSource? _graceful;
    private bool _requested;
    private string _what = "";

    /// <param name="exit">Ends the process (Environment.Exit; replaced in tests).</param>
    /// <param name="error">Where the messages go (stderr).</param>
    public Interruption(Action<int> exit, TextWriter error)
    {
        _exit = exit;
        _error = error;
    }

    /// <summary>The process-wide instance, wired to Console.CancelKeyPress by <see cref="Install"/>.</summary>
    public static Interruption Current { get; } = new(Environment.Exit, Console.Error);

    /// <summary>Cancelled by the first Ctrl-C while a graceful stop is possible (<see cref="BeginGraceful"/>).</summary>
    public CancellationToken Token => _graceful?.Token ?? CancellationToken.None;

    public static void Install() => Console.CancelKeyPress += (_, e) =>
    {
        // The runtime would kill the process after this handler unless cancelled; we decide ourselves.
        e.Cancel = true;
        Current.Signal();
    };

    /// <summary>From here until the returned scope is disposed, the first Ctrl-C cancels <see cref="Token"/> instead of exiting.</summary>
    public IDisposable BeginGraceful(string what)
    {
        lock (_gate)
        {
            _graceful = new CancellationTokenSource();
            _requested = false;
            _what = what;
        }
        return new Scope(this);
    }

    /// <summary>One Ctrl-C: a graceful stop request the first time (when one is possible), an immediate exit otherwise.</summary>
    public void Signal()
    {
        CancellationTokenSource? graceful;
        lock (_gate)
        {
            graceful = _requested ? null : _graceful;
            _requested = true;
        }
        if (graceful is not null)
        {
            Write($"interrupted: finishing the current step of {_what}, then saving a checkpoint (press Ctrl-C again to stop at once)");
            graceful.Cancel();
            return;
        }
        Terminal.RestoreCursor();
        Write("interrupted: stopped at once");
        _exit(ExitCode);
    }

    private void Write(string message)
    {
        try
        {
            _error.WriteLine();
            _error.WriteLine($"deepsharp: {message}");
            _error.Flush();
        }
        catch (IOException)
        {
            // stderr is gone: the exit code still says what happened.
        }
    }

    public void Dispose() => End();

    private void End()
    {
        lock (_gate)
        {
            _graceful?.Dispose();
            _graceful = null;
        }
    }

    private sealed class Scope(Interruption owner) : IDisposable
    {
        public void Dispose() => owner.End();
    }
}
