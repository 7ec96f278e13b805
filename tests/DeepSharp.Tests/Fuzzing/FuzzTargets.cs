using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using DeepSharp.Data;
using DeepSharp.Data.Text;
using DeepSharp.Serialization;
using DeepSharp.Tests.Data;
using DeepSharp.Tests.Data.Images;
using DeepSharp.Tests.Training;

namespace DeepSharp.Tests.Fuzzing;

/// <summary>The readers under fuzzing, each with valid seed inputs and format-aware mutations.</summary>
internal static class FuzzTargets
{
    public static readonly string[] Names = ["checkpoint", "vocabulary", "png", "pgm", "image", "idx", "idx-gzip", "csv", "safetensors"];

    public static FuzzTarget Create(string name) => name switch
    {
        "checkpoint" => Checkpoint(),
        "vocabulary" => Vocabulary(),
        "png" => Png(),
        "pgm" => Pgm(),
        "image" => OtherImages(),
        "idx" => Idx(),
        "idx-gzip" => IdxGzip(),
        "csv" => Csv(),
        "safetensors" => SafeTensorsTarget(),
        _ => throw new ArgumentException($"unknown fuzz target '{name}'"),
    };

    // ---- checkpoint: a safetensors file whose 'deepsharp' metadata and tensors are edited semantically ----

    private static FuzzTarget Checkpoint()
    {
        var rig = new CheckpointRig(seed: 77, steps: 2);
        var seeds = new List<byte[]>
        {
            new CheckpointRig(seed: 5, steps: 3).Save(),
            new CheckpointRig(seed: 6, steps: 1).Save(epoch: 0, step: 0, loader: new DataLoaderState(0, 0, 0, 0)),
            new CheckpointRig(seed: 7, steps: 4).Save(epoch: 100, step: 1L << 40, loader: new DataLoaderState(int.MaxValue, ulong.MaxValue, long.MaxValue, int.MaxValue)),
        };
        return new FuzzTarget
        {
            Name = "checkpoint",
            Seeds = seeds,
            Parse = bytes => rig.Load(bytes),
            BeforeParse = () =>
            {
                string before = rig.Fingerprint();
                return () => rig.Fingerprint() == before ? null : "model, optimizer, scheduler or generator state changed";
            },
            Mutate = (m, a, _) =>
            {
                var content = SafeTensors.Load(a);
                var tensors = content.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
                var meta = content.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
                for (int k = 0, ops = 1 + m.Below(2); k < ops; k++)
                {
                    var keys = tensors.Keys.ToList();
                    string key = keys.Count > 0 ? m.Pick(keys) : "model.0.weight";
                    switch (m.Below(6))
                    {
                        case 0: case 1: meta["deepsharp"] = m.MutateJson(meta.GetValueOrDefault("deepsharp") ?? "{}"); break;
                        case 2: tensors.Remove(key); break;
                        case 3: tensors[key] = Tensor.Zeros([m.Below(4), 1 + m.Below(3)]); break;
                        case 4: tensors[key] = tensors.TryGetValue(key, out var t) ? t.To(m.Pick([DType.Float64, DType.Int64, DType.Bool, DType.Float32])) : Tensor.Scalar(1.0); break;
                        default: tensors[m.Pick(["model.extra", "optimizer.state.9.exp_avg", "scheduler.gamma", "optimizer.param_groups.1.params", "other"])] = Tensor.Scalar(m.Below(3) - 1.0); break;
                    }
                }
                var file = SafeTensors.Serialize(tensors, meta);
                return m.Chance(0.2) ? m.Mutate(file, a, 2) : file;
            },
        };
    }

    // ---- vocabulary JSON ----

