namespace DeepSharp.Onnx;

internal static partial class OnnxOps
{
    private static void RegisterResize(Dictionary<string, Op> ops)
    {
    }
}
