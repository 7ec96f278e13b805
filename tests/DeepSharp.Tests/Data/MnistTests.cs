using System.Diagnostics;
using DeepSharp.Data;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data;

/// <summary>Loads the training split once for all tests of the class (it takes a few hundred ms).</summary>
public sealed class FashionMnistTrainFixture
{
    public TensorDataset Train { get; } = FashionMnist.Train(new MnistOptions(Download: false));
}

/// <summary>
/// A guard against pathological slowness (e.g. a scalar conversion path), measured alone: the target
/// (&lt; 1 s in Release on a quiet machine) is a benchmark, not something a shared CI box can assert.
/// </summary>
[Collection(nameof(TimingSensitive))]
public sealed class FashionMnistLoadTimeTests
{
    [Fact]
    public void LoadingTheTrainingSetIsFast()
    {
        var sw = Stopwatch.StartNew();
        var train = FashionMnist.Train(new MnistOptions(Download: false));
        sw.Stop();
        Assert.Equal(60000, train.Count);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"loading Fashion-MNIST train took {sw.Elapsed.TotalMilliseconds:F0} ms");
    }
}

public sealed class MnistTests(FashionMnistTrainFixture fixture) : IClassFixture<FashionMnistTrainFixture>
{
    // Reference values computed with PyTorch: torch.from_numpy(images).float().div(255), as torchvision's ToTensor.
    private static readonly float[] s_image0Row10Cols13To17 = [0.7568627595901489f, 0.8941176533699036f, 0.8549019694328308f, 0.8352941274642944f, 0.7764706015586853f];

    [Fact]
    public void LoadsTheShippedTrainingSet()
    {
        var train = fixture.Train;
        Assert.Equal(60000, train.Count);
        Assert.Equal([60000, 1, 28, 28], train.Inputs.Shape.ToArray());
        Assert.Equal(DType.Float32, train.Inputs.DType);
        Assert.Equal([60000], train.Targets.Shape.ToArray());
        Assert.Equal(DType.Int64, train.Targets.DType);

        var labels = train.Targets.ToArray<long>();
        Assert.Equal([9L, 0, 0, 3, 0, 2, 7, 2, 5, 5], labels[..10]);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(6000, labels.Count(l => l == c)));