    private static FuzzTarget Vocabulary() => new()
    {
        Name = "vocabulary",
        Seeds =
        [
            Encoding.UTF8.GetBytes(DeepSharp.Data.Text.Vocabulary.FromCharacters("hello world 😀 👍🏽").ToJson()),
            Encoding.UTF8.GetBytes(DeepSharp.Data.Text.Vocabulary.FromWords("the cat sat on the mat the end").ToJson()),
            Encoding.UTF8.GetBytes("""{"kind":"char","tokens":["\n"," ","a","é","\ud83d\ude00"]}"""),
        ],
        Parse = bytes => DeepSharp.Data.Text.Vocabulary.Parse(bytes, 0, "vocabulary fuzz"),
        Mutate = (m, a, _) => Encoding.UTF8.GetBytes(m.MutateJson(Encoding.UTF8.GetString(a))),
    };

    // ---- PNG: byte mutations with chunk CRCs repaired, IHDR fields, and mutated scanlines re-compressed ----

    private static FuzzTarget Png()
    {
        var rng = new Random(1);
        byte[] Bytes(int n) { var b = new byte[n]; rng.NextBytes(b); return b; }
        static byte[] Rows(byte[] pixels, int height, int stride, Func<int, byte> filter)
        {
            var raw = new byte[(stride + 1) * height];
            for (int y = 0; y < height; y++) { raw[y * (stride + 1)] = filter(y); pixels.AsSpan(y * stride, stride).CopyTo(raw.AsSpan(y * (stride + 1) + 1)); }
            return raw;
        }
        var z16 = PngTests.Zlib(Rows(Bytes(5 * 4 * 8), 4, 5 * 8, y => (byte)(y % 5)));
        var seeds = new List<byte[]>
        {
            DeepSharp.Data.Png.Encode(new Image(4, 3, 1, Bytes(12))),
            DeepSharp.Data.Png.Encode(new Image(3, 2, 3, Bytes(18))),
            DeepSharp.Data.Png.Encode(new Image(2, 2, 4, Bytes(16))),
            PngTests.PngFile(("IHDR", PngTests.Ihdr(5, 4, 16, 6)), ("IDAT", z16[..10]), ("IDAT", z16[10..]), ("IEND", [])),
            PngTests.PngFile(("IHDR", PngTests.Ihdr(3, 3, 8, 3)), ("PLTE", Bytes(12)), ("tEXt", "k\0v"u8.ToArray()),
                ("IDAT", PngTests.Zlib(Rows([0, 1, 2, 3, 2, 1, 0, 1, 2], 3, 3, y => (byte)(y + 2)))), ("IEND", [])),
            PngTests.PngFile(("IHDR", PngTests.Ihdr(3, 2, 8, 4)), ("IDAT", PngTests.Zlib(Rows(Bytes(12), 2, 6, y => 4))), ("IEND", [])),
        };
        return new FuzzTarget
        {
            Name = "png",
            Seeds = seeds,
            Parse = bytes => DeepSharp.Data.Png.Decode(bytes, "png fuzz"),
            Mutate = (m, a, b) =>
            {
                var chunks = Chunks(a);
                switch (m.Below(3))
                {
                    case 0: // IHDR fields at boundary values
                    {
                        var ihdr = chunks[0].Body;
                        if (m.Chance(0.5)) BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(m.Chance(0.5) ? 0 : 4), (uint)m.Boundary());
                        else ihdr[8 + m.Below(5)] = (byte)m.Pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 255]);
                        return PngTests.PngFile([.. chunks]);
                    }
                    case 1: // mutated scanlines (filter bytes, lengths) behind a valid zlib stream and valid CRCs
                    {
                        var z = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Body).ToArray();
                        using var raw = new MemoryStream();
                        using (var inflate = new ZLibStream(new MemoryStream(z), CompressionMode.Decompress)) inflate.CopyTo(raw);
                        var idat = PngTests.Zlib(m.Mutate(raw.ToArray(), [0, 1, 2, 3, 4, 5, 255], 3));
                        return PngTests.PngFile([.. chunks.Where(c => c.Type != "IDAT" && c.Type != "IEND"), ("IDAT", idat), ("IEND", [])]);
                    }
                    default: // byte mutations, then chunk CRCs repaired so the decoder gets past them
                        return FixCrcs(m.Mutate(a, b));
                }
            },
        };
    }

    private static List<(string Type, byte[] Body)> Chunks(byte[] png)
    {
        var chunks = new List<(string, byte[])>();
        for (int pos = 8; pos + 12 <= png.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            chunks.Add((Encoding.ASCII.GetString(png, pos + 4, 4), png.AsSpan(pos + 8, length).ToArray()));
            pos += 12 + length;
        }
        return chunks;
    }

    private static byte[] FixCrcs(byte[] png)
    {
        for (int pos = 8; pos + 12 <= png.Length;)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (pos + 12 + length > png.Length) break;
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + (int)length), DeepSharp.Data.Png.Crc32(png.AsSpan(pos + 4, 4 + (int)length)));
            pos += 12 + (int)length;
        }
        return png;
    }

    // ---- PGM ----

    private static FuzzTarget Pgm() => new()
    {
        Name = "pgm",
        Seeds =
        [
            [.. "P5\n# comment\n4 3\n255\n"u8, .. Enumerable.Range(0, 12).Select(i => (byte)(i * 20))],
            [.. "P5 2 2 1000\n"u8, 0, 0, 1, 244, 3, 232, 0, 7],
            "P2\n3 2\n15\n0 1 2\n13 14 15\n"u8.ToArray(),
            "P2 1 1 1 1"u8.ToArray(),
        ],
        Parse = bytes => DeepSharp.Data.Pgm.Decode(bytes, "pgm fuzz"),
    };

    // ---- JPEG, GIF, BMP (StbImageSharp behind Image.Decode) ----

    private static FuzzTarget OtherImages() => new()
    {
        Name = "image",
        Seeds = [.. new[] { "baseline.jpg", "progressive.jpg", "gray.jpg", "palette.gif", "rgb.bmp" }
            .Select(f => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "images", f)))],
        Parse = bytes => DeepSharp.Data.Image.Decode(bytes, "image fuzz"),
    };

    // ---- IDX, raw and gzip; inputs alternate between Parse and ParseFloat32 by their length ----

    private static List<byte[]> IdxSeeds()
    {
        var f32 = new byte[8];
        BinaryPrimitives.WriteSingleBigEndian(f32, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(f32.AsSpan(4), -0.25f);
        return
        [
            IdxTests.Idx(0x08, [2, 3], [0, 1, 2, 3, 128, 255]),
            IdxTests.Idx(0x08, [3, 4, 5], Enumerable.Range(0, 60).Select(i => (byte)(i * 7)).ToArray()),
            IdxTests.Idx(0x09, [2], [0xFF, 0x7F]),
            IdxTests.Idx(0x0B, [2], [0xFF, 0xFE, 0x01, 0x2C]),
            IdxTests.Idx(0x0C, [1, 2], [0x80, 0, 0, 0, 0x07, 0x5B, 0xCD, 0x15]),
            IdxTests.Idx(0x0D, [2], f32),
            IdxTests.Idx(0x0E, [1], [0x40, 0x05, 0xBF, 0x0A, 0x8B, 0x14, 0x57, 0x69]),
            IdxTests.Idx(0x08, [0, 28, 28], []),
        ];
    }

    private static void ParseIdx(byte[] bytes, string name)
    {
        if (bytes.Length % 2 == 0) IdxReader.Parse(bytes, name).ToTensor();
        else IdxReader.ParseFloat32(bytes, name, 255f);
    }

    private static FuzzTarget Idx() => new()
    {
        Name = "idx",
        Seeds = IdxSeeds(),
        Parse = bytes => ParseIdx(bytes, "idx fuzz"),
    };

    private static FuzzTarget IdxGzip()
    {
        var raw = IdxSeeds();
        var seeds = raw.Select(IdxTests.Gzip).ToList();
        seeds.Add([.. IdxTests.Gzip(raw[1][..30]), .. IdxTests.Gzip(raw[1][30..])]); // two members
        return new FuzzTarget
        {
            Name = "idx-gzip",
            Seeds = seeds,
            Parse = bytes => ParseIdx(bytes, "idx fuzz.gz"),
            // The IDX header and payload mutated behind a valid gzip stream, or the gzip bytes themselves cut at the end.
            Mutate = (m, a, b) =>
            {
                if (m.Chance(0.3)) return a[..Math.Max(0, a.Length - 1 - m.Below(12))];
                using var inflated = new MemoryStream();
                using (var gz = new GZipStream(new MemoryStream(a), CompressionMode.Decompress)) gz.CopyTo(inflated);
                return IdxTests.Gzip(m.Mutate(inflated.ToArray(), b.Length > 0 ? b : a));
            },
        };
    }

    // ---- CSV: classification with a header, regression, and no header, by input length ----

    private static FuzzTarget Csv() => new()
    {
        Name = "csv",
        Seeds =
        [
            "sepal_length,sepal_width,species,petal_length\n5.1,3.5,setosa,1.4\n7.0,3.2,versicolor,4.7\n\n6.3,3.3, \"virginica\" ,6.0\n"u8.ToArray(),
            "x,y,target\n1,2,0.5\n-3.5e2,4,1e3\n0,0,-0\n"u8.ToArray(),
            "1,2,a\n3,4,b\n5,6,\"a,\"\"b\"\"\"\n"u8.ToArray(),
        ],
        Parse = bytes =>
        {
            var options = (bytes.Length % 3) switch
            {
                0 => new CsvOptions(),
                1 => new CsvOptions(Task: CsvTask.Regression),
                _ => new CsvOptions(HasHeader: false),
            };
            CsvDataset.Parse(new StringReader(Encoding.UTF8.GetString(bytes)), "csv fuzz", options);
        },
    };

    // ---- safetensors: the JSON header mutated as text and re-prefixed with its length, or bytes anywhere ----

    private static FuzzTarget SafeTensorsTarget()
    {
        static byte[] Raw(string header, byte[] data)
        {
            var h = Encoding.UTF8.GetBytes(header);
            var bytes = new byte[8 + h.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
            h.CopyTo(bytes, 8);
            data.CopyTo(bytes, 8 + h.Length);
            return bytes;
        }
        var seeds = new List<byte[]>
        {
            SafeTensors.Serialize(new Dictionary<string, Tensor>
            {
                ["weight"] = Tensor.From(new float[] { 1.5f, -2, 3.25f, float.MaxValue, float.Epsilon, -0f }, 2, 3),
                ["scale"] = Tensor.Scalar(0.1, DType.Float64),
                ["step"] = Tensor.From(new long[] { long.MinValue, -1, 0, long.MaxValue }),
                ["mask"] = Tensor.From(new[] { true, false, true }),
                ["empty"] = Tensor.Zeros([0, 5], DType.Float32),
            }, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é ✓" }),
            Raw("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F16","shape":[1],"data_offsets":[2,4]},"c":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"d":{"dtype":"I32","shape":[1],"data_offsets":[6,10]},"e":{"dtype":"U64","shape":[1],"data_offsets":[10,18]}}""",
                [1, 2, 0x00, 0x3C, 0x80, 0x3F, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]),
        };
        return new FuzzTarget
        {
            Name = "safetensors",
            Seeds = seeds,
            Parse = bytes => SafeTensors.Load(bytes),
            Mutate = (m, a, b) =>
            {
                int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(a);
                string header = Encoding.UTF8.GetString(a, 8, n);
                var data = a[(8 + n)..];
                byte[] h = m.Chance(0.7) ? Encoding.UTF8.GetBytes(m.MutateJson(header)) : m.Mutate(Encoding.UTF8.GetBytes(header), b);
                if (m.Chance(0.3)) data = m.Mutate(data, b);
                var file = new byte[8 + h.Length + data.Length];
                BinaryPrimitives.WriteUInt64LittleEndian(file, m.Chance(0.9) ? (ulong)h.Length : m.Boundary());
                h.CopyTo(file, 8);
                data.CopyTo(file, 8 + h.Length);
                return file;
            },
        };
    }
}
