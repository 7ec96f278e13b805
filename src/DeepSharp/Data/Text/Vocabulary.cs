using System.Text;
using System.Text.Json;
using DeepSharp.Serialization;

namespace DeepSharp.Data.Text;

/// <summary>
/// A token &lt;-&gt; id table for characters or words, saved next to a model so text encodes the same
/// way at sampling time. Word vocabularies reserve id 0 for "&lt;unk&gt;" (tokens never seen in training).
/// </summary>
public sealed class Vocabulary
{
    public const string Unknown = "<unk>";
    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;

    private Vocabulary(string kind, string[] tokens)
    {
        Kind = kind;
        _tokens = tokens;
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++)
            if (!_ids.TryAdd(tokens[i], i)) throw new ArgumentException($"vocabulary: duplicate token '{tokens[i]}'");
    }

    /// <summary>"char" or "word".</summary>
    public string Kind { get; }

    public int Count => _tokens.Length;

    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>The sorted distinct characters of <paramref name="text"/> (as Karpathy's char-rnn).</summary>
    public static Vocabulary FromCharacters(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var chars = text.Distinct().OrderBy(c => c).Select(c => c.ToString()).ToArray();
        if (chars.Length == 0) throw new ArgumentException("vocabulary: the text is empty");
        return new Vocabulary("char", chars);
    }

    /// <summary>Whitespace-separated words seen at least <paramref name="minCount"/> times, most frequent first, after "&lt;unk&gt;".</summary>
    public static Vocabulary FromWords(string text, int minCount = 1, int? maxSize = null)
    {
        var counts = SplitWords(text).GroupBy(w => w, StringComparer.Ordinal).Select(g => (Word: g.Key, Count: g.Count()))
            .Where(p => p.Count >= minCount).OrderByDescending(p => p.Count).ThenBy(p => p.Word, StringComparer.Ordinal).Select(p => p.Word);
        if (maxSize is int m) counts = counts.Take(Math.Max(m - 1, 0));
        return new Vocabulary("word", [Unknown, .. counts]);
    }

    public static IEnumerable<string> SplitWords(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    public int this[string token] => _ids.TryGetValue(token, out int id) ? id
        : Kind == "word" ? 0 : throw new KeyNotFoundException($"vocabulary: character '{token}' is not in the vocabulary");

    public string Token(long id) => (ulong)id < (ulong)_tokens.Length ? _tokens[id]
        : throw new ArgumentOutOfRangeException(nameof(id), $"vocabulary: id {id} is outside [0, {_tokens.Length})");

    public bool Contains(string token) => _ids.ContainsKey(token);

    /// <summary>Token ids of a text; characters outside a char vocabulary are an error naming them.</summary>
    public long[] Encode(string text)
    {
        if (Kind == "word") return SplitWords(text).Select(w => (long)this[w]).ToArray();
        var ids = new long[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!_ids.TryGetValue(text[i].ToString(), out int id))
                throw new ArgumentException($"vocabulary: character '{text[i]}' (U+{(int)text[i]:X4}) at position {i} is not in the {Count}-character vocabulary");
            ids[i] = id;
        }
        return ids;
    }

    public string Decode(IEnumerable<long> ids)
    {
        var sb = new StringBuilder();
        foreach (long id in ids)
        {
            if (Kind == "word" && sb.Length > 0) sb.Append(' ');
            sb.Append(Token(id));
        }
        return sb.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(new VocabularyFile(Kind, _tokens), TextJson.Default.VocabularyFile);

    public static Vocabulary FromJson(string json)
    {
        var file = JsonSerializer.Deserialize(json, TextJson.Default.VocabularyFile) ?? throw new InvalidDataException("vocabulary: empty JSON");
        if (file.Kind is not ("char" or "word")) throw new InvalidDataException($"vocabulary: unknown kind '{file.Kind}'");
        return new Vocabulary(file.Kind, file.Tokens);
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    public static Vocabulary Load(string path) => FromJson(File.ReadAllText(path));
}

internal sealed record VocabularyFile(string Kind, string[] Tokens);

[System.Text.Json.Serialization.JsonSerializable(typeof(VocabularyFile))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class TextJson : System.Text.Json.Serialization.JsonSerializerContext;
