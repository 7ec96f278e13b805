using System.Text;
using System.Text.Json;
using DeepSharp.Serialization;

namespace DeepSharp.Data.Text;

/// <summary>How a <see cref="Vocabulary"/> splits text into tokens.</summary>
public enum VocabularyKind
{
    /// <summary>One token per character (code point); <see cref="Vocabulary.FromCharacters"/>.</summary>
    Char,
    /// <summary>Whitespace-separated words, id 0 for unknown words; <see cref="Vocabulary.FromWords"/>.</summary>
    Word,
}

/// <summary>
/// A token &lt;-&gt; id table for characters or words, saved next to a model so text encodes the same
/// way at sampling time. A character is one Unicode code point (so an emoji is one token, not two
/// UTF-16 halves); word vocabularies reserve id 0 for "&lt;unk&gt;" (tokens never seen in training).
/// Loading checks all of it: a malformed file is an <see cref="InvalidDataException"/> naming the problem.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>The token "&lt;unk&gt;", id 0 of a word vocabulary, that stands for words not in it.</summary>
    public const string Unknown = "<unk>";
    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;

    private Vocabulary(VocabularyKind kind, string[] tokens)
    {
        Kind = kind;
        _tokens = tokens;
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++)
            if (!_ids.TryAdd(tokens[i], i)) throw new ArgumentException($"vocabulary: duplicate token '{tokens[i]}'");
    }

    /// <summary>Char (one token per character) or Word (whitespace-separated words); stored as "char" or "word".</summary>
    public VocabularyKind Kind { get; }

    /// <summary>Number of tokens (ids are 0..Count-1).</summary>
    public int Count => _tokens.Length;

    /// <summary>The tokens by id.</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>The distinct code points of <paramref name="text"/>, in code-point order (as Karpathy's char-rnn, per character).</summary>
    public static Vocabulary FromCharacters(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        CheckUtf16(text);
        var chars = text.EnumerateRunes().Distinct().Order().Select(r => r.ToString()).ToArray();
        if (chars.Length == 0) throw new ArgumentException("vocabulary: the text is empty");
        return new Vocabulary(VocabularyKind.Char, chars);
    }

    /// <summary>Whitespace-separated words seen at least <paramref name="minCount"/> times, most frequent first, after "&lt;unk&gt;".</summary>
    public static Vocabulary FromWords(string text, int minCount = 1, int? maxSize = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        CheckUtf16(text);
        var counts = SplitWords(text).Where(w => w != Unknown).GroupBy(w => w, StringComparer.Ordinal).Select(g => (Word: g.Key, Count: g.Count()))
            .Where(p => p.Count >= minCount).OrderByDescending(p => p.Count).ThenBy(p => p.Word, StringComparer.Ordinal).Select(p => p.Word);
        if (maxSize is int m) counts = counts.Take(Math.Max(m - 1, 0));
        return new Vocabulary(VocabularyKind.Word, [Unknown, .. counts]);
    }

    /// <summary>Splits <paramref name="text"/> into words at whitespace, as word vocabularies do.</summary>
    public static IEnumerable<string> SplitWords(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The id of <paramref name="token"/>; in a word vocabulary an unknown word maps to 0 (&lt;unk&gt;).</summary>
    /// <exception cref="KeyNotFoundException">A character vocabulary does not hold <paramref name="token"/>.</exception>
    public int this[string token] => _ids.TryGetValue(token, out int id) ? id
        : Kind == VocabularyKind.Word ? 0 : throw new KeyNotFoundException($"vocabulary: character '{token}' is not in the vocabulary");

    /// <summary>The token with id <paramref name="id"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside [0, Count).</exception>
    public string Token(long id) => (ulong)id < (ulong)_tokens.Length ? _tokens[id]
        : throw new ArgumentOutOfRangeException(nameof(id), $"vocabulary: id {id} is outside [0, {_tokens.Length})");

    /// <summary>Whether <paramref name="token"/> has an id of its own.</summary>
    public bool Contains(string token) => _ids.ContainsKey(token);

    /// <summary>Token ids of a text (one per code point for a char vocabulary); characters outside a char vocabulary are an error naming them.</summary>
    public long[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Kind == VocabularyKind.Word) return SplitWords(text).Select(w => (long)this[w]).ToArray();
        CheckUtf16(text);
        var ids = new List<long>(text.Length);
        int position = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            string c = rune.ToString();
            if (!_ids.TryGetValue(c, out int id))
                throw new ArgumentException($"vocabulary: character '{c}' (U+{rune.Value:X4}) at position {position} is not in the {Count}-character vocabulary");
            ids.Add(id);
            position += rune.Utf16SequenceLength;
        }
        return [.. ids];
    }

    /// <summary>Text of token ids: characters concatenated, or words joined by single spaces.</summary>
    public string Decode(IEnumerable<long> ids)
    {
        var sb = new StringBuilder();
        foreach (long id in ids)
        {
            if (Kind == VocabularyKind.Word && sb.Length > 0) sb.Append(' ');
            sb.Append(Token(id));
        }
        return sb.ToString();
    }

    /// <summary>The vocabulary as JSON (its kind and tokens), read back by <see cref="FromJson"/>.</summary>
    public string ToJson() => JsonSerializer.Serialize(new VocabularyFile(Kind == VocabularyKind.Word ? "word" : "char", _tokens), TextJson.Default.VocabularyFile);

    /// <summary>Reads what <see cref="ToJson"/> wrote; anything else is an <see cref="InvalidDataException"/>.</summary>
    public static Vocabulary FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(() => JsonDocument.Parse(json), "vocabulary");
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Reads a vocabulary written by <see cref="Save"/> (a UTF-8 byte-order mark is allowed).</summary>
    /// <exception cref="InvalidDataException">The file is not a valid vocabulary.</exception>
    public static Vocabulary Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int skip = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0; // a UTF-8 byte-order mark
        return Parse(bytes, skip, $"vocabulary '{path}'");
    }

    /// <summary>The UTF-8 JSON in <paramref name="utf8"/> from <paramref name="offset"/>; <paramref name="where"/> starts every error.</summary>
    internal static Vocabulary Parse(byte[] utf8, int offset, string where) =>
        Parse(() => JsonDocument.Parse(utf8.AsMemory(offset)), where);

    private static Vocabulary Parse(Func<JsonDocument> parse, string where)
    {
        JsonDocument doc;
        try { doc = parse(); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            try { return Validate(doc.RootElement, where); }
            catch (InvalidOperationException e)
            {
                // JsonDocument decodes strings lazily: invalid UTF-8 or an escaped lone surrogate fails here.
                throw new InvalidDataException($"{where}: a string is not valid Unicode (invalid UTF-8 or a lone surrogate): {e.Message}", e);
            }
        }
    }

    private static Vocabulary Validate(JsonElement root, string where)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: must be a JSON object with 'kind' and 'tokens', found {root.ValueKind}");
        JsonElement? kindElement = null, tokensElement = null;
        foreach (var p in root.EnumerateObject())
        {
            if (p.NameEquals("kind")) kindElement = kindElement is null ? p.Value : throw new InvalidDataException($"{where}: 'kind' appears twice");
            else if (p.NameEquals("tokens")) tokensElement = tokensElement is null ? p.Value : throw new InvalidDataException($"{where}: 'tokens' appears twice");
        }
        if (kindElement is not { } kindValue) throw new InvalidDataException($"{where}: no 'kind' (expected \"char\" or \"word\")");
        if (tokensElement is not { } tokensValue) throw new InvalidDataException($"{where}: no 'tokens'");
        if (kindValue.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{where}: 'kind' must be a string, found {kindValue.ValueKind}");
        string kind = kindValue.GetString()!;
        if (kind is not ("char" or "word")) throw new InvalidDataException($"{where}: unknown kind '{kind}' (expected \"char\" or \"word\")");
        if (tokensValue.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{where}: 'tokens' must be an array of strings, found {tokensValue.ValueKind}");
        var tokens = new string[tokensValue.GetArrayLength()];
        if (tokens.Length == 0) throw new InvalidDataException($"{where}: the {kind} vocabulary has no tokens");
        var seen = new HashSet<string>(tokens.Length, StringComparer.Ordinal);
        int i = 0;
        foreach (var t in tokensValue.EnumerateArray())
        {
            if (t.ValueKind == JsonValueKind.Null) throw new InvalidDataException($"{where}: token {i} is null");
            if (t.ValueKind != JsonValueKind.String) throw new InvalidDataException($"{where}: token {i} is {t.ValueKind}, expected a string");
            string token = t.GetString()!;
            if (token.Length == 0) throw new InvalidDataException($"{where}: token {i} is empty");
            if (kind == "char" && (Rune.DecodeFromUtf16(token, out _, out int used) != System.Buffers.OperationStatus.Done || used != token.Length))
                throw new InvalidDataException($"{where}: token {i} ('{token}') is not a single character (one Unicode code point), as a char vocabulary needs");
            if (kind == "word" && i == 0 && token != Unknown)
                throw new InvalidDataException($"{where}: token 0 of a word vocabulary must be '{Unknown}' (the id of unknown words), found '{token}'");
            if (kind == "word" && token.Any(char.IsWhiteSpace))
                throw new InvalidDataException($"{where}: word token {i} ('{token}') contains whitespace, so no text could ever produce it");
            if (!seen.Add(token)) throw new InvalidDataException($"{where}: duplicate token '{token}' (ids {Array.IndexOf(tokens, token)} and {i})");
            tokens[i++] = token;
        }
        return new Vocabulary(kind == "word" ? VocabularyKind.Word : VocabularyKind.Char, tokens);
    }

    /// <summary>Text must be valid UTF-16: a lone surrogate has no code point and could not be saved.</summary>
    private static void CheckUtf16(string text)
    {
        var span = text.AsSpan();
        for (int i = 0; i < span.Length;)
        {
            if (Rune.DecodeFromUtf16(span[i..], out _, out int used) != System.Buffers.OperationStatus.Done)
                throw new ArgumentException($"vocabulary: the text holds a lone surrogate U+{(int)span[i]:X4} at position {i} (not valid UTF-16)");
            i += used;
        }
    }
}

internal sealed record VocabularyFile(string Kind, string[] Tokens);

[System.Text.Json.Serialization.JsonSerializable(typeof(VocabularyFile))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class TextJson : System.Text.Json.Serialization.JsonSerializerContext;
