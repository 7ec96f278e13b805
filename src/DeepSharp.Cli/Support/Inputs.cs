using DeepSharp.Data;
using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Cli.Support;

/// <summary>A dataset chosen with --data, split into train, validation and test.</summary>
internal sealed record DataChoice(string Name, IDataset Train, IDataset Validation, IDataset Test, int Features, int Classes, IReadOnlyList<string> ClassNames);

internal static class Inputs
{
    public const string DataHelp = "fashion-mnist (default), mnist, or csv:PATH (numeric columns, label in the last column or --label); for char-lstm/char-gru: tinyshakespeare (default) or text:PATH";

    /// <summary>
    /// Loads --data. Image datasets keep their official test split and hold out 5,000 training images
    /// (chosen with the seed) for validation; CSV files are split 70/15/15.
    /// </summary>
    public static DataChoice Load(string spec, string? dataDir, int seed, string? labelColumn = null, bool validation = true)
    {
        var options = new MnistOptions(Directory: dataDir);
        switch (spec)
        {
            case "fashion-mnist":
            case "mnist":
            {
                bool fashion = spec == "fashion-mnist";
                var train = fashion ? FashionMnist.Train(options) : Mnist.Train(options);
                var test = fashion ? FashionMnist.Test(options) : Mnist.Test(options);
                var classes = fashion ? FashionMnist.Classes : Mnist.Classes;
                if (!validation) return new DataChoice(spec, train, test, test, 784, 10, classes);
                var parts = Datasets.RandomSplit(train, [train.Count - 5000, 5000], new Generator((ulong)seed + 7));
                return new DataChoice(spec, parts[0], parts[1], test, 784, 10, classes);
            }
            default:
                if (!spec.StartsWith("csv:", StringComparison.Ordinal))
                    throw new CliException($"unknown --data '{spec}'; expected {DataHelp}");
                var path = spec[4..];
                if (!File.Exists(path)) throw new CliException($"--data: CSV file '{path}' not found");
                var all = CsvDataset.Load(path, new CsvOptions(LabelColumn: labelColumn));
                var split = Datasets.RandomSplit(all, [0.7, 0.15, 0.15], new Generator((ulong)seed + 7));
                return new DataChoice(spec, split[0], split[1], split[2], all.Features.Size(1), Math.Max(all.Classes.Count, 1), all.Classes);
        }
    }

    public static string ModelHelp => "model: " + string.Join(", ", ModelZoo.Names.Keys) + ", char-lstm, char-gru (character language models)";

    public static Module<Tensor, Tensor> CreateModel(string name, DataChoice? data, Generator? generator = null)
    {
        if (!ModelZoo.Names.ContainsKey(name)) throw new CliException($"unknown --model '{name}'; available: {string.Join(", ", ModelZoo.Names.Keys)}");
        var options = new ModelOptions(InputFeatures: data?.Features ?? 784, NumClasses: data?.Classes ?? 10, Generator: generator);
        return ModelZoo.Create(name, options);
    }
}
