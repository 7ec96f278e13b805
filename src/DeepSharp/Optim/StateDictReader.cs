namespace DeepSharp.Optim;

/// <summary>
/// Reads a tensors-only state dict, remembering which keys were used so that a dict from another
/// optimizer or scheduler (or with a typo) fails loudly instead of loading half.
/// </summary>
internal sealed class StateDictReader(string owner, IReadOnlyDictionary<string, Tensor> dict)
{
    private readonly HashSet<string> _used = [];

    public bool Has(string key) => dict.ContainsKey(key);

    public Tensor? TryGet(string key)
    {
        if (!dict.TryGetValue(key, out var t)) return null;
        _used.Add(key);
        return t;
    }

    public Tensor Get(string key) =>
        TryGet(key) ?? throw new KeyNotFoundException($"{owner}.LoadStateDict: missing key '{key}'");

    public double? TryDouble(string key) => TryGet(key) is { } t ? ScalarOf(key, t) : null;

    public double Double(string key) => ScalarOf(key, Get(key));

    public int Int(string key)
    {
        double v = Double(key);
        if (v != Math.Floor(v) || v < int.MinValue || v > int.MaxValue)
            throw new ArgumentException($"{owner}.LoadStateDict: '{key}' should be an integer, got {v}");
        return (int)v;
    }

    public bool Bool(string key) => Double(key) != 0;

    /// <summary>The values under key.0, key.1, ... key.{count-1}.</summary>
    public double[] Doubles(string key, int count)
    {
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = Double($"{key}.{i}");
        return values;
    }

    /// <summary>Throws if the dict has keys nobody asked for.</summary>
    public void EnsureAllUsed()
    {
        if (_used.Count == dict.Count) return;
        var unknown = dict.Keys.Where(k => !_used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        throw new ArgumentException($"{owner}.LoadStateDict: unexpected key(s) {string.Join(", ", unknown.Take(5).Select(k => $"'{k}'"))}" +
            (unknown.Count > 5 ? $" and {unknown.Count - 5} more" : "") + "; is this the state dict of another optimizer or scheduler?");
    }

    private double ScalarOf(string key, Tensor t)
    {
        if (t.Numel != 1) throw new ArgumentException($"{owner}.LoadStateDict: '{key}' should hold one value, got shape {Shapes.Format(t.Shape)}");
        return t.ToDouble();
    }

    /// <summary>A rank-0 float64 tensor: how state dicts store every number.</summary>
    public static Tensor Scalar(double value) => Tensor.Scalar(value, DType.Float64);
}
