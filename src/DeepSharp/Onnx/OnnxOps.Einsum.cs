namespace DeepSharp.Onnx;

internal static partial class OnnxOps
{
    private static void RegisterEinsum(Dictionary<string, Op> ops)
    {
    }
}
