using System.Buffers.Binary;
using System.Collections;
using System.Text;
using System.Text.Json;
using DeepSharp.Serialization;

namespace DeepSharp.Tests.Serialization;

public sealed class SafeTensorsTests
{
    private static Dictionary<string, Tensor> AllDTypes() => new()
    {
        ["weight"] = Tensor.From(new float[] { 1.5f, -2, 3.25f, float.MaxValue, float.Epsilon, -0f }, 2, 3),
        ["scale"] = Tensor.Scalar(0.1, DType.Float64), // rank 0
        ["step"] = Tensor.From(new long[] { long.MinValue, -1, 0, long.MaxValue }),
        ["mask"] = Tensor.From(new[] { true, false, true }),
        ["empty"] = Tensor.Zeros([0, 5], DType.Float32), // size 0
        ["empty_ids"] = Tensor.Zeros([2, 0], DType.Int64),
        ["z"] = Tensor.From(new double[] { Math.PI, double.NegativeInfinity, double.NaN }),
    };

    private static void AssertSame(IReadOnlyDictionary<string, Tensor> expected, SafeTensorsContent actual)
    {
        Assert.Equal(expected.Keys, actual.Names); // writer keeps insertion order, reader returns file order
        foreach (var (name, t) in expected)
        {
            var got = actual[name];
            Assert.Equal(t.DType, got.DType);
            Assert.Equal(t.Shape.ToArray(), got.Shape.ToArray());
            Assert.Equal(t.ToDoubleArray(), got.ToDoubleArray());
        }
    }

    [Fact]
    public void RoundTripsEveryDTypeThroughFileBytesAndStream()
    {
        using var dir = new TempDir();
        var tensors = AllDTypes();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcödé \"quoted\" <html>+" };
        string path = dir.File("all.safetensors");
        SafeTensors.Save(path, tensors, meta);

        var fromFile = SafeTensors.Load(path);
        AssertSame(tensors, fromFile);
        Assert.Equal(meta, fromFile.Metadata);

        var bytes = SafeTensors.Serialize(tensors, meta);
        Assert.Equal(File.ReadAllBytes(path), bytes);
        AssertSame(tensors, SafeTensors.Load(bytes));

