using System.Diagnostics;
using System.Globalization;
using DeepSharp.Data;

namespace DeepSharp.Insight.TensorBoard;

/// <summary>
/// Writes TensorBoard event files, with the semantics of PyTorch's <c>torch.utils.tensorboard.SummaryWriter</c>:
/// one file <c>events.out.tfevents.TIME.HOST.PID.N</c> per writer in <see cref="LogDir"/>, starting with the
/// <c>brain.Event:2</c> version event; scalars as simple values, histograms as HistogramProto, images as PNG,
/// text as a string tensor for the text plugin. A wall time not given is the time of the call (seconds since
/// 1970). Events are buffered and flushed every <see cref="FlushInterval"/>, on <see cref="Flush"/> and on
/// <see cref="Dispose"/>. Thread-safe.
/// </summary>
public sealed class SummaryWriter : IDisposable
{
    /// <summary>The file_version of the first event, as TensorBoard expects.</summary>
    public const string FileVersion = "brain.Event:2";
    private static int s_counter;

    private readonly object _gate = new();
    private readonly FileStream _file;
    private readonly Stopwatch _sinceFlush = Stopwatch.StartNew();
    private readonly HashSet<string> _textTags = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <param name="logDir">Folder of the event file, created if missing (TensorBoard is pointed at it or a parent).</param>
    /// <param name="filenameSuffix">Appended to the file name, as in PyTorch.</param>
    public SummaryWriter(string logDir, string filenameSuffix = "")
    {
        ArgumentException.ThrowIfNullOrEmpty(logDir);
        LogDir = logDir;
        Directory.CreateDirectory(logDir);
        double now = Now();
        string name = string.Create(CultureInfo.InvariantCulture,
            $"events.out.tfevents.{(long)now:D10}.{Environment.MachineName}.{Environment.ProcessId}.{Interlocked.Increment(ref s_counter) - 1}{filenameSuffix}");
        FilePath = Path.Combine(logDir, name);
        _file = new FileStream(FilePath, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
        Write(new ProtoWriter().Double(1, now).String(3, FileVersion));
        Flush();
    }

    /// <summary>The folder the event file is in.</summary>
    public string LogDir { get; }

    /// <summary>The event file this writer appends to.</summary>
    public string FilePath { get; }

    /// <summary>Buffered events reach the file at least this often while events keep coming (PyTorch: 120 s).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A scalar (float32, as TensorBoard stores them) at a step.</summary>
    public void AddScalar(string tag, double value, long step = 0, double? wallTime = null) =>
        WriteValue(step, wallTime, Value(tag).Float(2, (float)value));

    /// <summary>
    /// A histogram of <paramref name="values"/> with <paramref name="bins"/> equal-width buckets between their minimum and maximum
    /// (non-finite values are left out of the buckets but not of the count, as NumPy's histogram would refuse them).
    /// </summary>
    public void AddHistogram(string tag, ReadOnlySpan<double> values, long step = 0, int bins = 64, double? wallTime = null)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), $"AddHistogram: bins must be at least 1, got {bins}");
        if (values.IsEmpty) throw new ArgumentException($"AddHistogram '{tag}': no values (TensorBoard cannot show an empty histogram)", nameof(values));
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0, squares = 0;
        foreach (double v in values)
        {
            if (!double.IsFinite(v)) continue;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            squares += v * v;
        }
        if (min > max) min = max = 0; // nothing finite
        var limits = new double[bins];
        var counts = new double[bins];
        double width = (max - min) / bins;
        for (int i = 0; i < bins; i++) limits[i] = i == bins - 1 ? max : min + width * (i + 1);
        foreach (double v in values)
        {
            if (!double.IsFinite(v)) continue;
            int b = width > 0 ? Math.Min((int)((v - min) / width), bins - 1) : bins - 1;
            counts[b]++;
        }
        var histogram = new ProtoWriter().Double(1, min).Double(2, max).Double(3, values.Length).Double(4, sum).Double(5, squares)
            .PackedDoubles(6, limits).PackedDoubles(7, counts);
        WriteValue(step, wallTime, Value(tag).Message(5, histogram));
    }

    /// <summary>A histogram of the elements of <paramref name="values"/> in <paramref name="bins"/> equal-width buckets (PyTorch's <c>add_histogram</c>).</summary>
    public void AddHistogram(string tag, Tensor values, long step = 0, int bins = 64, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        AddHistogram(tag, values.ToDoubleArray(), step, bins, wallTime);
    }

    /// <summary>An image, stored PNG-encoded (gray, RGB or RGBA).</summary>
    public void AddImage(string tag, Image image, long step = 0, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var encoded = new ProtoWriter().Int64(1, image.Height).Int64(2, image.Width).Int64(3, image.Channels).Bytes(4, Png.Encode(image));
        WriteValue(step, wallTime, Value(tag).Message(4, encoded));
    }

    /// <summary>An image from values in [0, 1]: [H, W] gray or [C, H, W] with C = 1, 3 or 4 (PyTorch's default layout).</summary>
    public void AddImage(string tag, Tensor values, long step = 0, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        var shape = values.ShapeArray;
        if (shape.Length == 2) shape = [1, shape[0], shape[1]];
        if (shape.Length != 3 || shape[0] is not (1 or 3 or 4))
            throw new ArgumentException($"AddImage '{tag}': expected [H, W] or [C, H, W] with 1, 3 or 4 channels, got {Shapes.Format(values.ShapeArray)}", nameof(values));
        int c = shape[0], h = shape[1], w = shape[2];
        var v = values.ToDoubleArray();
        var pixels = new byte[v.Length];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h * w; i++)
            {
                double x = v[ch * h * w + i];
                pixels[i * c + ch] = (byte)Math.Round(Math.Clamp(double.IsNaN(x) ? 0 : x, 0, 1) * 255);
            }
        AddImage(tag, new Image(w, h, c, pixels), step, wallTime);
    }

    /// <summary>Text (Markdown in TensorBoard's text tab).</summary>
    public void AddText(string tag, string text, long step = 0, double? wallTime = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var shape = new ProtoWriter().Message(2, new ProtoWriter().Int64(1, 1)); // TensorShapeProto { dim { size: 1 } }
        var tensor = new ProtoWriter().Int64(1, 7).Message(2, shape).String(8, text); // dtype DT_STRING = 7, string_val
        var value = Value(tag);
        bool first;
        lock (_gate) first = _textTags.Add(tag);
        if (first) value.Message(9, new ProtoWriter().Message(1, new ProtoWriter().String(1, "text"))); // SummaryMetadata { plugin_data { plugin_name } }
        WriteValue(step, wallTime, value.Message(8, tensor));
    }

    /// <summary>Writes buffered events to the file (and the operating system's cache).</summary>
    public void Flush()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _file.Flush();
            _sinceFlush.Restart();
        }
    }

    /// <summary>Flushes buffered events and closes the file.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _file.Flush();
            _file.Dispose();
            _disposed = true;
        }
    }

    private static ProtoWriter Value(string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        return new ProtoWriter().String(1, tag);
    }

    /// <summary>Event { wall_time = 1, step = 2, summary = 5 { value = 1 } }.</summary>
    private void WriteValue(long step, double? wallTime, ProtoWriter value)
    {
        var summary = new ProtoWriter().Message(1, value);
        Write(new ProtoWriter().Double(1, wallTime ?? Now()).Int64(2, step).Message(5, summary));
    }

    private void Write(ProtoWriter evt)
    {
        var data = evt.ToArray();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            TfRecord.Write(_file, data);
            if (_sinceFlush.Elapsed >= FlushInterval)
            {
                _file.Flush();
                _sinceFlush.Restart();
            }
        }
    }

    private static double Now() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / (double)TimeSpan.TicksPerSecond;
}
