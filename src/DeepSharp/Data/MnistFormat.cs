using System.Numerics.Tensors;

namespace DeepSharp.Data;

/// <summary>
/// Options for <see cref="FashionMnist"/> and <see cref="Mnist"/>.
/// </summary>
/// <param name="Directory">Searched first for the IDX files (and where a download goes when given).</param>
/// <param name="Download">Fetch missing files from the official mirror (verified by SHA-256).</param>
/// <param name="Normalize">When set, pixels become (x - Mean) / Std after scaling to [0, 1]
/// (torchvision's Normalize); e.g. <see cref="FashionMnist.Normalization"/>.</param>
public sealed record MnistOptions(string? Directory = null, bool Download = true, (float Mean, float Std)? Normalize = null);

/// <summary>What differs between MNIST-format datasets: names, mirrors and the digests of the files.</summary>
internal sealed record MnistSpec(string Name, string Folder, string[] Mirrors, DataFile TrainImages, DataFile TrainLabels, DataFile TestImages, DataFile TestLabels, int Classes);

/// <summary>
/// A file of a dataset: its (compressed) name, the largest size a genuine copy has, and the SHA-256
/// digests of the known genuine copies (upstream's, and repackaged ones such as Debian's).
/// </summary>
internal sealed record DataFile(string Name, long MaxSize, string[] Sha256);

/// <summary>
/// Loads a split of an MNIST-format dataset: images [N, 1, 28, 28] float32 in [0, 1] (torchvision's
/// ToTensor: byte / 255), optionally normalised, and labels [N] int64.
/// </summary>
internal static class MnistFormat
{
    public static TensorDataset Load(MnistSpec spec, bool train, MnistOptions? options)
    {
        options ??= new MnistOptions();
        if (options.Normalize is { } n && !(n.Std > 0 && float.IsFinite(n.Mean) && float.IsFinite(n.Std)))
            throw new ArgumentException($"{spec.Name}: normalisation needs a finite mean and a positive std, got mean {n.Mean}, std {n.Std}");
        var (imageFile, labelFile) = train ? (spec.TrainImages, spec.TrainLabels) : (spec.TestImages, spec.TestLabels);
        var paths = DatasetLocator.Find(spec.Name + (train ? " (train)" : " (test)"), spec.Folder, [imageFile, labelFile], spec.Mirrors, options.Directory, options.Download);
        // Labels first: they are tiny, so a bad label file fails before the big image file is read.
        var labels = IdxReader.Read(paths[1]);
        CheckLabels(spec, labels);
        var x = IdxReader.ReadFloat32(paths[0], divisor: 255f, requireUInt8: true); // streamed: no intermediate byte copy
        if (x.Rank != 3 || x.Size(1) != 28 || x.Size(2) != 28)
            throw new InvalidDataException($"{spec.Name}: '{paths[0]}' holds images of shape {Shapes.Format(x.Shape)}, expected [N, 28, 28]");
        if (x.Size(0) != labels.Shape[0])
            throw new InvalidDataException($"{spec.Name}: '{paths[0]}' has {x.Size(0)} images but '{labels.Source}' has {labels.Shape[0]} labels");

        if (options.Normalize is { } norm)
        {
            var span = x.Span<float>();
            TensorPrimitives.Subtract(span, norm.Mean, span);
            TensorPrimitives.Divide(span, norm.Std, span);
        }
        return new TensorDataset(x.Reshape(x.Size(0), 1, 28, 28), labels.ToInt64());
    }

    private static void CheckLabels(MnistSpec spec, IdxData labels)
    {
        if (labels.Type != IdxType.UInt8 || labels.Shape.Length != 1)
            throw new InvalidDataException($"{spec.Name}: '{labels.Source}' holds {labels.Type} [{string.Join(", ", labels.Shape.ToArray())}], expected UInt8 labels [N]");
        if (labels.Data.Length == 0) return;
        int max = TensorPrimitives.Max<byte>(labels.Data);
        if (max >= spec.Classes)
            throw new InvalidDataException($"{spec.Name}: '{labels.Source}' contains label {max} at index {Array.IndexOf(labels.Data, (byte)max)}, expected 0..{spec.Classes - 1}");
    }
}