        var image0 = train.Inputs[0, 0];
        Assert.Equal(s_image0Row10Cols13To17, image0[10].ToArray<float>()[13..18]);
        Assert.Equal(0f, image0[0].ToArray<float>()[0]);
        Assert.Equal(299.0078472062014, image0.ToDoubleArray().Sum(), 9);
        var all = train.Inputs.Span<float>();
        double total = 0;
        float min = float.MaxValue, max = float.MinValue;
        foreach (float v in all) { total += v; min = Math.Min(min, v); max = Math.Max(max, v); }
        Assert.Equal(13455349.927203545, total, 3);
        Assert.Equal(0f, min);
        Assert.Equal(1f, max);
    }

    [Fact]
    public void LoadsTheTestSetWithNormalisation()
    {
        var test = FashionMnist.Test(new MnistOptions(Download: false));
        Assert.Equal([10000, 1, 28, 28], test.Inputs.Shape.ToArray());
        Assert.Equal([9L, 2, 1, 1, 6, 1, 4, 6, 5, 7], test.Targets.ToArray<long>()[..10]);
        Assert.Equal(95.64706127205864, test.Inputs[9999].ToDoubleArray().Sum(), 9);

        var normalized = FashionMnist.Test(new MnistOptions(Download: false, Normalize: FashionMnist.Normalization));
        var a = test.Inputs[0, 0].ToArray<float>();
        var b = normalized.Inputs[0, 0].ToArray<float>();
        for (int i = 0; i < a.Length; i++) Assert.Equal((a[i] - 0.2860f) / 0.3530f, b[i]);
    }

    [Fact]
    public void NormalisationMatchesTorchvision()
    {
        // (ToTensor(x) - 0.2860) / 0.3530 in float32 with PyTorch, for test image 0.
        var normalized = FashionMnist.Test(new MnistOptions(Download: false, Normalize: (0.2860f, 0.3530f)));
        var image0 = normalized.Inputs[0, 0].ToArray<float>();
        Assert.Equal(-0.8101983666419983f, image0[0]);
        Assert.Equal(-0.776870608329773f, image0[215]);
        Assert.Equal(-0.7990891337394714f, image0[400]);
        Assert.Throws<ArgumentException>(() => FashionMnist.Test(new MnistOptions(Download: false, Normalize: (0f, 0f))));
    }

    private static void WriteSplit(string dir, byte[] labels, bool gzip, string prefix = "t10k")
    {
        var images = new byte[labels.Length * 784];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)(i % 251);
        var imageFile = IdxTests.Idx(0x08, [(uint)labels.Length, 28, 28], images);
        var labelFile = IdxTests.Idx(0x08, [(uint)labels.Length], labels);
        if (gzip)
        {
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"), IdxTests.Gzip(imageFile));
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"), IdxTests.Gzip(labelFile));
        }
        else
        {
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-images-idx3-ubyte"), imageFile);
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte"), labelFile);
        }
    }

    [Fact]
    public void AnExplicitDirectoryComesFirstAndMayHoldUncompressedFiles()
    {
        using var dir = new TempDir();
        WriteSplit(dir.Path, [3, 1, 4], gzip: false);
        var ds = Mnist.Test(new MnistOptions(dir.Path, Download: false));
        Assert.Equal([3L, 1, 4], ds.Targets.ToArray<long>());
        Assert.Equal([3, 1, 28, 28], ds.Inputs.Shape.ToArray());
        Assert.Equal(250f / 255f, ds.Inputs.ToArray<float>()[250]);

        // The explicit directory wins over the shipped copy for Fashion-MNIST too.
        WriteSplit(dir.Path, [5, 9], gzip: true, prefix: "train");
        Assert.Equal(2, FashionMnist.Train(new MnistOptions(dir.Path, Download: false)).Count);
    }

    [Fact]
    public void InvalidContentIsReportedWithTheFile()
    {
        using var dir = new TempDir();
        WriteSplit(dir.Path, [3, 10, 4], gzip: true);
        var e = Assert.Throws<InvalidDataException>(() => Mnist.Test(new MnistOptions(dir.Path, Download: false)));
        Assert.Contains("label 10 at index 1, expected 0..9", e.Message);
        Assert.Contains("t10k-labels-idx1-ubyte.gz", e.Message);

        File.WriteAllBytes(Path.Combine(dir.Path, "t10k-labels-idx1-ubyte.gz"), IdxTests.Gzip(IdxTests.Idx(0x08, [2], [1, 2])));
        e = Assert.Throws<InvalidDataException>(() => Mnist.Test(new MnistOptions(dir.Path, Download: false)));
        Assert.Contains("has 3 images but", e.Message);

        File.WriteAllBytes(Path.Combine(dir.Path, "t10k-images-idx3-ubyte.gz"), IdxTests.Gzip(IdxTests.Idx(0x0D, [2, 28, 28], new byte[2 * 784 * 4])));
        e = Assert.Throws<InvalidDataException>(() => Mnist.Test(new MnistOptions(dir.Path, Download: false)));
        Assert.Contains("holds Float32 elements, expected UInt8", e.Message);

        File.WriteAllBytes(Path.Combine(dir.Path, "t10k-images-idx3-ubyte.gz"), IdxTests.Gzip(IdxTests.Idx(0x08, [2, 28, 27], new byte[2 * 784 - 56])));
        e = Assert.Throws<InvalidDataException>(() => Mnist.Test(new MnistOptions(dir.Path, Download: false)));
        Assert.Contains("images of shape [2, 28, 27], expected [N, 28, 28]", e.Message);
    }

    [Fact]
    public void MissingFilesListEveryPlaceSearched()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Train(new MnistOptions(dir.Path, Download: false)));
        Assert.Contains("MNIST (train): could not find train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]", e.Message);
        Assert.Contains($"{dir.Path} (directory given)", e.Message);
        Assert.Contains("/usr/share/datasets/mnist (Debian package location)", e.Message);
        Assert.Contains("(download cache)", e.Message);
        Assert.Contains("Downloading was disabled", e.Message);
        Assert.Contains("DEEPSHARP_DATA", e.Message);
        Assert.Contains("https://ossci-datasets.s3.amazonaws.com/mnist/", e.Message);
    }

    [Fact]
    public void ClassNamesAndStatistics()
    {
        Assert.Equal(10, FashionMnist.Classes.Count);
        Assert.Equal("Ankle boot", FashionMnist.Classes[9]);
        Assert.Equal((0.1307f, 0.3081f), Mnist.Normalization);
    }
}
