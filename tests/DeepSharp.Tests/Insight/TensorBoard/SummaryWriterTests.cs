using System.Text;
using DeepSharp.Data;
using DeepSharp.Insight.TensorBoard;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Insight.TensorBoard;

/// <summary>Event files read back with a parser written from the format's rules (records, CRCs, protobuf wire format).</summary>
public sealed class SummaryWriterTests
{
    [Fact]
    public void Crc32CMatchesTheCastagnoliCheckValue()
    {
        Assert.Equal(0xE3069283u, TfRecord.Crc32C("123456789"u8));
        Assert.Equal(0u, TfRecord.Crc32C([]));
        var data = Encoding.ASCII.GetBytes("the tfevents record format masks its CRCs");
        uint crc = TfRecord.Crc32C(data);
        Assert.Equal(((crc >> 15) | (crc << 17)) + 0xa282ead8, TfRecord.MaskedCrc32C(data));
    }

    [Fact]
    public void TheFileIsNamedAndStartsLikePyTorchs()
    {
        using var dir = new TempDir();
        string path;
        using (var writer = new SummaryWriter(dir.Path)) path = writer.FilePath;
        Assert.Matches(@"^events\.out\.tfevents\.\d{10}\.[^.]+\.\d+\.\d+$", Path.GetFileName(path));
        var events = EventFileReader.Read(path);
        var first = Assert.Single(events);
        Assert.Equal("brain.Event:2", first.FileVersion);
        Assert.InRange(first.WallTime, (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds - 60, (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds + 1);
    }

    [Fact]
    public void ScalarsReadBackWithTheirStepsAndWallTimes()
    {
        using var dir = new TempDir();
        string path;
        using (var writer = new SummaryWriter(dir.Path))
        {
            path = writer.FilePath;
            for (int step = 0; step < 300; step++) writer.AddScalar("train/loss", 1.0 / (step + 1), step, wallTime: 1_700_000_000.25 + step);
            writer.AddScalar("big step", -2.5, 5_000_000_000L, wallTime: 1e9);
            writer.AddScalar("now", 3);
        }
        var events = EventFileReader.Read(path).Skip(1).ToList();
        Assert.Equal(302, events.Count);
        for (int step = 0; step < 300; step++)
        {
            var e = events[step];
            Assert.Equal(step, e.Step);
            Assert.Equal(1_700_000_000.25 + step, e.WallTime);
            var value = Assert.Single(e.Values);
            Assert.Equal("train/loss", value.One(1)!.AsString);
            Assert.Equal((float)(1.0 / (step + 1)), value.One(2)!.AsFloat);
        }
        Assert.Equal((5_000_000_000L, 1e9, -2.5f), (events[300].Step, events[300].WallTime, events[300].Values[0].One(2)!.AsFloat));
        Assert.True(events[301].WallTime > 1.7e9, "a wall time not given is the time of the call");
    }

    [Fact]
    public void HistogramsImagesAndTextFollowTheSummaryMessages()
    {
        using var dir = new TempDir();
        var image = new Image(3, 2, 3, [.. Enumerable.Range(0, 18).Select(i => (byte)(i * 10))]);
        string path;
        using (var writer = new SummaryWriter(dir.Path))
        {
            path = writer.FilePath;
            writer.AddHistogram("w", [0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5], step: 7, bins: 4);
            writer.AddImage("img", image, step: 8);
            writer.AddText("note", "héllo *world*", step: 9);
            writer.AddText("note", "again", step: 10);
        }
        var events = EventFileReader.Read(path);
        var histo = events[1].Values[0].One(5)!.AsMessage;
        Assert.Equal((0.0, 9.5, 10.0, 45.5), (histo.One(1)!.AsDouble, histo.One(2)!.AsDouble, histo.One(3)!.AsDouble, histo.One(4)!.AsDouble));
        Assert.Equal(new[] { 0, 1, 4, 9, 16, 25, 36, 49, 64, 90.25 }.Sum(), histo.One(5)!.AsDouble);
        Assert.Equal(new[] { 2.375, 4.75, 7.125, 9.5 }, histo.One(6)!.PackedDoubles());
        Assert.Equal(new[] { 3.0, 2, 3, 2 }, histo.One(7)!.PackedDoubles());

        var img = events[2].Values[0].One(4)!.AsMessage;
        Assert.Equal((2ul, 3ul, 3ul), (img.One(1)!.Number, img.One(2)!.Number, img.One(3)!.Number));
        var decoded = Image.Decode(img.One(4)!.Bytes!);
        Assert.Equal(image.Pixels, decoded.Pixels);

        var text = events[3].Values[0];
        Assert.Equal("text", text.One(9)!.AsMessage.One(1)!.AsMessage.One(1)!.AsString); // plugin_name, on the tag's first value only
        Assert.Null(events[4].Values[0].One(9));
        var tensor = text.One(8)!.AsMessage;
        Assert.Equal(7ul, tensor.One(1)!.Number); // DT_STRING
        Assert.Equal("héllo *world*", tensor.One(8)!.AsString);
        Assert.Equal((9L, 10L), (events[3].Step, events[4].Step));
    }

    [Fact]
    public void ACorruptedRecordIsDetectedByItsCrc()
    {
        using var dir = new TempDir();
        string path;
        using (var writer = new SummaryWriter(dir.Path))
        {
            path = writer.FilePath;
            writer.AddScalar("a", 1, 1);
            writer.AddScalar("a", 2, 2);
        }
        var bytes = File.ReadAllBytes(path);
        int last = bytes.Length - 6; // inside the data of the last record
        bytes[last] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => EventFileReader.Read(path));
        Assert.Contains("data CRC mismatch", e.Message, StringComparison.Ordinal);

        bytes[last] ^= 0x01;
        bytes[2] ^= 0x40; // the first record's length
        File.WriteAllBytes(path, bytes);
        Assert.Contains("length CRC mismatch", Assert.Throws<InvalidDataException>(() => EventFileReader.Read(path)).Message, StringComparison.Ordinal);
    }
}
