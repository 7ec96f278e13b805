using DeepSharp.NN;
using DeepSharp.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DeepSharp.Tests.Onnx;

/// <summary>Runs ONNX files in ONNX Runtime and compares with DeepSharp.</summary>
internal static class OnnxTestHelpers
{
    /// <summary>The first output of <paramref name="model"/> run by ONNX Runtime on <paramref name="input"/> (fed as the graph's first input).</summary>
    public static Tensor RunOrt(byte[] model, Tensor input)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        string name = session.InputMetadata.Keys.First();
        int[] dims = input.ShapeArray;
        NamedOnnxValue value = input.DType switch
        {
            DType.Float32 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(input.ToArray<float>(), dims)),
            DType.Float64 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<double>(input.ToArray<double>(), dims)),
            DType.Int64 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(input.ToArray<long>(), dims)),
            _ => throw new ArgumentException($"RunOrt: unsupported input dtype {input.DType}"),
        };
        using var results = session.Run([value]);
        var first = results[0];
        if (first.Value is DenseTensor<double> d) return Tensor.From(d.ToArray(), d.Dimensions.ToArray());
        var t = first.AsTensor<float>();
        return Tensor.From(t.ToArray(), t.Dimensions.ToArray());
    }

    /// <summary>Asserts |actual - expected| &lt;= rtol * max(1, |expected|) element-wise, with the same shape.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double rtol, string what)
    {
        Assert.True(expected.ShapeArray.SequenceEqual(actual.ShapeArray),
            $"{what}: shape {Shapes.Format(actual.ShapeArray)} != expected {Shapes.Format(expected.ShapeArray)}");
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs(a[i] - e[i]) / Math.Max(1, Math.Abs(e[i]));
            if (!(err <= worst)) { worst = err; at = i; }
        }
        Assert.True(worst <= rtol, $"{what}: element {at} is {(at >= 0 ? a[at] : 0)}, expected {(at >= 0 ? e[at] : 0)} (relative error {worst:g3} > {rtol:g3})");
    }

    /// <summary>Gives batch-norm running statistics random values, so that eval-mode normalisation is not the identity.</summary>
    public static void RandomizeRunningStats(Module model, Generator g)
    {
        using var _ = DeepSharp.Autograd.NoGrad();
        foreach (var (name, buffer) in model.NamedBuffers())
        {
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) buffer.CopyFrom(Tensor.Randn(buffer.ShapeArray, g, buffer.DType) * 0.1);
            else if (name.EndsWith("running_var", StringComparison.Ordinal)) buffer.CopyFrom(Tensor.Rand(buffer.ShapeArray, g, buffer.DType) + 0.5);
        }
    }

    /// <summary>
    /// Writes an exported file into the folder named by DEEPSHARP_ONNX_EXPORT_DIR, when it is set, for the official
    /// ONNX checker to read: CI's onnxcheck leg runs the export tests so, then scripts/check_onnx.py over the folder.
    /// </summary>
    public static void KeepForChecker(byte[] bytes, string name)
    {
        if (Environment.GetEnvironmentVariable("DEEPSHARP_ONNX_EXPORT_DIR") is not { Length: > 0 } dir) return;
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, name + ".onnx"), bytes);
    }

    /// <summary>
    /// The ONNX checker rules that apply to our files: nodes in topological order (every input defined before use),
    /// every value typed, initializer and value names unique, an opset import.
    /// </summary>
    public static void AssertValidGraph(byte[] bytes)
    {
        var model = ModelProto.Parser.ParseFrom(bytes);
        Assert.NotEmpty(model.OpsetImport);
        var graph = model.Graph;
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in graph.Initializer) Assert.True(defined.Add(i.Name), $"initializer '{i.Name}' is defined twice");
        foreach (var i in graph.Input) Assert.True(defined.Add(i.Name) || graph.Initializer.Any(t => t.Name == i.Name), $"input '{i.Name}' is defined twice");
        var typed = new HashSet<string>(graph.ValueInfo.Concat(graph.Output).Concat(graph.Input).Select(v => v.Name), StringComparer.Ordinal);
        foreach (var v in graph.ValueInfo.Concat(graph.Output).Concat(graph.Input))
            Assert.True(v.Type?.TensorType is { ElemType: > 0 }, $"value '{v.Name}' has no element type");
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
                Assert.True(input.Length == 0 || defined.Contains(input), $"node {node.Name} ({node.OpType}) uses '{input}' before it is defined");
            foreach (var output in node.Output)
            {
                Assert.True(defined.Add(output), $"value '{output}' is produced twice");
                Assert.True(typed.Contains(output), $"value '{output}' of node {node.Name} has no type");
            }
        }
        foreach (var output in graph.Output) Assert.True(defined.Contains(output.Name), $"graph output '{output.Name}' is never produced");
    }
}
