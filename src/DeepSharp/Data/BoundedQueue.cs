namespace DeepSharp.Data;

/// <summary>
/// A blocking FIFO of at most Capacity items between one producer and one consumer. Waits are plain
/// Monitor waits (no thread-pool continuations), so a busy pool can never stall the hand-off.
/// </summary>
internal sealed class BoundedQueue<T>(int capacity)
{
    private readonly Queue<T> _items = new(capacity);
    private readonly object _gate = new();
    private bool _completed;
    private bool _cancelled;

    /// <summary>Blocks while full; false if the queue was cancelled (the item is dropped).</summary>
    public bool TryAdd(T item)
    {
        lock (_gate)
        {
            while (_items.Count >= capacity && !_cancelled) Monitor.Wait(_gate);
            if (_cancelled) return false;
            _items.Enqueue(item);
            Monitor.PulseAll(_gate);
            return true;
        }
    }

    /// <summary>Blocks while empty; false once the producer completed and everything was taken, or on cancel.</summary>
    public bool TryTake(out T item)
    {
        lock (_gate)
        {
            while (_items.Count == 0 && !_completed && !_cancelled) Monitor.Wait(_gate);
            if (_items.Count > 0 && !_cancelled)
            {
                item = _items.Dequeue();
                Monitor.PulseAll(_gate);
                return true;
            }
            item = default!;
            return false;
        }
    }

    public bool IsCancelled
    {
        get { lock (_gate) return _cancelled; }
    }

    /// <summary>The producer is done; the consumer drains what is left.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Wakes both sides and drops queued items (the consumer went away).</summary>
    public void Cancel()
    {
        lock (_gate)
        {
            _cancelled = true;
            _items.Clear();
            Monitor.PulseAll(_gate);
        }
    }
}
