using System.Globalization;
using System.Text;
using System.Text.Json;
using DeepSharp.Serialization;

namespace DeepSharp.Training;

/// <summary>
/// Writes the per-epoch logs as CSV and/or JSON after every epoch (atomically), for plots and reports.
/// A resumed trainer (one that starts at epoch E &gt; 0) keeps the rows of epochs 1..E: from <see cref="Earlier"/>
/// when given, else read back from the CSV (or JSON) file this logger writes, so the files always hold the whole run.
/// </summary>
public sealed class MetricsLogger(string? csvPath = null, string? jsonPath = null) : ICallback
{
    private readonly List<EpochLogs> _epochs = [];

    /// <summary>The logs of the epochs before a resume (for example read with <see cref="ReadCsv"/> from another run folder).</summary>
    public IReadOnlyList<EpochLogs>? Earlier { get; init; }

    /// <summary>Every epoch of the run so far, earlier ones (before a resume) included.</summary>
    public IReadOnlyList<EpochLogs> Epochs => _epochs;

    /// <summary>Starts the list; a resumed trainer gets the earlier epochs' rows from <see cref="Earlier"/> or from the files.</summary>
    public void OnTrainBegin(Trainer trainer)
    {
        _epochs.Clear();
        if (trainer.Epoch == 0) return;
        var earlier = Earlier
            ?? (csvPath is not null && File.Exists(csvPath) ? ReadCsv(csvPath)
            : jsonPath is not null && File.Exists(jsonPath) ? ReadJson(jsonPath) : []);
        _epochs.AddRange(earlier.Where(e => e.Epoch < trainer.Epoch).OrderBy(e => e.Epoch));
    }

    /// <summary>Adds (or replaces) the epoch's row and rewrites the CSV and JSON files atomically.</summary>
    public void OnEpochEnd(Trainer trainer, EpochLogs logs)
    {
        _epochs.RemoveAll(e => e.Epoch == logs.Epoch);
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

    /// <summary>Reads a CSV this logger wrote: a header "epoch,key,...", then one row per epoch (1-based), empty cells for missing values.</summary>
    public static List<EpochLogs> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0) return [];
        var header = lines[0].Split(',');
        if (header[0] != "epoch") throw new InvalidDataException($"metrics log '{path}': the first column is '{header[0]}', expected 'epoch'");
        var result = new List<EpochLogs>();
        for (int i = 1; i < lines.Count; i++)
        {
            var cells = lines[i].Split(',');
            if (cells.Length != header.Length)
                throw new InvalidDataException($"metrics log '{path}', line {i + 1}: {cells.Length} values for {header.Length} columns");
            if (!int.TryParse(cells[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch) || epoch < 1)
                throw new InvalidDataException($"metrics log '{path}', line {i + 1}: epoch '{cells[0]}' is not a positive integer");
            var logs = new EpochLogs(epoch - 1);
            for (int k = 1; k < header.Length; k++)
            {
                if (cells[k].Length == 0) continue;
                if (!double.TryParse(cells[k], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new InvalidDataException($"metrics log '{path}', line {i + 1}: '{header[k]}' value '{cells[k]}' is not a number");
                logs[header[k]] = v;
            }
            result.Add(logs);
        }
        return result;
    }

    /// <summary>Reads a JSON log this logger wrote: a list of objects with an "epoch" (1-based) and the values.</summary>
    public static List<EpochLogs> ReadJson(string path)
    {
        List<Dictionary<string, double>>? rows;
        try
        {
            rows = JsonSerializer.Deserialize(File.ReadAllText(path), TrainingJson.Default.ListDictionaryStringDouble);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"metrics log '{path}': not a list of epoch rows ({e.Message})", e);
        }
        var result = new List<EpochLogs>();
        foreach (var row in rows ?? [])
        {
            if (!row.TryGetValue("epoch", out double epoch) || epoch < 1 || epoch != Math.Floor(epoch))
                throw new InvalidDataException($"metrics log '{path}': a row without a positive integer 'epoch'");
            var logs = new EpochLogs((int)epoch - 1);
            foreach (var (k, v) in row) if (k != "epoch") logs[k] = v;
            result.Add(logs);
        }
        return result;
    }
}
