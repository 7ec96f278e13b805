using System.Text;
using DeepSharp.Data.Text;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data.Text;

public sealed class VocabularyTests
{
    private static string Reject(string json)
    {
        var e = Record.Exception(() => Vocabulary.FromJson(json));
        Assert.True(e is InvalidDataException, $"expected InvalidDataException for {json}, got {e?.GetType().Name ?? "no exception"}: {e?.Message}");
        Assert.StartsWith("vocabulary", e!.Message);
        return e.Message;
    }

    [Fact]
    public void MalformedJsonIsInvalidDataNamingTheProblem()
    {
        Assert.Contains("'tokens' must be an array of strings, found Null", Reject("""{"kind":"char","tokens":null}"""));       // NullReferenceException
        Assert.Contains("token 1 is null", Reject("""{"kind":"char","tokens":["a",null]}"""));                                  // ArgumentNullException
        Assert.Contains("not valid JSON", Reject("""{"kind":"char","tokens":["a"]"""));                                         // JsonException
        Assert.Contains("not valid JSON", Reject(""));
        Assert.Contains("must be a JSON object", Reject("""["a","b"]"""));
        Assert.Contains("no 'kind'", Reject("""{"tokens":["a"]}"""));
        Assert.Contains("no 'tokens'", Reject("""{"kind":"char"}"""));
        Assert.Contains("'kind' must be a string", Reject("""{"kind":1,"tokens":["a"]}"""));
        Assert.Contains("unknown kind 'byte'", Reject("""{"kind":"byte","tokens":["a"]}"""));
        Assert.Contains("token 0 is Number", Reject("""{"kind":"char","tokens":[7]}"""));
        Assert.Contains("duplicate token 'a'", Reject("""{"kind":"char","tokens":["a","b","a"]}"""));                           // ArgumentException
        Assert.Contains("'tokens' appears twice", Reject("""{"kind":"char","tokens":["a"],"tokens":["b"]}"""));
        Assert.Contains("not valid Unicode", Reject("""{"kind":"word","tokens":["<unk>","\ud800"]}"""));
    }

    [Fact]
    public void CharacterVocabulariesHoldSingleCodePoints()
    {
        Assert.Contains("token 1 ('ab') is not a single character", Reject("""{"kind":"char","tokens":["a","ab"]}"""));
        Assert.Contains("token 0 is empty", Reject("""{"kind":"char","tokens":["","a"]}"""));
        // An emoji is one code point (two UTF-16 units): a valid character token.
        Assert.Equal(["a", "😀"], Vocabulary.FromJson("""{"kind":"char","tokens":["a","\ud83d\ude00"]}""").Tokens);
    }

    [Fact]
    public void WordVocabulariesStartWithUnkAndHoldWords()
    {
        Assert.Contains("token 0 of a word vocabulary must be '<unk>'", Reject("""{"kind":"word","tokens":["the","<unk>"]}"""));
        Assert.Contains("token 1 ('a b') contains whitespace", Reject("""{"kind":"word","tokens":["<unk>","a b"]}"""));
        Assert.Contains("token 1 is empty", Reject("""{"kind":"word","tokens":["<unk>",""]}"""));
        Assert.Equal(["<unk>", "the"], Vocabulary.FromJson("""{"kind":"word","tokens":["<unk>","the"]}""").Tokens);
    }

    [Fact]
    public void EmptyVocabulariesAreRejected()
    {
        Assert.Contains("has no tokens", Reject("""{"kind":"char","tokens":[]}"""));
        Assert.Contains("has no tokens", Reject("""{"kind":"word","tokens":[]}"""));
    }

    [Fact]
    public void EmojiSurviveBuildingEncodingSavingAndLoading()
    {
        // Before: one token per UTF-16 unit, so each emoji became two surrogate halves, saved as U+FFFD
        // twice: the file then held a duplicate token and could not be loaded again.
        const string Text = "hi 😀 👍🏽! 😀";
        var v = Vocabulary.FromCharacters(Text);
        Assert.Equal([" ", "!", "h", "i", "🏽", "👍", "😀"], v.Tokens); // code-point order: U+1F3FD, U+1F44D, U+1F600
        var ids = v.Encode(Text);
        Assert.Equal(Text.EnumerateRunes().Count(), ids.Length);
        Assert.Equal(Text, v.Decode(ids));

        using var dir = new TempDir();
        v.Save(dir.File("vocab.json"));
        var loaded = Vocabulary.Load(dir.File("vocab.json"));
        Assert.Equal(v.Tokens, loaded.Tokens);
        Assert.Equal(ids, loaded.Encode(Text));
        Assert.Equal(Text, loaded.Decode(ids));

        var e = Assert.Throws<ArgumentException>(() => v.Encode("hi 🙂"));
        Assert.Contains("'🙂' (U+1F642) at position 3", e.Message);
        Assert.Contains("lone surrogate", Assert.Throws<ArgumentException>(() => Vocabulary.FromCharacters("ab\ud83d")).Message);
    }

    [Fact]
    public void LoadReportsInvalidUtf8AndNamesTheFile()
    {
        using var dir = new TempDir();
        string path = dir.File("vocab.json");
        File.WriteAllBytes(path, [.. """{"kind":"char","tokens":["a","""u8, 0xFF, .. "\"]}"u8]);
        var e = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path));
        Assert.Contains(path, e.Message);
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("""{"kind":"char","tokens":["a"]}""")]); // a BOM is fine
        Assert.Equal(["a"], Vocabulary.Load(path).Tokens);
    }
}
