using System.Globalization;

namespace DeepSharp.Data;

/// <summary>How <see cref="CsvDataset"/> reads the label column.</summary>
public enum CsvTask
{
    /// <summary>Labels are class names (any text), mapped to int64 class ids.</summary>
    Classification,

    /// <summary>Labels are numbers, loaded as float32 targets.</summary>
    Regression,
}

/// <summary>Options for <see cref="CsvDataset"/>.</summary>
/// <param name="LabelColumn">The label column's header name, or its zero-based index as text when
/// there is no header; null means the last column.</param>
/// <param name="Task">How labels are read: class names to ids, or numbers.</param>
/// <param name="HasHeader">Whether the first non-blank line names the columns.</param>
/// <param name="Delimiter">Field separator.</param>
/// <param name="Classes">Fixed class names, in id order (pass the training set's <see cref="CsvDataset.Classes"/>
/// when loading a test split, so ids agree); by default, the distinct labels sorted (numerically if all are numbers).</param>
public sealed record CsvOptions(string? LabelColumn = null, CsvTask Task = CsvTask.Classification, bool HasHeader = true, char Delimiter = ',',
    IReadOnlyList<string>? Classes = null);

/// <summary>
/// A table of numeric features and one label column read from a CSV file: inputs [N, F] float32,
/// targets [N] int64 class ids (classification) or float32 values (regression). Every other column
/// is a feature and must be numeric. Blank lines are skipped; fields may be double-quoted. Any
/// malformed row is an error naming the file, the line number and the column.
/// Features are not normalised here: fit a <see cref="Standardizer"/> on the training split only.
/// </summary>
public sealed class CsvDataset : IBatchDataset
{
    private readonly string[] _featureNames;
    private readonly string[] _classes;

    private CsvDataset(string source, Tensor features, Tensor targets, string[] featureNames, string labelName, string[] classes)
    {
        Source = source;
        Features = features;
        Targets = targets;
        _featureNames = featureNames;
        LabelName = labelName;
        _classes = classes;
    }

    /// <summary>The path (or name) the rows were read from, as used in error messages.</summary>
    public string Source { get; }

    /// <summary>[N, F] float32.</summary>
    public Tensor Features { get; }

    /// <summary>[N] int64 class ids, or [N] float32 for regression.</summary>
    public Tensor Targets { get; }

    /// <summary>Names of the feature columns, in the order of <see cref="Features"/>' second dimension.</summary>
    public IReadOnlyList<string> FeatureNames => _featureNames;

    /// <summary>Name of the label column (its zero-based index as text when the file has no header).</summary>
    public string LabelName { get; }

    /// <summary>Class names by id (empty for regression).</summary>
    public IReadOnlyList<string> Classes => _classes;