/// <summary>
/// Fashion-MNIST (Zalando Research, MIT licence): 60,000 training and 10,000 test 28x28 grayscale
/// images of clothing in 10 classes. Inputs are [N, 1, 28, 28] float32 scaled to [0, 1] (as
/// torchvision's ToTensor), optionally normalised; targets are [N] int64 class ids.
/// <para>
/// The four IDX files (raw or .gz) are looked for in: the given directory, $DEEPSHARP_DATA/fashion-mnist,
/// the repository's data/fashion-mnist (found by walking up from the current and the application
/// directory), /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), the user data
/// directory (deepsharp/fashion-mnist under LocalApplicationData); then, unless disabled, they are
/// downloaded from the official mirror into the given directory or the user data directory and
/// checked against their published SHA-256.
/// </para>
/// </summary>
public static class FashionMnist
{
    /// <summary>Class names by id.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Mean and std of the training pixels after scaling to [0, 1].</summary>
    public static (float Mean, float Std) Normalization => (0.2860f, 0.3530f);

    // Upstream's files (first digest) and Debian's recompressed copies shipped in data/ (second, from
    // ../shared/data/SHA256SUMS) differ byte-wise but hold the same IDX data. The S3 website
    // endpoint is HTTP-only, so the bucket's HTTPS endpoint comes first; SHA-256 guards both.
    internal static readonly MnistSpec Spec = new("Fashion-MNIST", "fashion-mnist",
        ["https://fashion-mnist.s3.eu-central-1.amazonaws.com/", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        new("train-images-idx3-ubyte.gz", 26421880, ["3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"]),
        new("train-labels-idx1-ubyte.gz", 29515, ["a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"]),
        new("t10k-images-idx3-ubyte.gz", 4422102, ["346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"]),
        new("t10k-labels-idx1-ubyte.gz", 5148, ["67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"]),
        Classes: 10);

    /// <summary>The 60,000 training images (see <see cref="Load"/>).</summary>
    public static TensorDataset Train(MnistOptions? options = null) => Load(train: true, options);

    /// <summary>The 10,000 test images (see <see cref="Load"/>).</summary>
    public static TensorDataset Test(MnistOptions? options = null) => Load(train: false, options);

    /// <summary>Loads a split as a <see cref="TensorDataset"/> of float32 images [N, 1, 28, 28] and int64 labels [N], downloading the files when they are not found locally and <see cref="MnistOptions.Download"/> allows it.</summary>
    /// <param name="train">The training split (true) or the test split (false).</param>
    /// <param name="options">Folder, download and normalisation; defaults to <see cref="MnistOptions"/>' defaults.</param>
    public static TensorDataset Load(bool train, MnistOptions? options = null) => MnistFormat.Load(Spec, train, options);
}

/// <summary>
/// MNIST handwritten digits (Yann LeCun, Corinna Cortes, Christopher Burges): 60,000 training and
/// 10,000 test images, same format, preprocessing and search order as <see cref="FashionMnist"/>
/// (folder name "mnist"; downloads from PyTorch's mirror).
/// </summary>
public static class Mnist
{
    /// <summary>Class names by id: the digits "0" to "9".</summary>
    public static IReadOnlyList<string> Classes { get; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Mean and std of the training pixels after scaling to [0, 1] (the usual 0.1307, 0.3081).</summary>
    public static (float Mean, float Std) Normalization => (0.1307f, 0.3081f);

    internal static readonly MnistSpec Spec = new("MNIST", "mnist",
        ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
        new("train-images-idx3-ubyte.gz", 9912422, ["440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"]),
        new("train-labels-idx1-ubyte.gz", 28881, ["3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"]),
        new("t10k-images-idx3-ubyte.gz", 1648877, ["8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"]),
        new("t10k-labels-idx1-ubyte.gz", 4542, ["f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"]),
        Classes: 10);

    /// <summary>The 60,000 training images (see <see cref="Load"/>).</summary>
    public static TensorDataset Train(MnistOptions? options = null) => Load(train: true, options);

    /// <summary>The 10,000 test images (see <see cref="Load"/>).</summary>
    public static TensorDataset Test(MnistOptions? options = null) => Load(train: false, options);

    /// <summary>Loads a split as a <see cref="TensorDataset"/> of float32 images [N, 1, 28, 28] and int64 labels [N], downloading the files when they are not found locally and <see cref="MnistOptions.Download"/> allows it.</summary>
    /// <param name="train">The training split (true) or the test split (false).</param>
    /// <param name="options">Folder, download and normalisation; defaults to <see cref="MnistOptions"/>' defaults.</param>
    public static TensorDataset Load(bool train, MnistOptions? options = null) => MnistFormat.Load(Spec, train, options);
}