        using var ms = new MemoryStream();
        SafeTensors.Save(ms, tensors);
        ms.Position = 0;
        var fromStream = SafeTensors.Load(ms);
        AssertSame(tensors, fromStream);
        Assert.Empty(fromStream.Metadata);
    }

    [Fact]
    public void LayoutFollowsTheSpec()
    {
        var bytes = SafeTensors.Serialize(new Dictionary<string, Tensor> { ["b"] = Tensor.From(new float[] { 1, 2 }), ["a"] = Tensor.From(new long[] { 3 }) });
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8); // header padded so the data starts 8-byte aligned
        Assert.Equal((byte)'{', bytes[8]);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Matches("^\\{.*\\} *$", header); // padding is spaces only
        using var doc = JsonDocument.Parse(header);
        Assert.Equal("F32", doc.RootElement.GetProperty("b").GetProperty("dtype").GetString());
        Assert.Equal("[0,8]", doc.RootElement.GetProperty("b").GetProperty("data_offsets").GetRawText());
        Assert.Equal("[8,16]", doc.RootElement.GetProperty("a").GetProperty("data_offsets").GetRawText());
        Assert.Equal(8 + (int)n + 16, bytes.Length);
        Assert.Equal(1f, BitConverter.ToSingle(bytes, 8 + (int)n)); // little-endian data
        Assert.Equal(3L, BitConverter.ToInt64(bytes, 8 + (int)n + 8));
    }

    [Fact]
    public void NonContiguousTensorsAreWrittenRowMajor()
    {
        var x = Tensor.From(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3).T();
        var back = SafeTensors.Load(SafeTensors.Serialize(new Dictionary<string, Tensor> { ["t"] = x }))["t"];
        Assert.Equal([3, 2], back.Shape.ToArray());
        Assert.Equal([1.0, 4, 2, 5, 3, 6], back.ToDoubleArray());
    }

    [Fact]
    public void LoadsAFileWrittenOnThePyTorchSide()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "fixtures");
        var loaded = SafeTensors.Load(Path.Combine(dir, "torch_linear.safetensors"));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "torch_linear.json")));
        var root = doc.RootElement;
        Assert.Equal(root.GetProperty("order").EnumerateArray().Select(e => e.GetString()!), loaded.Names);
        foreach (var m in root.GetProperty("metadata").EnumerateObject()) Assert.Equal(m.Value.GetString(), loaded.Metadata[m.Name]);
        foreach (var entry in root.GetProperty("tensors").EnumerateObject())
        {
            var t = loaded[entry.Name];
            var want = entry.Value;
            Assert.Equal(want.GetProperty("dtype").GetString(), t.DType.Name());
            Assert.Equal(want.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), t.Shape.ToArray());
            var data = want.GetProperty("data").EnumerateArray().ToArray();
            switch (t.DType)
            {
                case DType.Int64: Assert.Equal(data.Select(e => e.GetInt64()), t.ToArray<long>()); break;
                case DType.Bool: Assert.Equal(data.Select(e => e.GetBoolean()), t.ToArray<bool>()); break;
                default: Assert.Equal(data.Select(e => e.GetDouble()), t.ToDoubleArray()); break; // exact
            }
        }
        Assert.Equal([3, 4], loaded["weight"].Shape.ToArray()); // nn.Linear(4, 3) under PyTorch's names
        Assert.Equal(DType.Float32, loaded["half"].DType);       // F16 widened
        Assert.Equal(DType.Int64, loaded["int32"].DType);        // I32 widened

        // And back: DeepSharp's file of the same tensors reads back identically.
        var again = SafeTensors.Load(SafeTensors.Serialize(loaded.Tensors, loaded.Metadata));
        AssertSame(loaded.Tensors, again);
    }

    // ---- malformed files ----

    private static byte[] Raw(string header, int dataBytes, ulong? declaredLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    private static string Reject(byte[] file) => Assert.Throws<InvalidDataException>(() => SafeTensors.Load(file)).Message;

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap in the data section")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "trailing bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12, "run past the end")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "end before they begin")]
    [InlineData("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'Q7'")]
    [InlineData("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, "F8_E4M3 is not supported")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536],\"data_offsets\":[0,8]}}", 8, "overflow")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615],\"data_offsets\":[0,8]}}", 8, "larger than 2147483647")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "non-negative integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "must have 2 entries")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "missing field 'data_offsets'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8, "unknown field 'extra'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "duplicate entry 'a'")]
    [InlineData("{\"a\":[1,2]}", 0, "must be an object")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", 0, "must be a string")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "not valid JSON")]
    [InlineData("{not json}", 0, "not valid JSON")]
    [InlineData("[1, 2]", 0, "starting with '{'")]
    [InlineData("", 4, "starting with '{'")]
    public void RejectsMalformedHeaders(string header, int dataBytes, string expected)
    {
        string message = Reject(Raw(header, dataBytes));
        Assert.Contains(expected, message);
        Assert.StartsWith("safetensors buffer:", message);
    }

    [Fact]
    public void RejectsBadLengthsAndTruncation()
    {
        Assert.Contains("too short", Reject([1, 2, 3]));
        Assert.Contains("exceeds the 100000000-byte limit", Reject(Raw("{}", 0, declaredLength: 100_000_001)));
        Assert.Contains("exceeds the 100000000-byte limit", Reject(Raw("{}", 0, declaredLength: ulong.MaxValue)));
        Assert.Contains("larger than the 2 bytes", Reject(Raw("{}", 0, declaredLength: 50)));

        var good = SafeTensors.Serialize(AllDTypes());
        var truncated = good.AsSpan(0, good.Length - 3).ToArray();
        Assert.Contains("run past the end", Reject(truncated));
        Assert.Contains("header", Reject(good.AsSpan(0, 20).ToArray()));
    }

    [Fact]
    public void RejectsU64ValuesThatDoNotFitInt64()
    {
        var file = Raw("{\"big\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
        file.AsSpan(file.Length - 8).Fill(0xFF);
        Assert.Contains("too large for int64", Reject(file));
    }

    [Fact]
    public void AnEmptyHeaderObjectIsAValidEmptyFile()
    {
        var content = SafeTensors.Load(Raw("{}      ", 0));
        Assert.Empty(content.Tensors);
        Assert.Empty(SafeTensors.Load(SafeTensors.Serialize(new Dictionary<string, Tensor>())).Tensors);
    }

    [Fact]
    public void ErrorsFromFilesNameThePath()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, Raw("{oops", 0));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        var missing = Assert.Throws<KeyNotFoundException>(() => SafeTensors.Load(SafeTensors.Serialize(AllDTypes()))["nope"]);
        Assert.Contains("weight", missing.Message);
    }

    // ---- atomic saves ----

    [Fact]
    public void AFailedSaveLeavesTheExistingFileUntouched()
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        SafeTensors.Save(path, AllDTypes());
        var before = File.ReadAllBytes(path);

        // Invalid input: rejected before anything is written.
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["__metadata__"] = Tensor.Zeros(1) }));
        // The tensor source fails while being read.
        Assert.Throws<InvalidOperationException>(() => SafeTensors.Save(path, new ExplodingDictionary(AllDTypes())));
        // (A failure while bytes are being written is covered by AtomicFileTests, which SafeTensors.Save goes through.)

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    /// <summary>Throws after yielding a few entries.</summary>
    private sealed class ExplodingDictionary(Dictionary<string, Tensor> inner) : IReadOnlyDictionary<string, Tensor>
    {
        private int _enumerations;

        public Tensor this[string key] => inner[key];
        public IEnumerable<string> Keys => inner.Keys;
        public IEnumerable<Tensor> Values => inner.Values;
        public int Count => inner.Count;
        public bool ContainsKey(string key) => inner.ContainsKey(key);
        public bool TryGetValue(string key, out Tensor value) => inner.TryGetValue(key, out value!);

        public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
        {
            int n = ++_enumerations;
            int i = 0;
            foreach (var kv in inner)
            {
                if (i++ == 3) throw new InvalidOperationException($"source failed during enumeration {n}");
                yield return kv;
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [Fact]
    public void InvalidUtf8InTheHeaderIsInvalidData()
    {
        // Each threw InvalidOperationException ("Cannot transcode invalid UTF-8 JSON text to UTF-16").
        static byte[] WithBytes(string header, string marker, params byte[] replacement)
        {
            var file = Raw(header, 4);
            int at = file.AsSpan().IndexOf(Encoding.ASCII.GetBytes(marker));
            replacement.CopyTo(file, at);
            return file;
        }
        const string Header = """{"__metadata__":{"note":"vvvv"},"nnnn":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""";
        Assert.Contains("not valid UTF-8", Reject(WithBytes(Header, "nnnn", 0xFF, 0xFE, 0x41, 0x42)));       // tensor name
        Assert.Contains("not valid UTF-8", Reject(WithBytes(Header, "vvvv", 0xC3, 0x28, 0x41, 0x42)));       // metadata value
        Assert.Contains("not valid UTF-8", Reject(WithBytes(Header, "note", 0xED, 0xA0, 0x80, 0x41)));       // metadata key: an encoded surrogate
        Assert.Contains("not valid UTF-8", Reject(WithBytes(Header, "F32", 0xF8, 0x88, 0x80)));                  // dtype
        // JSON escapes of lone surrogates decode to no valid string either.
        Assert.Contains("not valid Unicode", Reject(Raw(Header.Replace("nnnn", "\\ud800"), 4)));
        // Valid multi-byte UTF-8 is fine.
        Assert.Equal(["é✓"], SafeTensors.Load(Raw(Header.Replace("nnnn", "é✓"), 4)).Names);
    }
}
