using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.Models;

public sealed class Seq2SeqTests
{
    private const int Pad = 0, Bos = 1, Eos = 2, FirstSymbol = 3;

    /// <summary>A reversal batch: sources [B, maxLen] padded, decoder inputs [BOS, reversed], targets [reversed, EOS] padded with PAD.</summary>
    private static (Tensor Source, int[] Lengths, Tensor Input, Tensor Target, long[][] Reversed) Batch(int batch, int minLen, int maxLen, int symbols, Generator g)
    {
        var lengths = new int[batch];
        var src = new long[batch * maxLen];
        var input = new long[batch * (maxLen + 1)];
        var target = new long[batch * (maxLen + 1)];
        var reversed = new long[batch][];
        for (int b = 0; b < batch; b++)
        {
            int len = minLen + (int)(g.NextDouble() * (maxLen - minLen + 1));
            lengths[b] = len;
            var seq = new long[len];
            for (int i = 0; i < len; i++) seq[i] = FirstSymbol + (long)(g.NextDouble() * symbols);
            reversed[b] = seq.Reverse().ToArray();
            seq.CopyTo(src, b * maxLen);
            input[b * (maxLen + 1)] = Bos;
            for (int i = 0; i < len; i++)
            {
                input[b * (maxLen + 1) + i + 1] = reversed[b][i];
                target[b * (maxLen + 1) + i] = reversed[b][i];
            }
            target[b * (maxLen + 1) + len] = Eos;
        }
        return (Tensor.From(src, batch, maxLen), lengths, Tensor.From(input, batch, maxLen + 1), Tensor.From(target, batch, maxLen + 1), reversed);
    }

