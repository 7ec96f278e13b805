using DeepSharp.Serialization;
using DeepSharp.Tests.Data.Images;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary><c>train --data images:DIR</c>, then <c>predict</c> on a JPEG and <c>eval</c> with the weights it wrote.</summary>
public sealed class ImageFolderCliTests
{
    [Fact]
    public void TrainOnAFolderOfImagesThenPredictAJpegAndEvaluate()
    {
        using var dir = new TempDir();
        string root = ImageFolderDatasetTests.WriteFolder(dir, ["dark", "mid", "light"], 12, width: 10, height: 7);
        var train = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "images:" + root, "--image-size", "8", "--epochs", "2", "--batch-size", "8", "--out", dir.File("run"));
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("26 train / 5 validation / 5 test", train.Stdout, StringComparison.Ordinal);
        var saved = SafeTensors.Load(dir.File("run/model.safetensors"));
        Assert.Equal("dark\nlight\nmid", saved.Metadata["classes"]);
        Assert.Equal(("3", "8"), (saved.Metadata["input_channels"], saved.Metadata["image_size"]));

        string jpeg = Path.Combine(AppContext.BaseDirectory, "fixtures", "images", "baseline.jpg");
        var predict = CliProcess.Run(dir.Path, "predict", "--weights", dir.File("run"), "--input", jpeg);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        foreach (var name in new[] { "dark", "mid", "light" }) Assert.Contains(name, predict.Stdout, StringComparison.Ordinal);

        var eval = CliProcess.Run(dir.Path, "eval", "--weights", dir.File("run"), "--data", "images:" + root);
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.Contains("test (5 samples)", eval.Stdout, StringComparison.Ordinal);

        var broken = dir.File("broken.jpg");
        File.WriteAllText(broken, "not a jpeg");
        var bad = CliProcess.Run(dir.Path, "predict", "--weights", dir.File("run"), "--input", broken);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("broken.jpg", bad.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void AFolderWithoutClassFoldersIsAOneLineErrorAndLeavesNothingBehind()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("flat"));
        var r = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "images:" + dir.File("flat"), "--out", dir.File("run"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("has no sub-folders", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("run")));
        var missing = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "images:" + dir.File("nowhere"), "--out", dir.File("run"));
        Assert.Contains("image folder", missing.Stderr, StringComparison.Ordinal);
        var size = CliProcess.Run(dir.Path, "train", "--model", "mlp", "--data", "images:" + dir.File("flat"), "--image-size", "3");
        Assert.Contains("--image-size must be between 8 and 1024", size.Stderr, StringComparison.Ordinal);
    }
}
