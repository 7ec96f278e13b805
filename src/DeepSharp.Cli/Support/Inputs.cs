using DeepSharp.Data;

namespace DeepSharp.Cli.Support;

/// <summary>
/// A dataset chosen with --data, split into train, validation and test: images of Channels x ImageSize x ImageSize
/// (Features values when flattened), or a table of Features values per row (Channels and ImageSize 0).
/// </summary>
internal sealed record DataChoice(string Name, IDataset Train, IDataset Validation, IDataset Test, int Features, int Classes, IReadOnlyList<string> ClassNames,
    int Channels = 1, int ImageSize = 28)
{
    /// <summary>Whether the examples are images [Channels, ImageSize, ImageSize] (else flat rows of <see cref="Features"/> values).</summary>
    public bool IsImage => Channels > 0;

    /// <summary>"1x28x28 images" or "rows of 12 features", for messages.</summary>
    public string ShapeText => IsImage ? $"{Channels}x{ImageSize}x{ImageSize} images" : $"rows of {Features} features";
}

internal static class Inputs
{
    public const string DataHelp = "fashion-mnist (default), mnist, csv:PATH (numeric columns, label in the last column or --label; S*S columns are read as SxS gray images), or images:DIR (a folder per class of JPEG/PNG/BMP/GIF images); for char-lstm/char-gru: tinyshakespeare (default) or text:PATH";

    /// <summary>Side of the square RGB images made from an images:DIR folder unless --image-size says otherwise.</summary>
    public const int DefaultImageSize = 32;

    private static readonly string[] s_trainFiles = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"];
    private static readonly string[] s_testFiles = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>
    /// Loads --data. Image datasets keep their official test split and hold out 5,000 training images
    /// (chosen with the seed) for validation; CSV files are split 70/15/15. A CSV file of S*S feature columns
    /// (pixels, such as 784 for 28x28 digits) is read as 1xSxS images, so that the image models take it too;
    /// any other CSV file is a table, which only the models that take feature vectors accept. <paramref name="training"/>
    /// false loads only what evaluation needs (the test split). An images:DIR folder is split 70/15/15 like a CSV file,
    /// its images made RGB <paramref name="imageSize"/> x <paramref name="imageSize"/>.
    /// </summary>
    public static DataChoice Load(string spec, string? dataDir, int seed, string? labelColumn = null, bool validation = true, bool training = true,
        int imageSize = DefaultImageSize)
    {
        switch (spec)
        {
            case "fashion-mnist":
            case "mnist":
            {
                bool fashion = spec == "fashion-mnist";
                var options = new MnistOptions(Directory: ImageDataDirectory(spec, dataDir, training));
                var test = fashion ? FashionMnist.Test(options) : Mnist.Test(options);
                var classes = fashion ? FashionMnist.Classes : Mnist.Classes;
                if (!training) return new DataChoice(spec, test, test, test, 784, 10, classes);
                var train = fashion ? FashionMnist.Train(options) : Mnist.Train(options);
                if (!validation) return new DataChoice(spec, train, test, test, 784, 10, classes);
                var parts = Datasets.RandomSplit(train, [train.Count - 5000, 5000], new Generator((ulong)seed + 7));
                return new DataChoice(spec, parts[0], parts[1], test, 784, 10, classes);
            }
            case var _ when spec.StartsWith("images:", StringComparison.Ordinal):
            {
                if (dataDir is not null) throw new CliException($"--data-dir applies to fashion-mnist and mnist; --data {spec} names its folder itself");
                string folder = spec["images:".Length..];
                if (!Directory.Exists(folder)) throw new CliException($"--data: image folder '{folder}' not found");
                ImageFolderDataset images;
                try
                {
                    images = new ImageFolderDataset(folder, new ImageFolderOptions { ImageSize = imageSize, Channels = 3 });
                }
                catch (ArgumentException e)
                {
                    throw new CliException($"--data: {CliRunner.OneLine(e).Replace("ImageFolderDataset: ", "", StringComparison.Ordinal)}");
                }
                if (images.Count < 3) throw new CliException($"--data: '{folder}' holds {images.Count} image(s); train, validation and test need at least 3");
                var parts = Datasets.RandomSplit(images, [0.7, 0.15, 0.15], new Generator((ulong)seed + 7));
                return new DataChoice(spec, parts[0], parts[1], parts[2], 3 * imageSize * imageSize, images.Classes.Count, images.Classes, 3, imageSize);
            }
            default:
                if (!spec.StartsWith("csv:", StringComparison.Ordinal))
                    throw new CliException($"unknown --data '{spec}'; expected {DataHelp}");
                if (dataDir is not null) throw new CliException($"--data-dir applies to fashion-mnist and mnist; --data {spec} names its file itself");
                var path = spec[4..];
                if (!File.Exists(path)) throw new CliException($"--data: CSV file '{path}' not found");
                var all = CsvDataset.Load(path, new CsvOptions(LabelColumn: labelColumn));
                int features = all.Features.Size(1), side = SquareSide(features);
                IDataset rows = side > 0 ? new TensorDataset(all.Features.Reshape(all.Count, 1, side, side), all.Targets) : all;
                var split = Datasets.RandomSplit(rows, [0.7, 0.15, 0.15], new Generator((ulong)seed + 7));
                return new DataChoice(spec, split[0], split[1], split[2], features, Math.Max(all.Classes.Count, 1), all.Classes,
                    side > 0 ? 1 : 0, side);
        }
    }

    /// <summary>
    /// An explicit --data-dir must hold the dataset (in it, or in its fashion-mnist/ or mnist/ subfolder); it is
    /// never silently passed over for another copy. Null: the default search (DEEPSHARP_DATA, data/, /usr/share/datasets).
    /// </summary>
    public static string? ImageDataDirectory(string spec, string? dataDir, bool training = true)
    {
        if (dataDir is null) return null;
        if (!Directory.Exists(dataDir)) throw new CliException($"--data-dir: directory '{dataDir}' does not exist");
        string[] needed = training ? [.. s_trainFiles, .. s_testFiles] : s_testFiles;
        foreach (var candidate in new[] { Path.Combine(dataDir, spec), dataDir })
            if (needed.All(f => File.Exists(Path.Combine(candidate, f)) || File.Exists(Path.Combine(candidate, f + ".gz"))))
                return candidate;
        throw new CliException($"--data-dir: '{dataDir}' does not hold the {spec} files ({string.Join(", ", needed.Select(f => f + "[.gz]"))}) " +
                               $"in it or in '{Path.Combine(dataDir, spec)}'");
    }

    /// <summary>The side of a square image of <paramref name="features"/> pixels (at least 2x2), else 0: the file is a table.</summary>
    private static int SquareSide(int features)
    {
        int s = (int)Math.Round(Math.Sqrt(features));
        return s >= 2 && s * s == features ? s : 0;
    }
}
