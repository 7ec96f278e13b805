using System.CommandLine;
using System.Globalization;
using DeepSharp.Cli.Support;
using DeepSharp.Models;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp sample --weights DIR_OR_FILE</c>: text from a trained character model. The weights file carries
/// the model kind, sizes and vocabulary in its metadata, so no --model is needed.
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = Weights.Help, Required = true };
        var length = new Option<int>("--length") { Description = "characters to generate", DefaultValueFactory = _ => 500 };
        var temperature = new Option<double>("--temperature") { Description = "softmax temperature: below 1 is more conservative, 0 is greedy", DefaultValueFactory = _ => 0.8 };
        var prime = new Option<string>("--prime") { Description = "text to start from (default: a newline)", DefaultValueFactory = _ => "" };
        var topK = new Option<int?>("--top-k") { Description = "sample only among the K most likely characters" };
        var seed = new Option<ulong?>("--seed") { Description = "random seed (same seed, same text; default: a fresh seed, printed to stderr)" };
        var command = new Command("sample", "Generate text with a trained char-lstm or char-gru") { weights, length, temperature, prime, topK, seed };
        command.SetAction(p => Run(p.GetValue(weights)!, p.GetValue(length), p.GetValue(temperature), p.GetValue(prime)!, p.GetValue(topK), p.GetValue(seed)));
        return command;
    }

    private static int Run(string weights, int length, double temperature, string prime, int? topK, ulong? seed)
    {
        if (length < 0) throw new CliException($"--length must be non-negative, got {length}");
        if (!(temperature >= 0) || double.IsInfinity(temperature)) throw new CliException($"--temperature must be >= 0 (0 = greedy), got {temperature}");
        if (topK is int k && k <= 0) throw new CliException($"--top-k must be positive, got {k}");
        string path = Weights.Resolve(weights);
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
        ulong s = seed ?? (ulong)Random.Shared.NextInt64();
        if (seed is null) Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(seed {s})"));
        Console.WriteLine(model.Sample(prime, length, new SamplingOptions(temperature, topK), s));
        return 0;
    }
}
