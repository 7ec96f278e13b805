using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSharp.Serialization;

namespace DeepSharp.Training;

/// <summary>Writes the per-epoch logs as CSV and/or JSON after every epoch (atomically), for plots and reports.</summary>
public sealed class MetricsLogger(string? csvPath = null, string? jsonPath = null) : ICallback
{
    private readonly List<EpochLogs> _epochs = [];

    public void OnTrainBegin(Trainer trainer) => _epochs.Clear();

    public void OnEpochEnd(Trainer trainer, EpochLogs logs)
    {
        _epochs.Add(logs);
        var keys = _epochs.SelectMany(e => e.Keys).Distinct().ToList();
        if (csvPath is not null)
        {
            var sb = new StringBuilder("epoch," + string.Join(',', keys) + "\n");
            foreach (var e in _epochs)
                sb.Append(e.Epoch + 1).Append(',').AppendJoin(',', keys.Select(k => e.Get(k)?.ToString("R", CultureInfo.InvariantCulture) ?? "")).Append('\n');
            AtomicFile.WriteAllText(csvPath, sb.ToString());
        }
        if (jsonPath is not null)
        {
            var rows = _epochs.Select(e => new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 }).ToList();
            AtomicFile.WriteAllText(jsonPath, JsonSerializer.Serialize(rows, TrainingJson.Default.ListDictionaryStringDouble));
        }
    }
}
