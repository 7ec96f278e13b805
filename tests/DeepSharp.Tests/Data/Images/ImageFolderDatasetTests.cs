using DeepSharp.Data;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data.Images;

public sealed class ImageFolderDatasetTests
{
    /// <summary>A folder per class of small PNGs; class k's images are filled with the gray level 40 k + 20 + i.</summary>
    internal static string WriteFolder(TempDir dir, string[] classes, int perClass, int width = 6, int height = 4)
    {
        string root = dir.File("images");
        for (int k = 0; k < classes.Length; k++)
        {
            Directory.CreateDirectory(Path.Combine(root, classes[k]));
            for (int i = 0; i < perClass; i++)
            {
                var pixels = Enumerable.Repeat((byte)(40 * k + 20 + i), width * height).ToArray();
                new Image(width, height, 1, pixels).SavePng(Path.Combine(root, classes[k], $"{i:D3}.png"));
            }
        }
        return root;
    }

    [Fact]
    public void ClassesAreTheSortedSubFoldersAndExamplesAreChannelsFirstSquares()
    {
        using var dir = new TempDir();
        string root = WriteFolder(dir, ["zebra", "ant", "Mole"], 3);
        File.WriteAllText(Path.Combine(root, "ant", "notes.txt"), "not an image"); // ignored: not an image extension
        Directory.CreateDirectory(Path.Combine(root, ".thumbnails"));               // ignored: hidden
        var data = new ImageFolderDataset(root, new ImageFolderOptions { ImageSize = 4, Channels = 3 });
        Assert.Equal(["Mole", "ant", "zebra"], data.Classes); // ordinal order: upper case first, as torchvision's sorted()
        Assert.Equal(9, data.Count);
        var (x, y) = data.Get(4);
        Assert.Equal([3, 4, 4], x.ShapeArray);
        Assert.Equal(DType.Int64, y.DType);
        Assert.Equal(1L, y.Item<long>());
        Assert.EndsWith(Path.Combine("ant", "001.png"), data.Sample(4).Path, StringComparison.Ordinal);
        Assert.All(x.ToArray<float>(), v => Assert.Equal(61 / 255f, v, 6)); // "ant" was written second (k = 1): level 40 + 20 + 1
        Assert.Same(x, data.Get(4).Input); // cached after the first read
        var uncached = new ImageFolderDataset(root, new ImageFolderOptions { ImageSize = 4, Cache = false });
        Assert.NotSame(uncached.Get(4).Input, uncached.Get(4).Input);
        Assert.Equal([1, 4, 4], new ImageFolderDataset(root, new ImageFolderOptions { ImageSize = 4, Channels = 1 }).Get(0).Input.ShapeArray);
    }

    [Fact]
    public void PrepareScalesTheShorterSideAndCropsTheCentre()
    {
        // 6x2: columns 0..5 hold 0, 50, 100, 150, 200, 250; the centre 2x2 square is columns 2 and 3.
        var pixels = new byte[12];
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 6; x++) pixels[y * 6 + x] = (byte)(50 * x);
        var square = ImageFolderDataset.Prepare(new Image(6, 2, 1, pixels), 2, 1);
        Assert.Equal([1, 2, 2], square.ShapeArray);
        Assert.Equal([100 / 255f, 150 / 255f, 100 / 255f, 150 / 255f], square.ToArray<float>(), (a, b) => Math.Abs(a - b) < 1e-6);
        // Upscaled to 4x4 bilinearly (align_corners=False): the borders keep the edge values.
        var larger = ImageFolderDataset.Prepare(new Image(6, 2, 1, pixels), 4, 1).ToArray<float>();
        Assert.Equal(100 / 255f, larger[0], 6);
        Assert.Equal(150 / 255f, larger[3], 6);
        Assert.Equal(112.5f / 255f, larger[1], 6);
    }

    [Fact]
    public void AMissingRootAnEmptyClassAndBadOptionsAreClearErrors()
    {
        using var dir = new TempDir();
        Assert.Contains("does not exist", Assert.Throws<DirectoryNotFoundException>(() => new ImageFolderDataset(dir.File("nowhere"))).Message);
        Directory.CreateDirectory(dir.File("flat"));
        File.WriteAllBytes(dir.File("flat/a.png"), Png.Encode(new Image(1, 1, 1, [0])));
        Assert.Contains("has no sub-folders", Assert.Throws<ArgumentException>(() => new ImageFolderDataset(dir.File("flat"))).Message);
        string root = WriteFolder(dir, ["a", "b"], 1);
        Directory.CreateDirectory(Path.Combine(root, "c"));
        Assert.Contains("'c'", Assert.Throws<ArgumentException>(() => new ImageFolderDataset(root)).Message);
        Directory.Delete(Path.Combine(root, "c"));
        Assert.Contains("Channels", Assert.Throws<ArgumentException>(() => new ImageFolderDataset(root, new ImageFolderOptions { Channels = 2 })).Message);
        Assert.Contains("ImageSize", Assert.Throws<ArgumentException>(() => new ImageFolderDataset(root, new ImageFolderOptions { ImageSize = 0 })).Message);
        File.WriteAllText(Path.Combine(root, "b", "broken.jpg"), "not a jpeg");
        var data = new ImageFolderDataset(root);
        int broken = Enumerable.Range(0, data.Count).Single(i => data.Sample(i).Path.EndsWith("broken.jpg", StringComparison.Ordinal));
        Assert.Contains("broken.jpg", Assert.Throws<InvalidDataException>(() => data.Get(broken)).Message);
    }
}
