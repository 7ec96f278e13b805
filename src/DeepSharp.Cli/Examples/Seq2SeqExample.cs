using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;
using Spectre.Console;

namespace DeepSharp.Cli.Examples;

/// <summary>
/// Sequence-to-sequence with attention on a task generated in code: reverse a string of 5 to 12 digits.
/// A GRU encoder reads the digits, a GRU decoder with additive (Bahdanau) attention writes them backwards;
/// trained with teacher forcing until held-out exact-match accuracy passes 99% (or the step budget runs out),
/// then evaluated with greedy decoding on 1,000 held-out strings (never seen in training) and with beam search
/// on a subset, and one attention matrix is printed as a heat map: the anti-diagonal shows the decoder reading
/// the source from its end. Exits non-zero below 99%.
/// </summary>
internal static class Seq2SeqExample
{
    private const int Pad = 0, Bos = 1, Eos = 2, Digit0 = 3, Vocab = Digit0 + 10;
    private const int MinLength = 5, MaxLength = 12, BatchSize = 64, MaxSteps = 1500, CheckEvery = 250, HeldOut = 1000;
    private const double Target = 0.99;

    /// <summary>Time between progress lines between the held-out checks, so that a log never goes quiet for long.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(10);

    public static int Run(int seed) => Run(seed, AnsiConsole.Console, MaxSteps, ProgressInterval);

