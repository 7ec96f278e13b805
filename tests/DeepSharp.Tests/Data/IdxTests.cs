using System.Buffers.Binary;
using System.IO.Compression;
using DeepSharp.Data;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data;

public sealed class IdxTests
{
    /// <summary>An IDX file: 00 00 type ndims, big-endian u32 dims, then the payload.</summary>
    internal static byte[] Idx(byte type, uint[] dims, byte[] payload)
    {
        var bytes = new byte[4 + 4 * dims.Length + payload.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        payload.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(data);
        return ms.ToArray();
    }

    private static string Write(TempDir dir, byte[] bytes, string name = "x.idx")
    {
        string path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Reject(TempDir dir, byte[] bytes, string name = "bad.idx")
    {
        string path = Write(dir, bytes, name);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.Contains(path, e.Message);
        return e.Message;
    }

    [Fact]
    public void ReadsRawAndGzipUByte()
    {
        using var dir = new TempDir();
        var file = Idx(0x08, [2, 3], [0, 1, 2, 3, 128, 255]);
        foreach (var bytes in new[] { file, Gzip(file) })
        {
            var idx = IdxReader.Read(Write(dir, bytes));
            Assert.Equal(IdxType.UInt8, idx.Type);
            Assert.Equal([2, 3], idx.Shape.ToArray());
            var t = idx.ToTensor();
            Assert.Equal(DType.Int64, t.DType);
            Assert.Equal([0L, 1, 2, 3, 128, 255], t.ToArray<long>());
            Assert.Equal([0f, 1 / 255f, 2 / 255f, 3 / 255f, 128 / 255f, 1f], idx.ToFloat32(255).ToArray<float>());
        }
    }

    [Fact]
    public void DecodesBigEndianTypes()
    {
        using var dir = new TempDir();
        var i16 = new byte[4];
        BinaryPrimitives.WriteInt16BigEndian(i16, -2);
        BinaryPrimitives.WriteInt16BigEndian(i16.AsSpan(2), 300);
        Assert.Equal([-2L, 300], IdxReader.Read(Write(dir, Idx(0x0B, [2], i16))).ToTensor().ToArray<long>());

        var i32 = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(i32, int.MinValue);
        BinaryPrimitives.WriteInt32BigEndian(i32.AsSpan(4), 123456789);
        Assert.Equal([(long)int.MinValue, 123456789], IdxReader.Read(Write(dir, Idx(0x0C, [2], i32))).ToTensor().ToArray<long>());

        var f32 = new byte[8];
        BinaryPrimitives.WriteSingleBigEndian(f32, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(f32.AsSpan(4), -0.1f);
        var ft = IdxReader.Read(Write(dir, Idx(0x0D, [1, 2], f32))).ToTensor();
        Assert.Equal(DType.Float32, ft.DType);
        Assert.Equal([1.5f, -0.1f], ft.ToArray<float>());

        var f64 = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(f64, Math.E);
        Assert.Equal([Math.E], IdxReader.Read(Write(dir, Idx(0x0E, [1], f64))).ToTensor().ToArray<double>());

        Assert.Equal([-1L, 127], IdxReader.Read(Write(dir, Idx(0x09, [2], [0xFF, 0x7F]))).ToTensor().ToArray<long>());
        var ex = Assert.Throws<InvalidOperationException>(() => IdxReader.Read(Write(dir, Idx(0x0D, [1, 2], f32))).ToInt64());
        Assert.Contains("without rounding", ex.Message);
    }

    [Fact]
    public void VectorisedByteConversionMatchesTheScalarLoopIncludingTails()
    {
        var src = Enumerable.Range(0, 300).Select(i => (byte)(i * 37 + 11)).ToArray();
        for (int n = 0; n <= src.Length; n++)
        {
            var dst = new float[n];
            IdxDecode.BytesToFloats(src.AsSpan(0, n), dst, 255f);
            for (int i = 0; i < n; i++) Assert.Equal(src[i] / 255f, dst[i]);
        }
    }

    [Fact]
    public void ReadFloat32StreamsBytesAndRejectsTheSameDefects()
    {
        using var dir = new TempDir();
        var payload = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 13)).ToArray(); // more than one 64 KB chunk
        var file = Idx(0x08, [700, 100], payload);
        foreach (var bytes in new[] { file, Gzip(file) })
        {
            var t = IdxReader.ReadFloat32(Write(dir, bytes), 255f);
            Assert.Equal([700, 100], t.Shape.ToArray());
            Assert.Equal(payload.Select(b => b / 255f), t.ToArray<float>());
        }
        string shortFile = Write(dir, Gzip(Idx(0x08, [700, 100], payload[..69_000])), "short.gz");
        Assert.Contains("only 69000 follow the header", Assert.Throws<InvalidDataException>(() => IdxReader.ReadFloat32(shortFile, 255f)).Message);
        string longFile = Write(dir, Gzip(Idx(0x08, [10], payload[..11])), "long.gz");
        Assert.Contains("trailing data", Assert.Throws<InvalidDataException>(() => IdxReader.ReadFloat32(longFile)).Message);
        var i16 = new byte[4];
        BinaryPrimitives.WriteInt16BigEndian(i16, -510);
        Assert.Equal([-2f, 0f], IdxReader.ReadFloat32(Write(dir, Idx(0x0B, [2], i16)), 255f).ToArray<float>());
    }

    [Fact]
    public void ZeroSizedDimensionsAreFine()
    {
        using var dir = new TempDir();
        var idx = IdxReader.Read(Write(dir, Idx(0x08, [0, 28, 28], [])));
        Assert.Equal([0, 28, 28], idx.Shape.ToArray());
        Assert.Equal(0, idx.ToFloat32().Numel);
    }

    [Fact]
    public void RejectsBadMagicTypeAndDimensions()
    {
        using var dir = new TempDir();
        Assert.Contains("too short for the 4-byte magic", Reject(dir, []));
        Assert.Contains("too short for the 4-byte magic", Reject(dir, [0, 0, 8]));
        Assert.Contains("bad magic number 01000801", Reject(dir, [1, 0, 8, 1, 0, 0, 0, 0]));
        Assert.Contains("bad magic number 89504E47", Reject(dir, [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0])); // a PNG
        Assert.Contains("unknown element type code 0x0A", Reject(dir, Idx(0x0A, [1], [0])));
        Assert.Contains("0 dimensions", Reject(dir, [0, 0, 8, 0]));
        Assert.Contains("truncated header: 3 dimensions need 12 bytes after the magic number, found 7", Reject(dir, [0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0]));
        Assert.Contains("larger than 2147483647", Reject(dir, Idx(0x08, [0x80000000u], [])));
        Assert.Contains("more than 2147483647 elements", Reject(dir, Idx(0x08, [65536, 65536], [])));
        Assert.Contains("more than one array can hold", Reject(dir, Idx(0x0E, [1 << 30], [])));
    }

    [Fact]
    public void RejectsLengthsInconsistentWithDimensions()
    {
        using var dir = new TempDir();
        // Raw: the dims must account for the file size exactly.
        Assert.Contains("truncated: dimensions [10, 10] of UInt8 need 100 data bytes but the file has 50", Reject(dir, Idx(0x08, [10, 10], new byte[50])));
        Assert.Contains("need 8 data bytes but the file has 7", Reject(dir, Idx(0x0C, [2], new byte[7])));
        Assert.Contains("3 bytes of trailing data", Reject(dir, Idx(0x08, [2, 2], new byte[7])));

        // Gzip: truncated payload, trailing payload, truncated compressed stream, garbage after the magic.
        Assert.Contains("only 50 follow the header", Reject(dir, Gzip(Idx(0x08, [10, 10], new byte[50])), "t.gz"));
        Assert.Contains("trailing data", Reject(dir, Gzip(Idx(0x08, [2, 2], new byte[7])), "t.gz"));
        var whole = Gzip(Idx(0x08, [100, 100], Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray()));
        Assert.Contains("(gzip)", Reject(dir, whole.AsSpan(0, whole.Length / 2).ToArray(), "t.gz"));
        Assert.Contains("(gzip)", Reject(dir, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], "t.gz"));
    }

