using DeepSharp.Data;
using DeepSharp.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

public sealed class CheckpointTests
{
    /// <summary>A valid checkpoint of a rig with its 'deepsharp' metadata replaced (or removed, when null) and tensors edited.</summary>
    private static byte[] Edit(CheckpointRig source, Func<string, string?> metadata, Action<Dictionary<string, Tensor>>? tensors = null)
    {
        var content = SafeTensors.Load(source.Save());
        var t = content.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        tensors?.Invoke(t);
        var meta = content.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        var edited = metadata(meta["deepsharp"]);
        if (edited is null) meta.Remove("deepsharp");
        else meta["deepsharp"] = edited;
        return SafeTensors.Serialize(t, meta);
    }

    /// <summary>Loading <paramref name="file"/> fails with InvalidDataException and leaves the target rig exactly as it was.</summary>
    private static string RejectWithoutChange(byte[] file)
    {
        var target = new CheckpointRig(seed: 77, steps: 2);
        string before = target.Fingerprint();
        var e = Record.Exception(() => target.Load(file));
        Assert.True(e is InvalidDataException, $"expected InvalidDataException, got {e?.GetType().Name ?? "none"}: {e?.Message}");
        Assert.StartsWith("checkpoint rig: ", e!.Message);
        Assert.Equal(before, target.Fingerprint());
        return e.Message;
    }

    private static string Json(string original, string field, string value) =>
        System.Text.RegularExpressions.Regex.Replace(original, $"\"{field}\":\\s*(\"[^\"]*\"|\\[[^\\]]*\\]|[^,}}]+)", $"\"{field}\": {value}");

    [Fact]
    public void ARoundTripRestoresEverything()
    {
        var source = new CheckpointRig(seed: 5, steps: 3);
        var target = new CheckpointRig(seed: 77, steps: 2);
        var progress = target.Load(source.Save(epoch: 4, step: 9, loader: new DataLoaderState(4, 123, 56, 7)));
        Assert.Equal(source.Fingerprint(), target.Fingerprint());
        Assert.Equal(new CheckpointProgress(4, 9, new DataLoaderState(4, 123, 56, 7)), progress);
    }

    [Fact]
    public void AGeneratorCheckFailingAfterTheModelChecksLeavesEverythingUnchanged()
    {
        // The partial load: model, optimizer and scheduler were overwritten before the generator checks failed.
        var source = new CheckpointRig(seed: 5);
        Assert.Contains("seed", RejectWithoutChange(Edit(source, m => Json(m, "Generators", """["1:2","x:3"]"""))));
        Assert.Contains("holds 1 generator states but 2", RejectWithoutChange(Edit(source, m => Json(m, "Generators", """["1:2"]"""))));
        // A scheduler that does not fit, after a model and optimizer that do.
        Assert.Contains("scheduler state does not fit", RejectWithoutChange(Edit(source, m => m, t => t.Remove("scheduler.last_epoch"))));
        Assert.Contains("optimizer state does not fit", RejectWithoutChange(Edit(source, m => m, t => t["optimizer.state.0.exp_avg"] = Tensor.Zeros([2, 2]))));
        Assert.Contains("model state does not fit", RejectWithoutChange(Edit(source, m => m, t => t["model.1.bias"] = Tensor.Zeros([3]))));
    }

    [Fact]
    public void MissingOrNullGeneratorEntriesAreInvalidData()
    {
        var source = new CheckpointRig(seed: 5);
        // Each threw NullReferenceException.
        Assert.Contains("no 'Generators'", RejectWithoutChange(Edit(source, m => m.Replace("\"Generators\"", "\"Other\""))));
        Assert.Contains("'Generators' must be an array", RejectWithoutChange(Edit(source, m => Json(m, "Generators", "null"))));
        Assert.Contains("generator state 1 must be a \"seed:offset\" string, found null", RejectWithoutChange(Edit(source, m => Json(m, "Generators", """["1:2",null]"""))));
        Assert.Contains("generator state 0 '5' has 1 field(s), expected 2", RejectWithoutChange(Edit(source, m => Json(m, "Generators", """["5","1:2"]"""))));
    }

    [Fact]
    public void ALoaderWithTooFewFieldsOrBadNumbersIsInvalidData()
    {
        var source = new CheckpointRig(seed: 5);
        Assert.Contains("'Loader' '1:2:3' has 3 field(s), expected 4 or 5", RejectWithoutChange(Edit(source, m => Json(m, "Loader", "\"1:2:3\""))));     // IndexOutOfRange
        Assert.Contains("loader batch '99999999999'", RejectWithoutChange(Edit(source, m => Json(m, "Loader", "\"1:2:3:99999999999\""))));      // Overflow
        Assert.Contains("loader offset '-3'", RejectWithoutChange(Edit(source, m => Json(m, "Loader", "\"1:2:-3:4\""))));
        Assert.Contains("loader seed 'x'", RejectWithoutChange(Edit(source, m => Json(m, "Loader", "\"1:x:3:4\""))));                           // Format
        Assert.Contains("generator state 0 offset '-1'", RejectWithoutChange(Edit(source, m => Json(m, "Generators", """["1:-1","1:2"]"""))));
        Assert.Contains("generator state 0 seed '18446744073709551616'", RejectWithoutChange(Edit(source, m => Json(m, "Generators", """["18446744073709551616:1","1:2"]"""))));
        var target = new CheckpointRig(seed: 77);
        Assert.Null(target.Load(Edit(source, m => Json(m, "Loader", "null"))).Loader);
    }

    [Fact]
    public void BadMetadataIsInvalidDataNotJsonException()
    {
        var source = new CheckpointRig(seed: 5);
        Assert.Contains("not valid JSON", RejectWithoutChange(Edit(source, m => m[..^3])));                                                       // JsonException
        Assert.Contains("must be a JSON object", RejectWithoutChange(Edit(source, _ => "[1,2]")));
        Assert.Contains("format", RejectWithoutChange(Edit(source, m => Json(m, "Format", "\"v0\""))));
        Assert.Contains("'Epoch' must be a non-negative 32-bit integer, found 1e99", RejectWithoutChange(Edit(source, m => Json(m, "Epoch", "1e99"))));
        Assert.Contains("'Epoch' must be a non-negative 32-bit integer, found \"2\"", RejectWithoutChange(Edit(source, m => Json(m, "Epoch", "\"2\""))));
        Assert.Contains("'Step' must be a non-negative 64-bit integer, found -1", RejectWithoutChange(Edit(source, m => Json(m, "Step", "-1"))));
        Assert.Contains("not a DeepSharp checkpoint", RejectWithoutChange(Edit(source, _ => null)));
    }

    [Fact]
    public void ASafetensorsErrorIsReportedAsIs()
    {
        var file = new CheckpointRig(seed: 5).Save();
        Assert.Contains("safetensors", Assert.Throws<InvalidDataException>(() => new CheckpointRig(seed: 77).Load(file[..^1])).Message);
        Assert.Contains("\"Format\"", SafeTensors.Load(file).Metadata["deepsharp"]); // the metadata layout these tests edit
    }
}