    /// <inheritdoc/>
    public int Count => Features.Size(0);

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) Get(int index)
    {
        DatasetChecks.Index(index, Count, nameof(CsvDataset));
        return (Features[index], Targets[index]);
    }

    /// <inheritdoc/>
    public (Tensor Input, Tensor Target) GetBatch(ReadOnlySpan<int> indices)
    {
        var index = DatasetChecks.IndexTensor(indices, Count, nameof(CsvDataset));
        return (Features.IndexSelect(0, index), Targets.IndexSelect(0, index));
    }

    /// <summary>This dataset with features standardised by <paramref name="standardizer"/> (fit on the training split).</summary>
    public CsvDataset Normalize(Standardizer standardizer)
    {
        ArgumentNullException.ThrowIfNull(standardizer);
        return new CsvDataset(Source, standardizer.Apply(Features), Targets, _featureNames, LabelName, _classes);
    }

    /// <summary>Reads a CSV file (see <see cref="Parse"/> for the format and the errors).</summary>
    /// <param name="path">The file to read; its byte-order mark, if any, picks the encoding.</param>
    /// <param name="options">Label column, task, header and delimiter; defaults to <see cref="CsvOptions"/>' defaults.</param>
    /// <exception cref="InvalidDataException">A row is malformed (the message names the file, line and column).</exception>
    public static CsvDataset Load(string path, CsvOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var reader = new StreamReader(path, detectEncodingFromByteOrderMarks: true);
        return Parse(reader, path, options);
    }

    /// <summary>Parses CSV text; <paramref name="source"/> names it in errors.</summary>
    public static CsvDataset Parse(TextReader reader, string source = "csv", CsvOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        options ??= new CsvOptions();
        string where = $"CSV '{source}'";
        var rows = new List<(int Line, string[] Fields)>();
        string? line;
        int lineNumber = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            rows.Add((lineNumber, CsvLine.Split(line, options.Delimiter, where, lineNumber)));
        }
        if (rows.Count == 0) throw new InvalidDataException($"{where}: the file is empty (expected {(options.HasHeader ? "a header row and " : "")}data rows)");

        string[] names;
        int first;
        if (options.HasHeader)
        {
            names = rows[0].Fields;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int c = 0; c < names.Length; c++)
            {
                if (names[c].Length == 0) throw new InvalidDataException($"{where}, line {rows[0].Line}: header column {c} has no name");
                if (!seen.Add(names[c])) throw new InvalidDataException($"{where}, line {rows[0].Line}: header names column '{names[c]}' twice");
            }
            first = 1;
        }
        else
        {
            names = Enumerable.Range(0, rows[0].Fields.Length).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
            first = 0;
        }
        if (rows.Count == first) throw new InvalidDataException($"{where}: no data rows after the header on line {rows[0].Line}");
        if (names.Length < 2) throw new InvalidDataException($"{where}, line {rows[0].Line}: found {names.Length} column; need at least one feature column and a label column");

        int label = options.LabelColumn is null ? names.Length - 1 : Array.IndexOf(names, options.LabelColumn);
        if (label < 0)
            throw new ArgumentException($"{where}: no column named '{options.LabelColumn}' (columns: {string.Join(", ", names)}){(options.HasHeader ? "" : "; without a header, columns are named by their zero-based index")}");

        int n = rows.Count - first, f = names.Length - 1;
        var features = new float[(long)n * f];
        var labels = new string[n];
        var values = options.Task == CsvTask.Regression ? new float[n] : null;
        for (int r = 0; r < n; r++)
        {
            var (lineNo, fields) = rows[first + r];
            if (fields.Length != names.Length)
                throw new InvalidDataException($"{where}, line {lineNo}: expected {names.Length} columns{(options.HasHeader ? " (as in the header)" : " (as on the first row)")}, found {fields.Length}");
            int k = 0;
            for (int c = 0; c < fields.Length; c++)
            {
                if (c == label) continue;
                features[(long)r * f + k++] = ParseFloat32(fields[c], where, lineNo, names[c], options.HasHeader, r == 0 && !options.HasHeader);
            }
            labels[r] = fields[label];
            if (values is not null) values[r] = ParseFloat32(fields[label], where, lineNo, names[label], options.HasHeader, false);
            else if (labels[r].Length == 0) throw new InvalidDataException($"{where}, line {lineNo}: empty label in column '{names[label]}'");
        }

        var featureNames = names.Where((_, i) => i != label).ToArray();
        var x = Tensor.From(features, n, f);
        if (values is not null)
            return new CsvDataset(source, x, Tensor.From(values), featureNames, names[label], []);
        var classes = options.Classes?.ToArray() ?? DefaultClasses(labels);
        var ids = MapClasses(labels, classes, rows, first, where, names[label]);
        return new CsvDataset(source, x, Tensor.From(ids), featureNames, names[label], classes);
    }

    /// <summary>A float32 from a field: finite, and within float32's range (a double such as 1e39 would become infinity).</summary>
    private static float ParseFloat32(string text, string where, int line, string column, bool hasHeader, bool firstRowWithoutHeader)
    {
        if (text.Length == 0) throw new InvalidDataException($"{where}, line {line}, column '{column}': empty value (expected a number)");
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw new InvalidDataException($"{where}, line {line}, column '{column}': '{text}' is not a number{(firstRowWithoutHeader && !hasHeader ? " (does the file have a header? set HasHeader: true)" : "")}");
        if (!double.IsFinite(v)) throw new InvalidDataException($"{where}, line {line}, column '{column}': '{text}' is not a finite number");
        float f = (float)v;
        if (float.IsInfinity(f))
            throw new InvalidDataException($"{where}, line {line}, column '{column}': '{text}' is outside the float32 range (magnitude at most {float.MaxValue.ToString(CultureInfo.InvariantCulture)})");
        return f;
    }

    /// <summary>Distinct labels, sorted numerically when all are numbers (so "2" &lt; "10"), else ordinally.</summary>
    private static string[] DefaultClasses(string[] labels)
    {
        var distinct = labels.Distinct(StringComparer.Ordinal).ToArray();
        bool numeric = distinct.All(l => double.TryParse(l, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        return numeric
            ? distinct.OrderBy(l => double.Parse(l, NumberStyles.Float, CultureInfo.InvariantCulture)).ThenBy(l => l, StringComparer.Ordinal).ToArray()
            : distinct.OrderBy(l => l, StringComparer.Ordinal).ToArray();
    }

    private static long[] MapClasses(string[] labels, string[] classes, List<(int Line, string[] Fields)> rows, int first, string where, string column)
    {
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < classes.Length; i++)
            if (!ids.TryAdd(classes[i], i)) throw new ArgumentException($"{where}: class '{classes[i]}' appears twice in CsvOptions.Classes");
        var result = new long[labels.Length];
        for (int r = 0; r < labels.Length; r++)
        {
            if (!ids.TryGetValue(labels[r], out result[r]))
                throw new InvalidDataException($"{where}, line {rows[first + r].Line}, column '{column}': unknown class '{labels[r]}' (known classes: {string.Join(", ", classes)})");
        }
        return result;
    }
}

/// <summary>Splits one CSV line into trimmed fields; double quotes protect delimiters, "" is a literal quote.</summary>
internal static class CsvLine
{
    public static string[] Split(string line, char delimiter, string where, int lineNumber)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            while (i < line.Length && line[i] is ' ' or '\t' && line[i] != delimiter) i++;
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new InvalidDataException($"{where}, line {lineNumber}: unterminated quoted field in column {fields.Count}");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                while (i < line.Length && line[i] != delimiter)
                {
                    if (!char.IsWhiteSpace(line[i])) throw new InvalidDataException($"{where}, line {lineNumber}: unexpected '{line[i]}' after the closing quote in column {fields.Count}");
                    i++;
                }
                fields.Add(field.ToString());
            }
            else
            {
                int start = i;
                while (i < line.Length && line[i] != delimiter) i++;
                fields.Add(line[start..i].Trim());
            }
            if (i >= line.Length) break;
            i++; // skip the delimiter; a trailing one yields a final empty field
        }
        return [.. fields];
    }
}
