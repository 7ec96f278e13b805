using DeepSharp.Serialization;
using DeepSharp.Tests.Data.Images;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>
/// <c>train</c> sizes the model from the dataset it loaded (channels, image size, feature count), never from
/// Fashion-MNIST's 1x28x28: a table trains the models that take feature vectors, images of any size the image
/// models, and a model that cannot take the dataset's shape is a one-line error that leaves no run folder.
/// </summary>
public sealed class DatasetShapeCliTests
{
    private static CliResult Train(TempDir dir, string model, string data, params string[] extra) =>
        CliProcess.Run(dir.Path, ["train", "--model", model, "--data", data, "--epochs", "1", "--batch-size", "16", "--out", dir.File("run-" + model), .. extra]);

    [Theory]
    [InlineData("mlp")]
    [InlineData("softmax")]
    [InlineData("logreg")]
    public void ATableOfTwelveFeaturesTrainsTheFeatureModels(string model)
    {
        using var dir = new TempDir();
        string csv = CliProcess.WriteTinyCsv(dir.Path, rows: 90, features: 12);
        var r = Train(dir, model, "csv:" + csv);
        Assert.True(r.ExitCode == 0, r.ToString());
        var saved = SafeTensors.Load(dir.File($"run-{model}/model.safetensors"));
        // A table has no image layout: the weights say so, and their first layer takes the 12 features.
        Assert.Equal(("0", "0"), (saved.Metadata["input_channels"], saved.Metadata["image_size"]));
        Assert.Equal(12, saved.Tensors[model == "logreg" ? "linear.weight" : model == "softmax" ? "1.weight" : "0.weight"].Size(1));

        var eval = CliProcess.Run(dir.Path, "eval", "--weights", dir.File("run-" + model), "--data", "csv:" + csv);
        Assert.True(eval.ExitCode == 0, eval.ToString());

        string jpeg = Path.Combine(AppContext.BaseDirectory, "fixtures", "images", "baseline.jpg");
        var predict = CliProcess.Run(dir.Path, "predict", "--weights", dir.File("run-" + model), "--input", jpeg);
        Assert.NotEqual(0, predict.ExitCode);
        Assert.Contains("was trained on a table of features, and predict classifies images", predict.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lenet5")]
    [InlineData("resnet20")]
    [InlineData("seq-gru")]
    public void AnImageModelOnATableIsAOneLineErrorNamingBothAndLeavesNoRunFolder(string model)
    {
        using var dir = new TempDir();
        string csv = CliProcess.WriteTinyCsv(dir.Path, rows: 30, features: 12);
        var r = Train(dir, model, "csv:" + csv);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"--model {model} takes images [C, H, W], but csv:{csv} holds rows of 12 features", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("mlp, logreg, softmax", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("run-" + model)));
    }

    [Fact]
    public void ACsvOfSquarePixelColumnsIsAGrayImageForTheConvNetsAndTooSmallImagesSaySo()
    {
        using var dir = new TempDir();
        string pixels = CliProcess.WriteTinyCsv(dir.Path, rows: 60, features: 256); // 16x16
        var r = Train(dir, "lenet5", "csv:" + pixels);
        Assert.True(r.ExitCode == 0, r.ToString());
        var saved = SafeTensors.Load(dir.File("run-lenet5/model.safetensors"));
        Assert.Equal(("1", "16"), (saved.Metadata["input_channels"], saved.Metadata["image_size"]));
        Assert.Equal([6, 1, 5, 5], saved.Tensors["0.weight"].ShapeArray);

        string small = CliProcess.WriteTinyCsv(dir.Path, rows: 30, features: 16); // 4x4: smaller than LeNet-5's 12x12
        var lenet = Train(dir, "lenet5", "csv:" + small);
        Assert.NotEqual(0, lenet.ExitCode);
        Assert.Contains($"--model lenet5 cannot take the 1x4x4 images of csv:{small}: ImageSize 4 is too small; this model needs images of at least 12x12",
            lenet.Stderr, StringComparison.Ordinal);
        var cnn = Train(dir, "cnn", "csv:" + small); // the compact cnn takes images from 4x4
        Assert.True(cnn.ExitCode == 0, cnn.ToString());
    }

    [Theory]
    [InlineData("lenet5")]
    [InlineData("resnet20")]
    [InlineData("mlp")]
    public void AFolderOf3x32x32ImagesTrainsTheModelsThatTakeThemWithAugmentation(string model)
    {
        using var dir = new TempDir();
        string root = ImageFolderDatasetTests.WriteFolder(dir, ["dark", "mid", "light"], 6, width: 40, height: 36);
        var r = Train(dir, model, "images:" + root, "--image-size", "32", "--augment", "flip,crop");
        Assert.True(r.ExitCode == 0, r.ToString());
        var saved = SafeTensors.Load(dir.File($"run-{model}/model.safetensors"));
        Assert.Equal(("3", "32"), (saved.Metadata["input_channels"], saved.Metadata["image_size"]));
        var (stem, inputs) = model switch { "lenet5" => ("0.weight", 3), "resnet20" => ("conv1.weight", 3), _ => ("0.weight", 3 * 32 * 32) };
        Assert.Equal(inputs, saved.Tensors[stem].Size(1));
    }

    [Fact]
    public void AugmentingATableIsAClearError()
    {
        using var dir = new TempDir();
        string csv = CliProcess.WriteTinyCsv(dir.Path, rows: 30, features: 12);
        var r = Train(dir, "mlp", "csv:" + csv, "--augment", "flip");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"--augment applies to images; csv:{csv} holds rows of 12 features", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("run-mlp")));
    }
}
