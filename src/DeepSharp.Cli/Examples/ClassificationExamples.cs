using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;
using Spectre.Console;

namespace DeepSharp.Cli.Examples;

/// <summary>Logistic and softmax regression on Gaussian blobs in the plane.</summary>
internal static class ClassificationExamples
{
    private static (Tensor X, Tensor Y) Blobs(int perClass, double[][] centres, Generator g)
    {
        var xs = new List<Tensor>();
        var ys = new List<long>();
        for (int c = 0; c < centres.Length; c++)
        {
            xs.Add(Tensor.Randn([perClass, 2], g) + Tensor.From(centres[c].Select(v => (float)v).ToArray()));
            ys.AddRange(Enumerable.Repeat((long)c, perClass));
        }
        return (Tensor.Cat(xs), Tensor.From(ys.ToArray()));
    }

    public static int Logistic(int seed)
    {
        var g = new Generator((ulong)seed);
        var (x, labels) = Blobs(200, [[-1.5, -1], [1.5, 1]], g);
        var y = labels.To(DType.Float32).Unsqueeze(1);
        var model = new Linear(2, 1, generator: g);
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.5));
        for (int step = 0; step < 300; step++)
        {
            optimizer.ZeroGrad();
            Functional.BinaryCrossEntropyWithLogits(model.Call(x), y).Backward();
            optimizer.Step();
        }
        double accuracy;
        using (Autograd.NoGrad())
        {
            var p = model.Call(x).ToDoubleArray();
            var t = labels.ToArray<long>();
            accuracy = Enumerable.Range(0, t.Length).Count(i => (p[i] > 0 ? 1 : 0) == t[i]) / (double)t.Length;
        }
        var w = model.Weight.ToDoubleArray();
        double b = model.Bias!.ToDouble();
        AnsiConsole.MarkupLine("[bold]logistic regression[/]: p(y=1|x) = sigmoid(w.x + b), trained with binary cross-entropy (delta = p - y)");
        AnsiConsole.MarkupLine($"two Gaussian classes around (-1.5,-1) and (1.5,1), 400 points; decision boundary {w[0]:F3} x1 + {w[1]:F3} x2 + {b:F3} = 0");
        AnsiConsole.MarkupLine($"training accuracy [green]{Training.ConsoleReporter.Percent(accuracy)}[/] (the classes overlap slightly, so 100% is not expected)");
        return accuracy > 0.9 ? 0 : 1;
    }

    public static int Softmax(int seed)
    {
        var g = new Generator((ulong)seed);
        var (x, y) = Blobs(150, [[0, 2.5], [-2.2, -1.3], [2.2, -1.3]], g);
        var model = new Linear(2, 3, generator: g);
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.5));
        for (int step = 0; step < 300; step++)
        {
            optimizer.ZeroGrad();
            Functional.CrossEntropy(model.Call(x), y).Backward();
            optimizer.Step();
        }
        Tensor logits;
        using (Autograd.NoGrad()) logits = model.Call(x);
        double accuracy = Metrics.Accuracy(logits, y);
        var confusion = Metrics.ConfusionMatrix(logits.Argmax(1), y, 3);
        AnsiConsole.MarkupLine("[bold]softmax regression[/]: p = softmax(W x + b), cross-entropy loss; its gradient at the logits is p - y");
        var table = new Table().Border(TableBorder.Simple).Title("confusion matrix (rows: true class)");
        table.AddColumn("");
        for (int j = 0; j < 3; j++) table.AddColumn($"pred {j}");
        for (int i = 0; i < 3; i++) table.AddRow($"class {i}", $"{confusion[i, 0]}", $"{confusion[i, 1]}", $"{confusion[i, 2]}");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"training accuracy [green]{Training.ConsoleReporter.Percent(accuracy)}[/] on three Gaussian classes (450 points)");
        return accuracy > 0.9 ? 0 : 1;
    }
}
