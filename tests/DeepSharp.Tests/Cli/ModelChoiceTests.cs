using System.CommandLine;
using System.Text.RegularExpressions;
using DeepSharp.Cli.Commands;
using DeepSharp.Cli.Support;
using DeepSharp.Models;
using DeepSharp.Serialization;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

/// <summary>
/// Which models each command takes is said the same way everywhere (help text, errors) and is what the command
/// really accepts; weights can be given as a run folder, and say which model they belong to.
/// </summary>
public sealed partial class ModelChoiceTests
{
    [GeneratedRegex(@"available: ([a-z0-9_\-, ]+)")]
    private static partial Regex AvailablePattern();

    /// <summary>The model names in a --model description ("model: a, b (classifiers); c, d (...)"), in order.</summary>
    private static List<string> ListedModels(string description)
    {
        var text = description[(description.IndexOf("model: ", StringComparison.Ordinal) + 7)..];
        int end = text.IndexOf(" (default", StringComparison.Ordinal);
        if (end >= 0) text = text[..end];
        text = Regex.Replace(text, @"\([^)]*\)", "");
        int rule = text.IndexOf("; conv nets", StringComparison.Ordinal);
        if (rule >= 0) text = text[..rule];
        return text.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    private static Command Create(string command) => command switch
    {
        "train" => TrainCommand.Create(),
        "summary" => SummaryCommand.Create(),
        "eval" => EvalCommand.Create(),
        "predict" => PredictCommand.Create(),
        _ => InspectCommand.Create(),
    };

    [Theory]
    [InlineData("train", true)]
    [InlineData("summary", true)]
    [InlineData("eval", false)]
    [InlineData("predict", false)]
    [InlineData("inspect", false)]
    public void HelpAndErrorsListTheSameModelsAndTheCommandTakesThem(string command, bool languageModels)
    {
        var option = Create(command).Options.Single(o => o.Name == "--model");
        var listed = ListedModels(option.Description!);
        List<string> expected = [.. ModelZoo.Names.Keys, .. languageModels ? new[] { "char-lstm", "char-gru", "gpt" } : []];
        Assert.Equal(expected, listed);

        using var dir = new TempDir();
        string[] rest = command switch
        {
            "train" => ["--out", dir.File("out")],
            "summary" => [],
            "eval" => ["--weights", dir.File("w.safetensors")],
            "predict" => ["--weights", dir.File("w.safetensors"), "--input", dir.File("x.png")],
            _ => ["--weights", dir.File("w.safetensors"), "--input", dir.File("x.png"), "--out", dir.File("out")],
        };
        var r = CliProcess.Run(dir.Path, [command, "--model", "no-such-model", .. rest]);
        Assert.NotEqual(0, r.ExitCode);
        var match = AvailablePattern().Match(r.Stderr);
        Assert.True(match.Success, r.ToString());
        Assert.Equal(listed, match.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        Assert.False(Directory.Exists(dir.File("out")));

        foreach (var name in listed)
        {
            if (command == "summary") Assert.Contains("Total params", SummaryCommand.Table(name, null, null), StringComparison.Ordinal);
            if (command == "train") TrainCommand.Validate(new TrainCommand.TrainSettings(name, "fashion-mnist", null, null, 1, 64, null, "adam", "cosine", null, 1, null, null, null));
        }
    }

    /// <summary>The table deepsharp summary prints (the command must succeed).</summary>
    private static string Summary(params string[] args)
    {
        using var dir = new TempDir();
        var r = CliProcess.Run(dir.Path, ["summary", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stdout;
    }

    [Theory]
    [InlineData("resnet18", 11_689_512)]
    [InlineData("resnet34", 21_797_672)]
    public void SummaryReachesTorchvisionsImageNetConfiguration(string model, long parameters)
    {
        var table = Summary("--model", model, "--input-shape", "3,224,224", "--classes", "1000");
        Assert.Contains($"Total params: {parameters:N0}", table, StringComparison.Ordinal);
        // ImageNet stem: 7x7 stride-2 conv (3*64*49 = 9,408 weights) to 112x112, then a 3x3 stride-2 max-pool to 56x56.
        Assert.Matches(@"conv1 \(Conv2d\)\s+\[1, 64, 112, 112\]\s+9,408", table);
        Assert.Matches(@"maxpool \(MaxPool2d\)\s+\[1, 64, 56, 56\]", table);
        Assert.Matches(@"fc \(Linear\)\s+\[1, 1000\]\s+513,000", table);
    }

    [Fact]
    public void SummaryHonoursTheChannelCountAndUsesTheSmallStemOnlyForSmallImages()
    {
        // 3x32x32 (CIFAR): small-image stem, 3 input channels (3*64*9 = 1,728 weights), no max-pool.
        var cifar = Summary("--model", "resnet18", "--input-shape", "3,32,32");
        Assert.Matches(@"conv1 \(Conv2d\)\s+\[1, 64, 32, 32\]\s+1,728", cifar);
        Assert.Matches(@"maxpool \(Identity\)", cifar);
        // One channel at 64x64 (the limit): the ImageNet stem with 1*64*49 = 3,136 weights.
        var gray = Summary("--model", "resnet18", "--input-shape", "1,64,64");
        Assert.Matches(@"conv1 \(Conv2d\)\s+\[1, 64, 32, 32\]\s+3,136", gray);
        Assert.Matches(@"maxpool \(MaxPool2d\)\s+\[1, 64, 16, 16\]", gray);
        // The rule is in the help text.
        Assert.Contains("64x64", SummaryCommand.Create().Options.Single(o => o.Name == "--input-shape").Description!, StringComparison.Ordinal);
        var lstm = Summary("--model", "char-lstm");
        Assert.Contains("[1, 100, 65]", lstm, StringComparison.Ordinal);
    }

    [Fact]
    public void ExamplesWithoutANameListsThem()
    {
        using var dir = new TempDir();
        var r = CliProcess.Run(dir.Path, "examples");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var name in new[] { "xor", "linear-regression", "logistic-regression", "softmax-regression", "vanishing-gradients", "seq2seq" })
            Assert.Matches($@"(?m)^  {Regex.Escape(name)}\s+\S", r.Stdout);
    }

    /// <summary>An untrained mlp saved as train saves it (model name in the metadata), in DIR/run/model.safetensors; a 28x28 PGM image.</summary>
    private static (string Run, string Image) MlpRun(TempDir dir)
    {
        var run = dir.File("run");
        Directory.CreateDirectory(run);
        var model = ModelZoo.Create("mlp", new ModelOptions(Generator: new Generator(3)));
        SafeTensors.Save(Path.Combine(run, "model.safetensors"), model.StateDict(), new Dictionary<string, string> { ["model"] = "mlp" });
        var pixels = Enumerable.Range(0, 28 * 28).Select(i => (byte)(i % 28 * 9)).ToArray();
        var image = dir.File("x.pgm");
        File.WriteAllBytes(image, [.. "P5\n28 28\n255\n"u8, .. pixels]);
        return (run, image);
    }

    [Fact]
    public void PredictAndInspectTakeARunFolderAndTheModelFromTheWeights()
    {
        using var dir = new TempDir();
        var (run, image) = MlpRun(dir);
        var predict = CliProcess.Run(dir.Path, "predict", "--weights", run, "--input", image);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        Assert.Contains("Ankle boot", predict.Stdout, StringComparison.Ordinal);

        var inspect = CliProcess.Run(dir.Path, "inspect", "--weights", run, "--input", image, "--method", "all", "--out", dir.File("inspect"));
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Matches(@"gradcam\s.*skipped: the model has no conv-like layer", inspect.Stdout);
        foreach (var m in new[] { "saliency", "smoothgrad", "ig", "occlusion" }) Assert.True(File.Exists(Path.Combine(dir.File("inspect"), m + ".png")), m);
        Assert.False(File.Exists(Path.Combine(dir.File("inspect"), "gradcam.png")));
    }

    [Fact]
    public void WeightsOfAnotherModelNameTheModelTheyWereSavedFrom()
    {
        using var dir = new TempDir();
        var (run, image) = MlpRun(dir);
        var r = CliProcess.Run(dir.Path, "predict", "--model", "lenet5", "--weights", Path.Combine(run, "model.safetensors"), "--input", image);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("holds the weights of model 'mlp', not 'lenet5'; use --model mlp", r.Stderr, StringComparison.Ordinal);

        // A file without the name still fails clearly and says it cannot tell.
        var bare = dir.File("bare.safetensors");
        SafeTensors.Save(bare, ModelZoo.Create("mlp").StateDict());
        var b = CliProcess.Run(dir.Path, "predict", "--model", "lenet5", "--weights", bare, "--input", image);
        Assert.NotEqual(0, b.ExitCode);
        Assert.Contains("does not fit lenet5 (the file does not say which model it was saved from)", b.Stderr, StringComparison.Ordinal);
        Assert.Single(b.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void ModelCatalogListsEveryZooModelAndTheLanguageModels()
    {
        Assert.Equal([.. ModelZoo.Names.Keys, "char-lstm", "char-gru", "gpt"], ModelCatalog.All);
    }
}
