using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Models;

public sealed class CharRnnTests
{
    private const string Text = "to be, or not to be: that is the question.\n";

    private static CharRnn Model(RecurrentCellType cell = RecurrentCellType.Lstm, int layers = 2, double dropout = 0, ulong seed = 1)
    {
        var vocabulary = Vocabulary.FromCharacters(Text);
        return new CharRnn(new CharRnnConfig(vocabulary.Count, cell, 8, 12, layers, dropout), generator: new Generator(seed)) { Vocabulary = vocabulary };
    }

    [Fact]
    public void StateDictUsesPyTorchNames()
    {
        var lstm = Model(RecurrentCellType.Lstm);
        Assert.Equal(["embed.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
            "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1", "head.weight", "head.bias"], lstm.StateDict().Keys);
        var v = lstm.Config.VocabSize;
        Assert.Equal([v, 8], lstm.StateDict()["embed.weight"].Shape.ToArray());
        Assert.Equal([48, 8], lstm.StateDict()["rnn.weight_ih_l0"].Shape.ToArray());
        Assert.Equal([48, 12], lstm.StateDict()["rnn.weight_ih_l1"].Shape.ToArray());
        Assert.Equal([v, 12], lstm.StateDict()["head.weight"].Shape.ToArray());
        Assert.Equal([36, 8], Model(RecurrentCellType.Gru).StateDict()["rnn.weight_ih_l0"].Shape.ToArray());
        Assert.Equal("char-gru", Model(RecurrentCellType.Gru).Config.ModelName);
        Assert.Equal(Model(RecurrentCellType.Lstm, dropout: 0.3).StateDict().Keys, lstm.StateDict().Keys); // dropout adds no state
    }

    [Theory]
    [InlineData(RecurrentCellType.Lstm)]
    [InlineData(RecurrentCellType.Gru)]
    public void ChunkedForwardWithCarriedStateEqualsOnePass(RecurrentCellType cell)
    {
        var model = Model(cell);
        var tokens = Tensor.Randint(0, model.Config.VocabSize, [3, 10], new Generator(2));
        var (whole, finalState) = model.Forward(tokens, null);
        Assert.Equal([3, 10, model.Config.VocabSize], whole.Shape.ToArray());
        var (first, state) = model.Forward(tokens.Narrow(1, 0, 6), null);
        var (second, state2) = model.Forward(tokens.Narrow(1, 6, 4), state.Detach());
        var joined = Tensor.Cat([first, second], 1).ToArray<float>();
        var expected = whole.ToArray<float>();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], joined[i], 5);
        Assert.Equal(finalState.H.ToArray<float>(), state2.H.ToArray<float>());
        Assert.Equal(cell == RecurrentCellType.Lstm, state2.C is not null);
        Assert.Equal(model.Forward(tokens).ToArray<float>(), expected); // the Module<Tensor, Tensor> forward starts from zeros
    }

    [Fact]
    public void BadInputsAndStatesNameTheProblem()
    {
        var model = Model();
        var ex = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(2, 3)));
        Assert.Contains("int64 tokens [batch, time]", ex.Message);
        var state = model.InitialState(4);
        ex = Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros([2, 3], DType.Int64), state));
        Assert.Contains("[2, 2, 12]", ex.Message);
        Assert.Throws<ArgumentException>(() => new CharRnn(new CharRnnConfig(10, (RecurrentCellType)2)));
    }

    [Fact]
    public void SamplingWithASeedIsReproducibleAndRestoresTrainingMode()
    {
        var model = Model(dropout: 0.5);
        string a = model.Sample("to be", 60, 1.0, seed: 7);
        string b = model.Sample("to be", 60, 1.0, seed: 7);
        string c = model.Sample("to be", 60, 1.0, seed: 8);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.StartsWith("to be", a);
        Assert.Equal(65, a.Length);
        Assert.True(model.Training);
        Assert.All(a, ch => Assert.Contains(ch, Text));
    }

    [Fact]
    public void GreedySamplingFollowsTheArgmaxOfAFullForwardPass()
    {
        var model = Model(RecurrentCellType.Gru);
        var prime = model.Vocabulary!.Encode("not");
        var generated = model.SampleTokens(prime, 12, new SamplingOptions(Temperature: 0), new Generator(1));
        Assert.Equal(generated, model.SampleTokens(prime, 12, new SamplingOptions(Temperature: 0), new Generator(99))); // no randomness
        // Each greedy token is the argmax of the logits of a full pass over prime + tokens so far.
        var sequence = prime.ToList();
        foreach (long token in generated)
        {
            model.Eval();
            var logits = model.Forward(Tensor.From(sequence.ToArray(), 1, sequence.Count));
            model.Train();
            Assert.Equal(Sampling.Argmax(Sampling.Row(logits[0][sequence.Count - 1])), token);
            sequence.Add(token);
        }
    }

    [Fact]
    public void EmptyPrimeStartsFromANewline()
    {
        var model = Model();
        string text = model.Sample("", 20, 0.5, seed: 3);
        Assert.Equal(20, text.Length);
        Assert.Throws<ArgumentException>(() => model.SampleTokens([], 5, null, new Generator(1)));
        Assert.Throws<InvalidOperationException>(() => new CharRnn(new CharRnnConfig(5)).Sample("a", 3));
        Assert.Throws<ArgumentException>(() => model.Sample("XYZ", 3)); // characters outside the vocabulary
    }

    [Fact]
    public void SaveAndLoadRoundTripConfigurationWeightsAndVocabulary()
    {
        var model = Model(RecurrentCellType.Gru, layers: 1, dropout: 0.25);
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        model.Save(path);
        var loaded = CharRnn.Load(path);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal(model.Vocabulary!.Tokens, loaded.Vocabulary!.Tokens);
        Assert.Equal("char-gru", DeepSharp.Serialization.SafeTensors.Load(path).Metadata["model"]);
        Assert.Equal(model.Sample("the", 30, 0.7, topK: 5, seed: 1), loaded.Sample("the", 30, 0.7, topK: 5, seed: 1));

        // A bare state dict finds its configuration and vocabulary in sibling JSON files.
        var bare = dir.File("bare.safetensors");
        DeepSharp.Serialization.SafeTensors.Save(bare, model.StateDict());
        Assert.Throws<InvalidDataException>(() => CharRnn.Load(bare));
        File.WriteAllText(dir.File("char_rnn.json"), model.Config.ToJson());
        model.Vocabulary.Save(dir.File("vocab.json"));
        Assert.Equal(model.Vocabulary.Tokens, CharRnn.Load(bare).Vocabulary!.Tokens);
    }
}
