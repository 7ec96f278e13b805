using System.Buffers.Binary;
using System.IO.Compression;
using DeepSharp.Data;

namespace DeepSharp.Tests.Data.Images;

/// <summary>Image.Decode: DeepSharp's PNG and PGM readers, StbImageSharp for JPEG, BMP, GIF and the rest.</summary>
public sealed class ImageDecodingTests
{
    private static string Reject(byte[] bytes)
    {
        var e = Assert.Throws<InvalidDataException>(() => Image.Decode(bytes, "t.img"));
        Assert.StartsWith("t.img: ", e.Message);
        return e.Message;
    }

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "images", name);

    public static TheoryData<string> Formats => ["baseline.jpg", "progressive.jpg", "gray.jpg", "interlaced.png", "rgba.png", "palette.png", "gray16.png", "rgb.bmp", "palette.gif"];

    /// <summary>
    /// Every format against Pillow's decoding of the same file (scripts/gen_image_fixtures.py): lossless formats
    /// exactly, JPEG within a few levels (decoders may round their IDCT differently).
    /// </summary>
    [Theory]
    [MemberData(nameof(Formats))]
    public void DecodesEveryFormatAsPillowDoes(string name)
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Fixture("expected.json")));
        var expected = json.RootElement.GetProperty(name);
        var image = Image.Load(Fixture(name));
        Assert.Equal((expected.GetProperty("width").GetInt32(), expected.GetProperty("height").GetInt32(), expected.GetProperty("channels").GetInt32()),
            (image.Width, image.Height, image.Channels));
        var pixels = Convert.FromBase64String(expected.GetProperty("pixels").GetString()!);
        Assert.Equal(pixels.Length, image.Pixels.Length);
        int tolerance = name.EndsWith(".jpg", StringComparison.Ordinal) ? 4 : 0;
        int worst = pixels.Select((p, i) => Math.Abs(p - image.Pixels[i])).Max();
        Assert.True(worst <= tolerance, $"{name}: a sample differs from Pillow's by {worst} levels (at most {tolerance})");
    }

    [Fact]
    public void ToTensorGivesChannelsFirstValuesInZeroToOne()
    {
        var image = new Image(2, 1, 3, [255, 0, 51, 0, 102, 255]);
        var rgb = image.ToTensor();
        Assert.Equal([3, 1, 2], rgb.ShapeArray);
        Assert.Equal([1f, 0f, 0f, 0.4f, 0.2f, 1f], rgb.ToArray<float>(), (x, y) => Math.Abs(x - y) < 1e-6);
        Assert.Equal([1, 1, 2], image.ToTensor(1).ShapeArray);
        var gray = new Image(1, 1, 1, [51]).ToTensor(3);
        Assert.Equal([0.2f, 0.2f, 0.2f], gray.ToArray<float>(), (x, y) => Math.Abs(x - y) < 1e-6);
        Assert.Throws<ArgumentException>(() => image.ToTensor(2));
    }

    [Fact]
    public void AHugeImageClaimedByATinyFileIsRejectedWithoutAllocatingIt()
    {
        // The fuzzing campaign's case: 163 bytes claiming 65535x4096 RGBA16 (2.1 GB of scanlines); and 2^30 x 2^30.
        foreach (var (w, h) in new[] { (65535u, 4096u), (1u << 30, 1u << 30) })
        {
            var tiny = PngTests.PngFile(("IHDR", PngTests.Ihdr(w, h, 16, 6)), ("IDAT", PngTests.Zlib(new byte[100])), ("IEND", []));
            Assert.True(tiny.Length < 200);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Record.Exception(() => Image.Decode(tiny, "t.img"));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.IsType<InvalidDataException>(e);
            Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes");
        }
        Assert.Contains("65535x4096", Reject(PngTests.PngFile(("IHDR", PngTests.Ihdr(65535, 4096, 16, 6)), ("IDAT", PngTests.Zlib(new byte[100])), ("IEND", []))));
    }

    [Fact]
    public void DamagedAndUnknownFilesAreInvalidDataNamingTheFile()
    {
        Assert.Contains("unknown signature", Reject("hello, world"u8.ToArray()));
        Assert.Contains("unknown signature", Reject([]));
        var jpeg = File.ReadAllBytes(Fixture("baseline.jpg"));
        Reject(jpeg[..40]); // cut inside the headers
        var png = File.ReadAllBytes(Fixture("rgba.png"));
        Reject(png[..60]);
        // Random bytes behind every signature: an exception of the documented type, never another one.
        var rng = new Random(11);
        foreach (var file in Formats.Select(f => (string)f.Data))
        {
            var bytes = File.ReadAllBytes(Fixture(file));
            for (int trial = 0; trial < 40; trial++)
            {
                var damaged = (byte[])bytes.Clone();
                for (int k = 0; k < 1 + trial % 8; k++) damaged[rng.Next(8, damaged.Length)] = (byte)rng.Next(256);
                var e = Record.Exception(() => Image.Decode(damaged, "t.img"));
                Assert.True(e is null or InvalidDataException, $"{file} trial {trial}: {e}");
            }
        }
    }
}