    private static Seq2Seq Train(Seq2SeqAttention attention, RecurrentCellType cell, int steps, ulong seed)
    {
        var model = new Seq2Seq(new Seq2SeqConfig(FirstSymbol + 5, FirstSymbol + 5, 16, 48, cell, attention), generator: new Generator(seed));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2));
        var g = new Generator(seed + 1);
        for (int step = 0; step < steps; step++)
        {
            var (src, lengths, input, target, _) = Batch(32, 3, 4, 5, g);
            optimizer.ZeroGrad();
            var logits = model.Forward(src, lengths, input);
            Functional.CrossEntropy(logits.Reshape(-1, FirstSymbol + 5), target.Reshape(-1), ignoreIndex: Pad).Backward();
            GradClipping.ClipGradNorm(model.Parameters(), 1.0);
            optimizer.Step();
        }
        return model;
    }

    [Theory]
    [InlineData(Seq2SeqAttention.Additive, RecurrentCellType.Gru)]
    [InlineData(Seq2SeqAttention.General, RecurrentCellType.Lstm)]
    public void LearnsToReverseShortSequences(Seq2SeqAttention attention, RecurrentCellType cell)
    {
        var model = Train(attention, cell, 250, 11);
        var (src, lengths, _, _, reversed) = Batch(100, 3, 4, 5, new Generator(777));
        var results = model.Greedy(src, lengths, 8);
        int correct = results.Where((r, i) => r.Tokens.SequenceEqual(reversed[i])).Count();
        Assert.True(correct >= 95, $"{attention}/{cell}: {correct}/100 held-out sequences reversed exactly");
        // The attention of output token i looks at source position len-1-i: the anti-diagonal.
        var r0 = results.Where((r, i) => r.Tokens.SequenceEqual(reversed[i]) && lengths[i] == 4).First();
        Assert.Equal(5, r0.Attention.GetLength(0)); // 4 tokens + EOS
        Assert.Equal(4, r0.Attention.GetLength(1));
        int peaked = 0;
        for (int i = 0; i < 4; i++)
        {
            int argmax = Enumerable.Range(0, 4).MaxBy(j => r0.Attention[i, j]);
            if (argmax == 3 - i) peaked++;
        }
        Assert.True(peaked >= 3, $"attention peaks on the mirrored position for {peaked}/4 output tokens");
    }

    [Fact]
    public void BeamSearchWithWidthOneEqualsGreedyAndWiderBeamsScoreAtLeastAsWell()
    {
        var model = Train(Seq2SeqAttention.Dot, RecurrentCellType.Gru, 60, 3); // half-trained: greedy is not always optimal
        var (src, lengths, _, _, _) = Batch(12, 3, 4, 5, new Generator(5));
        for (int b = 0; b < 12; b++)
        {
            var one = src[b].Narrow(0, 0, lengths[b]);
            var greedy = model.Greedy(one.Unsqueeze(0), null, 8)[0];
            var beam1 = model.BeamSearch(one, 1, 8, lengthPenalty: 0);
            Assert.Equal(greedy.Tokens, beam1[0].Tokens);
            if (beam1[0].Finished) Assert.Equal(greedy.LogProbability, beam1[0].LogProbability, 4);
            var beam4 = model.BeamSearch(one, 4, 8, lengthPenalty: 0);
            Assert.True(beam4.Count >= 1 && beam4.Count <= 4);
            Assert.True(beam4[0].Score >= beam1[0].Score - 1e-5, $"example {b}: beam 4 {beam4[0].Score} < beam 1 {beam1[0].Score}");
            for (int i = 1; i < beam4.Count; i++) Assert.True(beam4[i - 1].Score >= beam4[i].Score);
        }
    }

    [Fact]
    public void LengthNormalisationRanksByMeanLogProbability()
    {
        var model = Train(Seq2SeqAttention.Additive, RecurrentCellType.Gru, 20, 8);
        var beams = model.BeamSearch(Tensor.From(new long[] { 3, 4, 5 }), 3, 6, lengthPenalty: 1.0);
        foreach (var h in beams)
            Assert.Equal(h.LogProbability / (h.Tokens.Length + (h.Finished ? 1 : 0)), h.Score, 10);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.BeamSearch(Tensor.From(new long[] { 3 }), 0, 5));
    }

    [Fact]
    public void TeacherForcingRatioZeroFeedsTheModelsOwnPredictions()
    {
        var model = new Seq2Seq(new Seq2SeqConfig(8, 8, 8, 16), generator: new Generator(4));
        model.Eval();
        var (src, lengths, input, _, _) = Batch(4, 3, 4, 5, new Generator(6));
        var forced = model.Forward(src, lengths, input, 1.0);
        var free = model.Forward(src, lengths, input, 0.0);
        // Step 0 always starts from BOS; later steps differ once a prediction differs from the true token.
        Assert.Equal(forced.Select(1, 0).ToArray<float>(), free.Select(1, 0).ToArray<float>());
        Assert.NotEqual(forced.ToArray<float>(), free.ToArray<float>());
        // Free running equals greedy decoding.
        var greedy = model.Greedy(src, lengths, 5);
        var freeTokens = free.Argmax(2);
        for (int b = 0; b < 4; b++)
            for (int t = 0; t < greedy[b].Tokens.Length; t++) Assert.Equal(greedy[b].Tokens[t], freeTokens[b][t].Item<long>());
    }

    [Fact]
    public void PaddingNeverChangesTheResult()
    {
        var model = new Seq2Seq(new Seq2SeqConfig(8, 8, 8, 16, RecurrentCellType.Lstm, Seq2SeqAttention.General), generator: new Generator(2));
        var shortSrc = Tensor.From(new long[] { 3, 4, 5 }, 1, 3);
        var padded = Tensor.From(new long[] { 3, 4, 5, 0, 0 }, 1, 5);
        var a = model.Greedy(shortSrc, null, 6)[0];
        var b = model.Greedy(padded, [3], 6)[0];
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.LogProbability, b.LogProbability, 5);
        for (int i = 0; i < a.Attention.GetLength(0); i++)
        {
            Assert.Equal(0f, b.Attention[i, 3]);
            Assert.Equal(0f, b.Attention[i, 4]);
        }
    }

    [Fact]
    public void StateDictNamesAndErrors()
    {
        var additive = new Seq2Seq(new Seq2SeqConfig(10, 12, 4, 6));
        Assert.Equal(["encoder.embed.weight", "encoder.rnn.weight_ih_l0", "encoder.rnn.weight_hh_l0", "encoder.rnn.bias_ih_l0", "encoder.rnn.bias_hh_l0",
            "decoder.embed.weight", "decoder.cell.weight_ih", "decoder.cell.weight_hh", "decoder.cell.bias_ih", "decoder.cell.bias_hh",
            "decoder.attention.w_q.weight", "decoder.attention.w_k.weight", "decoder.attention.v.weight", "decoder.out.weight", "decoder.out.bias"],
            additive.StateDict().Keys);
        var luong = new Seq2Seq(new Seq2SeqConfig(10, 12, 4, 6, RecurrentCellType.Lstm, Seq2SeqAttention.General));
        Assert.Contains("decoder.combine.weight", luong.StateDict().Keys);
        Assert.Contains("decoder.attention.w.weight", luong.StateDict().Keys);
        Assert.Equal([24, 10], luong.StateDict()["decoder.cell.weight_ih"].Shape.ToArray()); // 4H x (E + H)
        Assert.Throws<ArgumentException>(() => new Seq2Seq(new Seq2SeqConfig(10, 2)));        // EOS id 2 outside the target vocabulary
        Assert.Throws<ArgumentException>(() => additive.Forward(Tensor.Zeros(2, 3), null, Tensor.Zeros([2, 2], DType.Int64)));
    }
}