    [Fact]
    public void AHugeClaimInASmallGzipIsRejectedBeforeAllocating()
    {
        using var dir = new TempDir();
        // 1.7 GB claimed by a file of a few dozen bytes: refused from the header alone.
        string message = Reject(dir, Gzip(Idx(0x08, [60000, 28, 1000], [])), "huge.gz");
        Assert.Contains("more than this compressed file can possibly hold", message);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Reject(dir, Gzip(Idx(0x08, [60000, 28, 1000], [])), "huge.gz");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000);
    }

    [Fact]
    public void ReadsFromAStream()
    {
        using var ms = new MemoryStream(Idx(0x08, [3], [7, 8, 9]));
        Assert.Equal([7L, 8, 9], IdxReader.Read(ms, "mem").ToTensor().ToArray<long>());
        using var bad = new MemoryStream(Idx(0x08, [3], [7, 8]));
        Assert.Contains("IDX file 'mem'", Assert.Throws<InvalidDataException>(() => IdxReader.Read(bad, "mem")).Message);
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var e = Assert.Throws<FileNotFoundException>(() => IdxReader.Read("/no/such/file.idx"));
        Assert.Contains("/no/such/file.idx", e.Message);
    }
}

public sealed class IdxGzipTests
{
    private static byte[] Payload(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 31 + i / 7)).ToArray();

    private static string Reject(byte[] file, Func<byte[], string, object>? read = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => (read ?? ((b, n) => IdxReader.Parse(b, n)))(file, "t.gz"));
        Assert.Contains("IDX file 't.gz' (gzip)", e.Message);
        return e.Message;
    }

    [Fact]
    public void AGzipCutBeforeOrInsideItsTrailerIsRejected()
    {
        var whole = IdxTests.Gzip(IdxTests.Idx(0x08, [10, 10], Payload(100)));
        Assert.Equal(Payload(100), IdxReader.Parse(whole, "t.gz").Data);
        // GZipStream returns everything it inflated when the input stops: these read as complete files before.
        foreach (int cut in new[] { 1, 4, 7, 8 })
        {
            Assert.Contains("trailer", Reject(whole[..^cut]));
            Assert.Contains("trailer", Reject(whole[..^cut], (b, n) => IdxReader.ParseFloat32(b, n)));
        }
    }

    [Fact]
    public void TrailerCrcAndLengthMustMatchTheData()
    {
        var whole = IdxTests.Gzip(IdxTests.Idx(0x08, [10, 10], Payload(100)));
        var badCrc = (byte[])whole.Clone();
        badCrc[^8] ^= 1;
        Assert.Contains("(gzip)", Reject(badCrc));
        var badLength = (byte[])whole.Clone();
        badLength[^4] ^= 1;
        Assert.Contains("(gzip)", Reject(badLength));
        Assert.Contains("trailing garbage", Reject([.. whole, 0, 0, 0]));
    }

    [Fact]
    public void ASmallGzipClaimingLargeDimensionsAllocatesAboutWhatItHolds()
    {
        // The campaign's case: ~0.1 MB of gzip whose header claims 95 MB (within deflate's 1032:1 bound)
        // made Read allocate 95 MiB and ReadFloat32 382 MiB before finding the data missing.
        var random = new byte[100_000];
        new Random(11).NextBytes(random);
        var file = IdxTests.Gzip(IdxTests.Idx(0x08, [95, 1000, 1000], random));
        Assert.InRange(file.Length, 100_000, 120_000);
        foreach (var read in new Func<byte[], string, object>[] { (b, n) => IdxReader.Parse(b, n), (b, n) => IdxReader.ParseFloat32(b, n, 255f) })
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            string message = Reject(file, read);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Contains("only 100000 follow the header", message);
            Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes");
        }
    }

    [Fact]
    public void MultiMemberGzipAndOptionalHeaderFieldsRead()
    {
        var idx = IdxTests.Idx(0x08, [3, 100], Payload(300));
        var twoMembers = IdxTests.Gzip(idx[..150]).Concat(IdxTests.Gzip(idx[150..])).ToArray();
        Assert.Equal(Payload(300), IdxReader.Parse(twoMembers, "t.gz").Data);

        // FEXTRA, FNAME, FCOMMENT and FHCRC (GZipStream writes none of them).
        var plain = IdxTests.Gzip(idx);
        var header = new List<byte>(plain[..10]);
        header[3] = 0x04 | 0x08 | 0x10 | 0x02;
        header.AddRange([3, 0, (byte)'a', (byte)'b', (byte)'c']);
        header.AddRange("train.idx\0"u8.ToArray());
        header.AddRange("made by hand\0"u8.ToArray());
        uint crc = Png.Crc32(header.ToArray());
        header.AddRange([(byte)crc, (byte)(crc >> 8)]);
        var fancy = header.Concat(plain[10..]).ToArray();
        Assert.Equal(Payload(300), IdxReader.ParseFloat32(fancy, "t.gz").ToArray<float>().Select(f => (byte)f));
        fancy[header.Count - 1] ^= 0xFF;
        Assert.Contains("header CRC", Reject(fancy));
        Assert.Contains("unterminated file name", Reject([.. plain[..3], 0x08, .. plain[4..10], (byte)'x', (byte)'y']));
        Assert.Contains("compression method 7", Reject([.. plain[..2], 7, .. plain[3..]]));
        Assert.Contains("reserved gzip header flags", Reject([.. plain[..3], 0x80, .. plain[4..]]));
    }

    [Fact]
    public void AnUnexpectedZlibErrorIsInvalidData()
    {
        // Guard for the wrapping of zlib errors in GzipReader: a reserved deflate block type (BTYPE 11) is
        // corrupt data, reported with the file name (a raw deflate stream cannot ask for a preset dictionary,
        // the Z_NEED_DICT case that threw ZLibException from the PNG reader).
        var gz = IdxTests.Gzip(IdxTests.Idx(0x08, [3], [1, 2, 3]));
        gz[10] = 0x07; // BFINAL 1, BTYPE 11
        Assert.Contains("(gzip)", Reject(gz));
    }
}
