namespace DeepSharp.Onnx;

// Signal-processing windows (opset 17): HannWindow, HammingWindow, BlackmanWindow, periodic (denominator N) or
// symmetric (N - 1), cosine sums w[k] = a0 - a1 cos(2 pi k / D) + a2 cos(4 pi k / D).
internal static partial class OnnxOps
{
    private static void RegisterSignal(Dictionary<string, Op> ops)
    {
        ops["HannWindow"] = n => One(Window(n, 0.5, 0.5, 0));
        ops["HammingWindow"] = n => One(Window(n, 25.0 / 46, 21.0 / 46, 0));
        ops["BlackmanWindow"] = n => One(Window(n, 0.42, 0.5, 0.08));
    }

    private static Tensor Window(OnnxNode n, double a0, double a1, double a2)
    {
        long size = n.IntsInput(0) is [var s] ? s : throw new InvalidDataException($"ONNX {n.Describe}: size must be one integer");
        if (size < 0 || size > int.MaxValue) throw new InvalidDataException($"ONNX {n.Describe}: window size {size}");
        double denominator = n.Int("periodic", 1) != 0 ? size : size - 1;
        var dtype = OnnxTensors.DTypeOf((int)n.Int("output_datatype", OnnxTensors.Float)) ?? throw n.Unsupported("this output_datatype");
        var values = new double[size];
        for (int k = 0; k < size; k++)
        {
            double angle = denominator == 0 ? 0 : 2 * Math.PI * k / denominator;
            values[k] = a0 - a1 * Math.Cos(angle) + a2 * Math.Cos(2 * angle);
        }
        return Tensor.From(values, (int)size).To(dtype);
    }
}
