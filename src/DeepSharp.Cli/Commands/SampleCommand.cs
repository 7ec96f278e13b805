using System.CommandLine;
using System.Globalization;
using DeepSharp.Cli.Support;
using DeepSharp.Models;
using DeepSharp.Serialization;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp sample --weights DIR_OR_FILE</c>: text from a trained language model (char-lstm, char-gru or gpt). The
/// weights file carries the model kind, sizes and vocabulary or tokenizer name in its metadata, so no --model is needed.
/// A gpt streams its text as it is generated (KV-cache decoding).
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = Weights.Help, Required = true };
        var length = new Option<int>("--length") { Description = "tokens to generate (characters for character models)", DefaultValueFactory = _ => 500 };
        var temperature = new Option<double>("--temperature") { Description = "softmax temperature: below 1 is more conservative, 0 is greedy", DefaultValueFactory = _ => 0.8 };
        var prime = new Option<string>("--prime") { Description = "text to start from (default: a newline)", DefaultValueFactory = _ => "" };
        var topK = new Option<int?>("--top-k") { Description = "sample only among the K most likely tokens" };
        var topP = new Option<double?>("--top-p") { Description = "sample only among the most likely tokens whose probabilities add up to P (nucleus sampling, 0 < P <= 1)" };
        var seed = new Option<ulong?>("--seed") { Description = "random seed (same seed, same text; default: a fresh seed, printed to stderr)" };
        var command = new Command("sample", "Generate text with a trained char-lstm, char-gru or gpt") { weights, length, temperature, prime, topK, topP, seed };
        command.SetAction(p => Run(p.GetValue(weights)!, p.GetValue(length), p.GetValue(temperature), p.GetValue(prime)!, p.GetValue(topK), p.GetValue(topP), p.GetValue(seed)));
        return command;
    }

    private static int Run(string weights, int length, double temperature, string prime, int? topK, double? topP, ulong? seed)
    {
        if (length < 0) throw new CliException($"--length must be non-negative, got {length}");
        if (!(temperature >= 0) || double.IsInfinity(temperature)) throw new CliException($"--temperature must be >= 0 (0 = greedy), got {temperature}");
        if (topK is int k && k <= 0) throw new CliException($"--top-k must be positive, got {k}");
        if (topP is double p && !(p > 0 && p <= 1)) throw new CliException($"--top-p must be in (0, 1], got {p.ToString(CultureInfo.InvariantCulture)}");
        string path = Weights.Resolve(weights);
        var options = new SamplingOptions(temperature, topK, topP);
        ulong s = seed ?? (ulong)Random.Shared.NextInt64();
        if (IsGpt(path)) return SampleGpt(path, length, prime, options, s, seed is null);
        if (topP is not null) throw new CliException("--top-p applies to gpt models; char-lstm and char-gru sample with --temperature and --top-k");
        CharRnn model;
        try
        {
            model = CharRnn.Load(path);
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"--weights: {e.Message}; sample generates text with {string.Join(" or ", ModelCatalog.LanguageModels)}");
        }
        var vocabulary = model.Vocabulary ?? throw new CliException($"--weights: '{path}' has no vocabulary (no 'vocabulary' metadata and no vocab.json beside it)");
        foreach (char c in prime)
            if (!vocabulary.Contains(c.ToString()))
                throw new CliException($"--prime: character '{c}' (U+{(int)c:X4}) is not in the model's {vocabulary.Count}-character vocabulary");
        if (seed is null) Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(seed {s})"));
        Console.WriteLine(model.Sample(prime, length, options, s));
        return 0;
    }

    private static bool IsGpt(string path)
    {
        try
        {
            return Weights.SavedModel(SafeTensors.Load(path)) == GptConfig.ModelName;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new CliException($"--weights: cannot read '{path}': {CliRunner.OneLine(e)}");
        }
    }

    private static int SampleGpt(string path, int length, string prime, SamplingOptions options, ulong seed, bool printSeed)
    {
        Gpt model;
        try
        {
            model = Gpt.Load(path, TextTokenizers.Resolve);
        }
        catch (InvalidDataException e)
        {
            throw new CliException($"--weights: {e.Message}");
        }
        if (model.Tokenizer is null) throw new CliException($"--weights: '{path}' names no tokenizer, so its tokens cannot be turned into text");
        try
        {
            if (prime.Length > 0) model.Tokenizer.Encode(prime);
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--prime: {CliRunner.OneLine(e)}");
        }
        if (printSeed) Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(seed {seed})"));
        Console.Write(prime);
        model.Sample(prime, length, options, seed, onText: piece =>
        {
            Console.Write(piece);
            Console.Out.Flush();
        });
        Console.WriteLine();
        return 0;
    }
}
