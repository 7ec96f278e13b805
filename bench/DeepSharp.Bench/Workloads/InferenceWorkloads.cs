using System.Diagnostics;
using DeepSharp.Inference;
using DeepSharp.Models;
using DeepSharp.NN;

namespace DeepSharp.Bench.Workloads;

/// <summary>
/// Inference latency in µs of the zoo's mlp, lenet5 and resnet20 (default options: 1x28x28 images, 10 classes, the
/// inputs of the TorchSharp and ONNX Runtime peers) at batch 1 and 64: NAME_infer_bB_us through
/// <see cref="InferenceModel"/>, NAME_infer_bB_eager_us through the eval-mode model under no-grad. Warm-up for a
/// second, then the best of five rounds of ~0.25 s, each the mean latency of its calls (bench/OrtPeer times the same way).
/// </summary>
internal static class InferenceWorkloads
{
    public static IEnumerable<IWorkload> Create()
    {
        foreach (var (name, zoo, sample) in new (string, string, int[])[] { ("mlp", "mlp", [784]), ("lenet", "lenet5", [1, 28, 28]), ("resnet20", "resnet20", [1, 28, 28]) })
            foreach (int batch in new[] { 1, 64 })
            {
                yield return new Workload($"{name}_infer_b{batch}_us", () => Prepared(zoo, batch, sample));
                yield return new Workload($"{name}_infer_b{batch}_eager_us", () => Eager(zoo, batch, sample));
            }
    }

    private static (Module<Tensor, Tensor> Model, Tensor Input) Setup(string zoo, int batch, int[] sample)
    {
        var model = ModelZoo.Create(zoo, new ModelOptions(Generator: new Generator(1)));
        model.Eval();
        return (model, Tensor.Randn([batch, .. sample], new Generator(3)));
    }

    private static double Prepared(string zoo, int batch, int[] sample)
    {
        var (model, x) = Setup(zoo, batch, sample);
        var prepared = InferenceModel.Prepare(model, [batch, .. sample]);
        return LatencyUs(() => prepared.Run(x));
    }

    private static double Eager(string zoo, int batch, int[] sample)
    {
        var (model, x) = Setup(zoo, batch, sample);
        using var _ = Autograd.NoGrad();
        return LatencyUs(() => model.Call(x));
    }

    internal static double LatencyUs(Action call)
    {
        var warm = Stopwatch.StartNew();
        int calls = 0;
        for (; warm.Elapsed.TotalSeconds < 1 || calls < 3; calls++) call();
        int reps = (int)Math.Clamp(0.25 / (warm.Elapsed.TotalSeconds / calls), 3, 5000);
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < reps; i++) call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / reps);
        }
        return best;
    }
}
