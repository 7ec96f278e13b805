namespace DeepSharp.Dashboard;

/// <summary>One server-sent event: its position in the log (the SSE id), type and JSON data.</summary>
internal sealed record LoggedEvent(int Id, string Type, string Json);

/// <summary>
/// Every event of the run, in order, kept for the whole run so that a page opened (or reconnected) mid-run
/// catches up from the start. Appends come from the training thread; readers wait for the <c>Changed</c> task of <see cref="Since"/>.
/// </summary>
internal sealed class RunLog
{
    private readonly object _gate = new();
    private readonly List<LoggedEvent> _events = [];
    private TaskCompletionSource _changed = NewSignal();

    public void Append(string type, string json)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            _events.Add(new LoggedEvent(_events.Count, type, json));
            signal = _changed;
            _changed = NewSignal();
        }
        signal.SetResult();
    }

    /// <summary>The events from <paramref name="first"/> on, and a task that completes at the next append.</summary>
    public (List<LoggedEvent> Events, Task Changed) Since(int first)
    {
        lock (_gate)
        {
            first = Math.Clamp(first, 0, _events.Count);
            return (_events.GetRange(first, _events.Count - first), _changed.Task);
        }
    }

    public int Count
    {
        get
        {
            lock (_gate) return _events.Count;
        }
    }

    // Continuations run elsewhere: the training thread that appends never runs a page's writer.
    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
