using DeepSharp.Data.Text;

namespace DeepSharp.Tests.Data.Text;

public sealed class TextDataTests
{
    [Fact]
    public void CharacterVocabularyRoundTripsTextAndJson()
    {
        var v = Vocabulary.FromCharacters("hello world");
        Assert.Equal(8, v.Count); // ' ', d, e, h, l, o, r, w
        Assert.Equal(" ", v.Token(0));
        var ids = v.Encode("world hello");
        Assert.Equal("world hello", v.Decode(ids));
        var copy = Vocabulary.FromJson(v.ToJson());
        Assert.Equal(v.Tokens, copy.Tokens);
        var ex = Assert.Throws<ArgumentException>(() => v.Encode("hi!"));
        Assert.Contains("'i'", ex.Message);
    }

    [Fact]
    public void WordVocabularyMapsUnknownWordsToUnk()
    {
        var v = Vocabulary.FromWords("the cat sat on the mat the end", minCount: 2);
        Assert.Equal(["<unk>", "the"], v.Tokens);
        Assert.Equal([1L, 0, 1], v.Encode("the dog the"));
        Assert.Equal("the <unk> the", v.Decode([1, 0, 1]));
    }

    [Fact]
    public void LanguageModelWindowsAreShiftedByOne()
    {
        long[] tokens = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        var ds = new LanguageModelDataset(tokens, 3);
        Assert.Equal(3, ds.Count);
        var (x, y) = ds.GetBatch([1, 2]);
        Assert.Equal([3L, 4, 5, 6, 7, 8], x.ToArray<long>());
        Assert.Equal([4L, 5, 6, 7, 8, 9], y.ToArray<long>());
    }

    [Fact]
    public void StreamBatchesContinueEachStreamAcrossBatches()
    {
        var tokens = Enumerable.Range(0, 21).Select(i => (long)i).ToArray();
        var s = new StreamBatches(tokens, batchSize: 2, sequenceLength: 3);
        Assert.Equal(10, s.StreamLength);
        Assert.Equal(3, s.Count);
        var (x0, y0) = s[0];
        var (x1, _) = s[1];
        Assert.Equal([0L, 1, 2, 10, 11, 12], x0.ToArray<long>());
        Assert.Equal([1L, 2, 3, 11, 12, 13], y0.ToArray<long>());
        Assert.Equal([3L, 4, 5, 13, 14, 15], x1.ToArray<long>());
    }

    [Fact]
    public void TinyShakespeareShipsInTheRepository()
    {
        var text = TinyShakespeare.Load();
        Assert.Equal(1_115_394, text.Length);
        Assert.StartsWith("First Citizen:", text);
        var (train, val) = TinyShakespeare.Split(text, 0.1);
        Assert.Equal(text.Length, train.Length + val.Length);
        Assert.Equal(65, Vocabulary.FromCharacters(text).Count);
    }
}
