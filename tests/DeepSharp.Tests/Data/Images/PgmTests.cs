using System.Text;
using DeepSharp.Data;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data.Images;

public sealed class PgmTests
{
    private static byte[] P5(string header, params byte[] data) => [.. Encoding.ASCII.GetBytes(header), .. data];

    private static string Reject(byte[] pgm)
    {
        var e = Assert.Throws<InvalidDataException>(() => Pgm.Decode(pgm, "t.pgm"));
        Assert.StartsWith("t.pgm: ", e.Message);
        return e.Message;
    }

    [Fact]
    public void DecodesBinaryAndAsciiAtEveryMaxval()
    {
        var image = Pgm.Decode(P5("P5\n# a comment\n3 2\n255\n", 0, 1, 2, 128, 254, 255));
        Assert.Equal((3, 2, 1), (image.Width, image.Height, image.Channels));
        Assert.Equal([0, 1, 2, 128, 254, 255], image.Pixels);
        Assert.Equal([0, 127, 255], Pgm.Decode(P5("P5 3 1 2\n", 0, 1, 2)).Pixels);
        Assert.Equal([0, 127, 255], Pgm.Decode(P5("P5 3 1 1000\n", 0, 0, 1, 244, 3, 232)).Pixels); // 16-bit big-endian: 0, 500, 1000
        Assert.Equal([0, 127, 255, 25], Pgm.Decode(Encoding.ASCII.GetBytes("P2\n2 2\n10\n0 5\n10 1")).Pixels);
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("a.pgm"), P5("P5 2 1 255 ", 0, 255));
        Assert.Equal([0, 255], Image.Load(dir.File("a.pgm")).Pixels);
    }

    [Fact]
    public void ASampleAboveMaxvalIsRejectedInsteadOfWrapping()
    {
        // Binary: 200 > maxval 100 wrapped modulo 256 (200 * 255 / 100 = 510 -> 254).
        Assert.Contains("PGM sample 200 at pixel (1, 0) exceeds maxval 100", Reject(P5("P5 2 1 100\n", 50, 200)));
        Assert.Contains("PGM sample 1001 at pixel (0, 1) exceeds maxval 1000", Reject(P5("P5 1 2 1000\n", 0, 0, 3, 233)));
        // ASCII: was clamped to maxval without a word.
        Assert.Contains("PGM sample 11 at pixel (1, 1) exceeds maxval 10", Reject(Encoding.ASCII.GetBytes("P2 2 2 10 0 5 10 11")));
    }

    [Fact]
    public void AHeaderClaimingMoreThanTheFileHoldsIsRejectedBeforeAllocating()
    {
        // The campaign's case: a 65-byte file claiming 16384x16384 allocated 256 MiB first.
        foreach (var file in new[] { P5("P5\n# 65 bytes that claim a quarter-gigapixel image\n16384 16384\n255\n", 1, 2, 3),
                                     Encoding.ASCII.GetBytes("P2\n16384 16384\n255\n1 2 3 4 5 6 7 8 9 10 11 12 13\n") })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            string message = Reject(file);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
            Assert.Contains("truncated PGM data", message);
            Assert.Contains("16384x16384", message);
        }
    }

    [Fact]
    public void MalformedHeadersNameTheField()
    {
        Assert.Contains("magic 'P6'", Reject(P5("P6 1 1 255\n", 0, 0, 0)));
        Assert.Contains("width 'x'", Reject(P5("P5 x 1 255\n", 0)));
        Assert.Contains("the height is missing", Reject(P5("P5 1")));
        Assert.Contains("invalid PGM size 0x1", Reject(P5("P5 0 1 255\n")));
        Assert.Contains("maxval 0", Reject(P5("P5 1 1 0\n", 0)));
        Assert.Contains("maxval 70000", Reject(P5("P5 1 1 70000\n", 0)));
        Assert.Contains("height '99999999999'", Reject(P5("P5 1 99999999999 255\n", 0)));
        // Netpbm whitespace is ASCII only: a Latin-1 no-break space (0xA0) does not separate fields.
        Assert.Contains("is not a decimal number", Reject([.. "P5 1"u8, 0xA0, .. "1 255\n"u8, 0]));
        Assert.Contains("sample 1 'z'", Reject(Encoding.ASCII.GetBytes("P2 2 1 255 3 z")));
    }
}
