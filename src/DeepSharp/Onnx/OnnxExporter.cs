using DeepSharp.NN;
using DeepSharp.Onnx.Proto;
using DeepSharp.Serialization;
using Google.Protobuf;

namespace DeepSharp.Onnx;

/// <summary>Settings of an ONNX export.</summary>
/// <param name="InputName">Name of the graph input.</param>
/// <param name="OutputName">Name of the graph output.</param>
/// <param name="BatchDim">Symbolic name of the first (batch) dimension of the input and output, so any batch size runs; null fixes the sample's size.</param>
/// <param name="GraphName">Name of the graph (the model's type name when null).</param>
public sealed record OnnxExportOptions(string InputName = "input", string OutputName = "output", string? BatchDim = "batch", string? GraphName = null);

/// <summary>
/// Writes a module as an ONNX model (opset 17, IR version 8) that ONNX Runtime and other ONNX tools run. The graph
/// is the module's eval-mode forward on inputs shaped like the sample (any batch size); parameters and buffers are
/// stored as initializers named by their state-dict keys. A module that cannot be exported fails with its name and type.
/// </summary>
public static class OnnxExporter
{
    /// <summary>The operator set version of exported models.</summary>
    public const int Opset = 17;

    /// <summary>IR version 8 goes with opset 17 (ONNX 1.12).</summary>
    public const int IrVersion = 8;

    /// <summary>Exports <paramref name="model"/> to <paramref name="path"/>, written atomically (a failed export leaves any previous file intact).</summary>
    public static void Export(Module<Tensor, Tensor> model, string path, Tensor sampleInput, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = ExportBytes(model, sampleInput, options);
        AtomicFile.WriteAllBytes(path, bytes);
    }

    /// <summary>The ONNX model file's bytes.</summary>
    public static byte[] ExportBytes(Module<Tensor, Tensor> model, Tensor sampleInput, OnnxExportOptions? options = null) =>
        Build(model, sampleInput, options).ToByteArray();

    internal static ModelProto Build(Module<Tensor, Tensor> model, Tensor sampleInput, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sampleInput);
        var o = options ?? new OnnxExportOptions();
        var modes = model.Modules().Select(m => (Module: m, m.Training)).ToList();
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            var g = new OnnxGraphBuilder(model, o.GraphName ?? model.TypeName);
            var input = g.Input(o.InputName, sampleInput.Detach(), o.BatchDim);
            var output = g.Module(model, input);
            g.Output(output, o.OutputName, o.BatchDim);
            var proto = new ModelProto
            {
                IrVersion = IrVersion,
                ProducerName = "DeepSharp",
                ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
                Graph = g.Graph,
            };
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            return proto;
        }
        finally
        {
            // Parents first, so each module ends with its own saved mode.
            foreach (var (m, training) in modes) m.Train(training);
        }
    }
}

/// <summary><c>model.ExportOnnx(path, sampleInput)</c>.</summary>
public static class OnnxModuleExtensions
{
    /// <summary>Exports the module's eval-mode forward as an ONNX model (see <see cref="OnnxExporter"/>).</summary>
    public static void ExportOnnx(this Module<Tensor, Tensor> model, string path, Tensor sampleInput, OnnxExportOptions? options = null) =>
        OnnxExporter.Export(model, path, sampleInput, options);
}
