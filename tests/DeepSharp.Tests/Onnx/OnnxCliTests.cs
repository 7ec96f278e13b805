using DeepSharp.Models;
using DeepSharp.Serialization;
using DeepSharp.Tests.Cli;
using DeepSharp.Tests.Serialization;
using static DeepSharp.Tests.Onnx.OnnxTestHelpers;

namespace DeepSharp.Tests.Onnx;

/// <summary><c>deepsharp export</c> on weights saved as train saves them, run in ONNX Runtime.</summary>
public sealed class OnnxCliTests
{
    [Theory]
    [InlineData("lenet5", 7)]
    [InlineData("seq-gru", 10)]
    public void ExportWritesAModelThatOnnxRuntimeRuns(string name, int classes)
    {
        using var dir = new TempDir();
        var model = ModelZoo.Create(name, new ModelOptions(NumClasses: classes, Generator: new Generator(4)));
        string weights = dir.File("model.safetensors");
        SafeTensors.Save(weights, model.StateDict(), new Dictionary<string, string> { ["model"] = name });
        string onnx = dir.File("model.onnx");
        var r = CliProcess.Run(dir.Path, "export", "--weights", weights, "--out", onnx);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("opset 17", r.Stdout, StringComparison.Ordinal);
        model.Eval();
        var x = Tensor.Randn(3, 1, 28, 28);
        using var _ = DeepSharp.Autograd.NoGrad();
        AssertClose(model.Call(x), RunOrt(File.ReadAllBytes(onnx), x), 1e-4, name);

        var bad = CliProcess.Run(dir.Path, "export", "--weights", weights, "--out", onnx, "--input-shape", "1,x");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--input-shape", bad.All, StringComparison.Ordinal);
    }

    [Fact]
    public void ExportOfAGptTakesTheSequenceLengthAndRunsInOnnxRuntime()
    {
        using var dir = new TempDir();
        var gpt = new Gpt(new GptConfig(VocabSize: 10, Layers: 1, Heads: 2, Width: 8, Context: 12), generator: new Generator(5));
        string weights = dir.File("gpt.safetensors");
        gpt.Save(weights);
        string onnx = dir.File("gpt.onnx");
        var r = CliProcess.Run(dir.Path, "export", "--weights", weights, "--out", onnx, "--input-shape", "6");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("[batch, 6] int64 tokens", r.Stdout, StringComparison.Ordinal);
        gpt.Eval();
        var x = Tensor.Randint(0, 10, [2, 6], new Generator(1));
        using (DeepSharp.Autograd.NoGrad()) AssertClose(gpt.Call(x), RunOrt(File.ReadAllBytes(onnx), x), 1e-4, "gpt");

        var bad = CliProcess.Run(dir.Path, "export", "--weights", weights, "--out", onnx, "--input-shape", "13");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("from 1 to its context 12", bad.All, StringComparison.Ordinal);
    }
}
