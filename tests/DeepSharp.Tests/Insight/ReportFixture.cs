using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;

namespace DeepSharp.Tests.Insight;

using Autograd = DeepSharp.Autograd;

/// <summary>Self-attention over tokens that returns (context, weights).</summary>
internal sealed class TokenAttention : Module<Tensor, (Tensor Output, Tensor Weights)>
{
    public override (Tensor Output, Tensor Weights) Forward(Tensor x)
    {
        var weights = x.MatMul(x.Transpose(1, 2)).Div(Math.Sqrt(x.Size(2))).Softmax(-1);
        return (weights.MatMul(x), weights);
    }
}

/// <summary>conv-ReLU-pool, then the 6x6 positions as 36 tokens through self-attention, mean over tokens, linear head.</summary>
internal sealed class ConvAttentionNet : Module<Tensor, Tensor>
{
    private readonly TestConv _conv;
    private readonly Relu _relu = new();
    private readonly TestMaxPool _pool = new();
    private readonly TokenAttention _attention = new();
    private readonly Linear _head;

    public ConvAttentionNet(ulong seed)
    {
        var g = new Generator(seed);
        _conv = RegisterModule("conv", new TestConv(1, 8, 3, 1, generator: g));
        RegisterModule("relu", _relu);
        RegisterModule("pool", _pool);
        RegisterModule("attention", _attention);
        _head = RegisterModule("head", new Linear(8, 3, generator: g));
    }

    public override Tensor Forward(Tensor input)
    {
        var a = _pool.Call(_relu.Call(_conv.Call(input))); // [N, 8, 6, 6]
        var tokens = a.Flatten(2).Transpose(1, 2); // [N, 36, 8]
        var (context, _) = _attention.Call(tokens);
        return _head.Call(context.Mean(1));
    }
}

/// <summary>A small conv + attention model trained for a few steps with the recorder, and the report built from it.</summary>
internal static class ReportFixture
{
    private static readonly Lazy<ReportData> s_data = new(Build);

    public static ReportData Data => s_data.Value;

    private static ReportData Build()
    {
        var g = new Generator(21);
        // Class = which third of the image holds a bright bar, so the model can learn something in a few steps.
        int n = 120;
        var x = Tensor.Rand([n, 1, 12, 12], g) * 0.3;
        var y = Tensor.Randint(0, 3, [n], g);
        var labels = y.ToArray<long>();
        using (Autograd.NoGrad())
            for (int i = 0; i < n; i++) x[i].Narrow(1, 4 * (int)labels[i], 4).AddInPlace(0.7);
        var model = new ConvAttentionNet(3);
        var recorder = new InsightRecorder(new InsightOptions { Every = 2, HistogramBins = 16 });
        var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2));
        var trainer = new Trainer(model, (o, t) => Functional.CrossEntropy(o, t), optimizer);
        var train = new TensorDataset(x.Narrow(0, 0, 96), y.Narrow(0, 0, 96));
        var history = trainer.Fit(new DataLoader(train, 16, shuffle: true, generator: new Generator(4)),
            new DataLoader(new TensorDataset(x.Narrow(0, 96, 24), y.Narrow(0, 96, 24)), 24), epochs: 3, callbacks: [recorder]);
        var rows = history.Epochs.Select(e => (IReadOnlyDictionary<string, double>)new Dictionary<string, double>(e) { ["epoch"] = e.Epoch + 1 }).ToList();
        return ReportBuilder.Build(model, new ReportInputs
        {
            Title = "Insight test report",
            TestInputs = x.Narrow(0, 96, 24),
            TestTargets = y.Narrow(0, 96, 24),
            ClassNames = ["top", "middle", "bottom"],
            History = rows,
            Statistics = recorder.Log,
            Summary = [new("model", "ConvAttentionNet"), new("epochs", "3")],
            AttributionCount = 3,
            MisclassifiedCount = 8,
            IntegratedGradientsSteps = 16,
        });
    }
}