    /// <summary>
    /// The example on <paramref name="console"/>, with at most <paramref name="maxSteps"/> training steps, a progress line every
    /// <paramref name="progressInterval"/> and beam search on the first <paramref name="beamExamples"/> held-out strings.
    /// </summary>
    internal static int Run(int seed, IAnsiConsole console, int maxSteps, TimeSpan progressInterval, int beamExamples = 200)
    {
        var clock = Stopwatch.StartNew();
        var data = new Generator((ulong)seed + 1);
        var heldOut = Enumerable.Range(0, HeldOut).Select(_ => RandomDigits(data)).ToArray();
        var unseen = new HashSet<string>(heldOut.Select(Text), StringComparer.Ordinal);
        var model = new Seq2Seq(new Seq2SeqConfig(Vocab, Vocab, EmbeddingDim: 32, HiddenSize: 128, Cell: RecurrentCellType.Gru, Attention: Seq2SeqAttention.Additive,
            PadId: Pad, BosId: Bos, EosId: Eos), generator: new Generator((ulong)seed));
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 3e-3));
        var schedule = new CosineAnnealingLR(optimizer, MaxSteps); // decays per step: late steps settle instead of oscillating
        console.MarkupLine($"[bold]seq2seq with attention[/]: reverse digit strings of {MinLength}-{MaxLength} digits " +
                               $"(GRU encoder/decoder, 128 hidden, additive attention, {model.ParameterCount:N0} parameters; teacher forcing 1.0, Adam 3e-3 with cosine decay, batch {BatchSize})");

        double accuracy = 0, lossSum = 0;
        int step = 0;
        var lastLine = TimeSpan.Zero;
        while (step < maxSteps)
        {
            var batch = Enumerable.Range(0, BatchSize).Select(_ => TrainingDigits(data, unseen)).ToArray();
            var (source, lengths) = Sources(batch);
            var (input, target) = Targets(batch);
            optimizer.ZeroGrad();
            var logits = model.Forward(source, lengths, input, teacherForcingRatio: 1.0);
            var loss = Functional.CrossEntropy(logits.Reshape(-1, Vocab), target.Reshape(-1), ignoreIndex: Pad);
            loss.Backward();
            GradClipping.ClipGradNorm(model.Parameters(), 1.0);
            optimizer.Step();
            schedule.Step();
            lossSum += loss.ToDouble();
            step++;
            if (step % CheckEvery != 0)
            {
                if (clock.Elapsed - lastLine >= progressInterval)
                {
                    lastLine = clock.Elapsed;
                    console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"step {step,5}/{maxSteps}  loss {lossSum / (step % CheckEvery):F4}  {clock.Elapsed.TotalSeconds:F0}s (held-out check every {CheckEvery} steps)"));
                }
                continue;
            }
            accuracy = GreedyAccuracy(model, heldOut);
            lastLine = clock.Elapsed;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"step {step,5}/{maxSteps}  loss {lossSum / CheckEvery:F4}  held-out exact match {Training.ConsoleReporter.Percent(accuracy)}  {clock.Elapsed.TotalSeconds:F0}s"));
            lossSum = 0;
            if (accuracy >= 0.995) break;
        }

        var beamSubset = heldOut.Take(beamExamples).ToArray();
        int beamCorrect = beamSubset.Count(d => model.BeamSearch(Tensor.From(Tokens(d), d.Length), beamWidth: 3, maxLength: MaxLength + 1)[0].Tokens.SequenceEqual(Reversed(d)));
        var color = accuracy >= Target ? "green" : "red";
        console.MarkupLine($"held-out exact match (greedy, {HeldOut:N0} unseen strings): [{color}]{Training.ConsoleReporter.Percent(accuracy)}[/]; " +
                               $"beam search (width 3, first {beamSubset.Length}): {Training.ConsoleReporter.Percent((double)beamCorrect / beamSubset.Length)}; {step} steps, {clock.Elapsed.TotalSeconds:F1} s");

        var example = heldOut.First(d => d.Length >= 10);
        var result = model.Greedy(Tensor.From(Tokens(example), 1, example.Length), null, MaxLength + 1)[0];
        PrintHeatMap(console, example, result);
        return accuracy >= Target ? 0 : 1;
    }

    private static int[] RandomDigits(Generator g)
    {
        int length = MinLength + (int)(g.NextDouble() * (MaxLength - MinLength + 1));
        var digits = new int[length];
        for (int i = 0; i < length; i++) digits[i] = (int)(g.NextDouble() * 10);
        return digits;
    }

    /// <summary>A random string that is not in the held-out set.</summary>
    private static int[] TrainingDigits(Generator g, HashSet<string> heldOut)
    {
        while (true)
        {
            var d = RandomDigits(g);
            if (!heldOut.Contains(Text(d))) return d;
        }
    }

    private static string Text(int[] digits) => string.Concat(digits.Select(d => (char)('0' + d)));

    private static long[] Tokens(IEnumerable<int> digits) => digits.Select(d => (long)(Digit0 + d)).ToArray();

    private static long[] Reversed(int[] digits) => Tokens(digits.Reverse());

    /// <summary>Sources [B, longest] padded with PAD, and their lengths.</summary>
    private static (Tensor Source, int[] Lengths) Sources(int[][] batch)
    {
        int longest = batch.Max(d => d.Length);
        var source = new long[batch.Length * longest];
        for (int b = 0; b < batch.Length; b++) Tokens(batch[b]).CopyTo(source, b * longest);
        return (Tensor.From(source, batch.Length, longest), batch.Select(d => d.Length).ToArray());
    }

    /// <summary>Decoder inputs [BOS, reversed] and targets [reversed, EOS], [B, longest + 1], padded with PAD.</summary>
    private static (Tensor Input, Tensor Target) Targets(int[][] batch)
    {
        int steps = batch.Max(d => d.Length) + 1;
        var input = new long[batch.Length * steps];
        var target = new long[batch.Length * steps];
        for (int b = 0; b < batch.Length; b++)
        {
            var reversed = Reversed(batch[b]);
            input[b * steps] = Bos;
            reversed.CopyTo(input, b * steps + 1);
            reversed.CopyTo(target, b * steps);
            target[b * steps + reversed.Length] = Eos;
        }
        return (Tensor.From(input, batch.Length, steps), Tensor.From(target, batch.Length, steps));
    }

    private static double GreedyAccuracy(Seq2Seq model, int[][] examples)
    {
        int correct = 0;
        for (int start = 0; start < examples.Length; start += 250)
        {
            var chunk = examples.Skip(start).Take(250).ToArray();
            var (source, lengths) = Sources(chunk);
            var results = model.Greedy(source, lengths, MaxLength + 1);
            for (int i = 0; i < chunk.Length; i++) if (results[i].Tokens.SequenceEqual(Reversed(chunk[i]))) correct++;
        }
        return (double)correct / examples.Length;
    }

    /// <summary>Rows: output tokens (and EOS); columns: source digits; darker = more attention.</summary>
    private static void PrintHeatMap(IAnsiConsole console, int[] source, Seq2SeqResult result)
    {
        const string shades = " .:-=+*#%@";
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"attention while reversing {Text(source)} -> {string.Concat(result.Tokens.Select(t => (char)('0' + t - Digit0)))}\n");
        sb.Append("        source: ").Append(string.Join(" ", source.Select(d => d.ToString(CultureInfo.InvariantCulture)))).Append('\n');
        for (int i = 0; i < result.Attention.GetLength(0); i++)
        {
            string label = i < result.Tokens.Length ? ((char)('0' + result.Tokens[i] - Digit0)).ToString() : "<eos>";
            sb.Append(CultureInfo.InvariantCulture, $"  output {label,5}: ");
            for (int j = 0; j < source.Length; j++)
            {
                float w = result.Attention[i, j];
                sb.Append(shades[Math.Clamp((int)(w * (shades.Length - 1) + 0.5f), 0, shades.Length - 1)]).Append(' ');
            }
            sb.Append('\n');
        }
        sb.Append("  (shade = attention weight, ' ' = 0 ... '@' = 1)");
        console.WriteLine(sb.ToString());
    }
}
