using System.Diagnostics;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Bench.Workloads;

/// <summary>
/// The cost of looking inside a network while it trains: LeNet-5 (batch 64, Adam, consecutive
/// Fashion-MNIST batches) with an <see cref="InsightRecorder"/> recording activation and gradient
/// statistics every 50 steps, driven exactly as its Trainer callback drives it, against the same training
/// without it. The two runs advance in lockstep, one step each in turn (alternating which goes first),
/// so that both see the same machine state, and every step is timed. With medians t_0 (step without
/// recorder), t_n (unrecorded step with recorder) and t_r (recorded step), the overhead in percent is
/// ((49 t_n + t_r) / 50) / t_0 - 1: medians keep the figure stable on a busy machine. Target: at most 5%.
/// </summary>
internal static class InsightWorkloads
{
    private const int Batch = 64, Every = 50, Warmup = 50, Steps = 1000;

    public static IEnumerable<IWorkload> Create()
    {
        yield return new Workload("lenet_b64_record_overhead_pct", RecordOverheadPercent);
    }

    /// <summary>One training run: step i trains on batch i (wrapping), optionally under the recorder.</summary>
    private sealed class Run(TensorDataset data, InsightRecorder? recorder)
    {
        private readonly Module<Tensor, Tensor> _model = ModelZoo.Names.ContainsKey("lenet5")
            ? ModelZoo.Create("lenet5", new ModelOptions(Generator: new Generator(1))) : LeNet5();
        private Optimizer? _optimizer;
        private long _step;

        public List<(long Step, double Seconds)> Times { get; } = [];

        public void Step()
        {
            _optimizer ??= new Adam(_model.Parameters(), new AdamOptions(Lr: 1e-3));
            long start = Stopwatch.GetTimestamp();
            long step = ++_step;
            int offset = (int)(step * Batch % (data.Count - Batch));
            if (recorder?.IsRecordedStep(step) == true) recorder.RecordNextStep(_model);
            _optimizer.ZeroGrad();
            var loss = Functional.CrossEntropy(_model.Call(data.Inputs.Narrow(0, offset, Batch)), data.Targets.Narrow(0, offset, Batch));
            loss.Backward();
            _optimizer.Step();
            double value = loss.ToDouble();
            if (recorder is { Armed: true }) recorder.CompleteStep(_model, step, value);
            Times.Add((step, Stopwatch.GetElapsedTime(start).TotalSeconds));
        }
    }

    private static double RecordOverheadPercent()
    {
        var data = FashionMnist.Train();
        var recorder = new InsightRecorder(new InsightOptions { Every = Every });
        var plain = new Run(data, null);
        var recorded = new Run(data, recorder);
        for (int i = 0; i < Warmup + Steps; i++)
        {
            var (first, second) = i % 2 == 0 ? (plain, recorded) : (recorded, plain);
            first.Step();
            second.Step();
        }
        var p = plain.Times.Skip(Warmup).ToList();
        var r = recorded.Times.Skip(Warmup).ToList();
        var recordedSteps = r.Where(s => recorder.IsRecordedStep(s.Step)).Select(s => s.Seconds).ToList();
        double t0 = Median(p.Select(s => s.Seconds));
        double tn = Median(r.Where(s => !recorder.IsRecordedStep(s.Step)).Select(s => s.Seconds));
        double tr = Median(recordedSteps);
        double totals = r.Sum(s => s.Seconds) / p.Sum(s => s.Seconds) - 1;
        Console.Error.Write($"[{recordedSteps.Count} recorded steps; median step {t0 * 1e3:F2} ms without recorder, {tn * 1e3:F2} ms unrecorded, " +
                            $"{tr * 1e3:F2} ms recorded; ratio of total times {totals * 100:F2}%] ");
        return (((Every - 1) * tn + tr) / Every / t0 - 1) * 100;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) throw new InvalidOperationException("insight workload: no steps were timed");
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>LeNet-5 from Tensor.Conv2d when the zoo has no "lenet5" (keys as nn.Sequential: 0.weight .. 11.bias).</summary>
    private static Sequential LeNet5()
    {
        var g = new Generator(1);
        return new Sequential(new Conv(1, 6, 5, 2, g), new Relu(), new Pool(), new Conv(6, 16, 5, 0, g), new Relu(), new Pool(), new Flatten(),
            new Linear(400, 120, generator: g), new Relu(), new Linear(120, 84, generator: g), new Relu(), new Linear(84, 10, generator: g));
    }

    private sealed class Conv : Module<Tensor, Tensor>
    {
        private readonly int _padding;
        private readonly Tensor _weight, _bias;

        public Conv(int inChannels, int outChannels, int kernel, int padding, Generator g)
        {
            _padding = padding;
            double bound = 1 / Math.Sqrt(inChannels * kernel * kernel);
            _weight = RegisterParameter("weight", Tensor.Uniform([outChannels, inChannels, kernel, kernel], -bound, bound, g));
            _bias = RegisterParameter("bias", Tensor.Uniform([outChannels], -bound, bound, g));
        }

        public override Tensor Forward(Tensor input) => Tensor.Conv2d(input, _weight, _bias, 1, _padding);
    }

    private sealed class Pool : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => Tensor.MaxPool2d(input, 2);
    }
}
