namespace DeepSharp.Data;

/// <summary>How an <see cref="ImageFolderDataset"/> turns files into tensors.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Side of the square images produced: the shorter side is scaled to it and the centre cropped (torchvision's Resize + CenterCrop).</summary>
    public int ImageSize { get; init; } = 32;

    /// <summary>1 (luminance) or 3 (RGB; gray files are repeated to three channels).</summary>
    public int Channels { get; init; } = 3;

    /// <summary>Keep each decoded image in memory after its first use (ImageSize² × Channels × 4 bytes each), so later epochs do not decode again.</summary>
    public bool Cache { get; init; } = true;

    /// <summary>File extensions read (case-insensitive); other files are ignored.</summary>
    public IReadOnlyList<string> Extensions { get; init; } = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tga", ".psd", ".hdr", ".pgm", ".ppm", ".pnm"];
}

/// <summary>
/// A folder of images with one sub-folder per class, the layout most image projects start from (torchvision's
/// ImageFolder): <c>root/cat/1.jpg</c>, <c>root/dog/7.png</c>, … Classes are the sub-folder names in ordinal order
/// (their index is the label); files are listed once, sorted, at construction and decoded when first read
/// (<see cref="Image.Decode"/>: JPEG, PNG, BMP, GIF, …). Examples are float32 [C, S, S] in [0, 1] with int64 labels.
/// Split it with <see cref="Datasets.RandomSplit(IDataset, double[], Generator?)"/>; augment it with a
/// <see cref="DataLoader"/> transform. Safe to read from several threads.
/// </summary>
public sealed class ImageFolderDataset : IDataset
{
    private readonly (string Path, int Label)[] _samples;
    private readonly Tensor?[]? _cache;

    /// <summary>Lists the class sub-folders and their image files under <paramref name="root"/>; images are decoded when first read.</summary>
    /// <param name="root">The folder holding one sub-folder per class.</param>
    /// <param name="options">Image size, channels, caching and extensions; defaults to <see cref="ImageFolderOptions"/>' defaults.</param>
    /// <exception cref="ArgumentException">ImageSize is outside 1..4096 or Channels is not 1 or 3.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    public ImageFolderDataset(string root, ImageFolderOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Options = options ?? new ImageFolderOptions();
        if (Options.ImageSize is < 1 or > 4096) throw new ArgumentException($"ImageFolderDataset: ImageSize must be between 1 and 4096, got {Options.ImageSize}", nameof(options));
        if (Options.Channels is not (1 or 3)) throw new ArgumentException($"ImageFolderDataset: Channels must be 1 (gray) or 3 (RGB), got {Options.Channels}", nameof(options));
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"ImageFolderDataset: folder '{root}' does not exist");
        Root = root;
        var classDirs = Directory.GetDirectories(root).Select(d => (Path: d, Name: System.IO.Path.GetFileName(d)))
            .Where(d => !d.Name.StartsWith('.')).OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();
        if (classDirs.Length == 0)
            throw new ArgumentException($"ImageFolderDataset: '{root}' has no sub-folders; put each class's images in a folder named after the class (e.g. {System.IO.Path.Combine(root, "cat", "1.jpg")})");
        var extensions = new HashSet<string>(Options.Extensions, StringComparer.OrdinalIgnoreCase);
        var samples = new List<(string, int)>();
        var empty = new List<string>();
        for (int label = 0; label < classDirs.Length; label++)
        {
            var files = Directory.EnumerateFiles(classDirs[label].Path, "*", SearchOption.AllDirectories)
                .Where(f => extensions.Contains(System.IO.Path.GetExtension(f))).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) empty.Add(classDirs[label].Name);
            samples.AddRange(files.Select(f => (f, label)));
        }
        if (empty.Count > 0)
            throw new ArgumentException($"ImageFolderDataset: no image files ({string.Join(", ", Options.Extensions)}) in the class folder(s) {string.Join(", ", empty.Select(e => $"'{e}'"))} of '{root}'");
        Classes = classDirs.Select(d => d.Name).ToArray();
        _samples = [.. samples];
        _cache = Options.Cache ? new Tensor?[_samples.Length] : null;
    }

    /// <summary>The folder the classes were read from.</summary>
    public string Root { get; }

    /// <summary>How files become tensors (size, channels, caching).</summary>
    public ImageFolderOptions Options { get; }

    /// <summary>Class names (the sub-folders), by label.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <inheritdoc/>
    public int Count => _samples.Length;

    /// <summary>The file and label of example <paramref name="index"/>.</summary>
    public (string Path, int Label) Sample(int index)
    {
        DatasetChecks.Index(index, Count, nameof(ImageFolderDataset));
        return _samples[index];
    }

    /// <summary>Example <paramref name="index"/>: the image as float32 [C, S, S] in [0, 1] and its int64 label.</summary>
    public (Tensor Input, Tensor Target) Get(int index)
    {
        var (path, label) = Sample(index);
        var image = _cache?[index];
        if (image is null)
        {
            image = Prepare(Image.Load(path), Options.ImageSize, Options.Channels);
            if (_cache is not null) _cache[index] = image; // a reference store is atomic; two threads may both decode, harmlessly
        }
        return (image, Tensor.Scalar(label, DType.Int64));
    }

    /// <summary>
    /// An image as the conv nets take it: [C, S, S] in [0, 1], the shorter side scaled to S and the centre cropped
    /// (bilinear, as torchvision's Resize(S) + CenterCrop(S)). Also what <c>deepsharp predict</c> does to a photo.
    /// </summary>
    public static Tensor Prepare(Image image, int size, int channels)
    {
        ArgumentNullException.ThrowIfNull(image);
        var pixels = image.ToTensor(channels);
        int side = Math.Min(image.Width, image.Height);
        var square = pixels.Narrow(1, (image.Height - side) / 2, side).Narrow(2, (image.Width - side) / 2, side);
        return side == size ? square.Contiguous() : ImageOps.ResizeBilinear(square, size, size);
    }
}
