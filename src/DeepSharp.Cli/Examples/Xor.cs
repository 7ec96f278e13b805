using DeepSharp.NN;
using DeepSharp.Optim;
using Spectre.Console;

namespace DeepSharp.Cli.Examples;

/// <summary>
/// XOR is not linearly separable: a single-layer perceptron (step activation, perceptron rule) gets at
/// most 3 of the 4 points right, whatever it does; a 2-2-1 network with a hidden layer gets all 4.
/// </summary>
internal static class Xor
{
    private static readonly float[,] Inputs = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } };
    private static readonly float[] Targets = [0, 1, 1, 0];

    public static int Run(int seed)
    {
        var x = Tensor.From(Inputs);
        var y = Tensor.From(Targets, 4, 1);
        AnsiConsole.MarkupLine("[bold]XOR[/]: inputs (0,0) (0,1) (1,0) (1,1) -> 0 1 1 0\n");

        // 1. Single-layer perceptron: y = step(w.x + b), trained with the perceptron learning rule.
        var perceptron = new Sequential(new Linear(2, 1, generator: new Generator((ulong)seed)), new Step());
        double bestPerceptron = 0;
        var linear = (Linear)perceptron[0];
        for (int epoch = 0; epoch < 100; epoch++)
        {
            using var _ = Autograd.NoGrad();
            for (int i = 0; i < 4; i++)
            {
                var xi = x[i].Unsqueeze(0);
                double error = Targets[i] - perceptron.Call(xi).ToDouble();
                linear.Weight.AddInPlace(xi * (0.1 * error));
                linear.Bias!.AddInPlace(0.1 * error);
            }
            bestPerceptron = Math.Max(bestPerceptron, Accuracy(perceptron.Call(x), y, threshold: 0.5));
        }
        AnsiConsole.MarkupLine($"single-layer perceptron (100 epochs of the perceptron rule): best accuracy [red]{Training.ConsoleReporter.Percent(bestPerceptron)}[/] " +
                               "(a line cannot separate XOR: at most 3 of 4 points, 75%)");
        PrintTable("perceptron", perceptron.Call(x));

        // 2. Two-layer network: Linear(2, 4) -> tanh -> Linear(4, 1), sigmoid + binary cross-entropy.
        var mlp = new Sequential(new Linear(2, 4, generator: new Generator((ulong)seed + 1)), new Tanh(), new Linear(4, 1, generator: new Generator((ulong)seed + 2)));
        var optimizer = new Adam(mlp.Parameters(), new AdamOptions(Lr: 0.05));
        for (int step = 0; step < 2000; step++)
        {
            optimizer.ZeroGrad();
            Functional.BinaryCrossEntropyWithLogits(mlp.Call(x), y).Backward();
            optimizer.Step();
        }
        double mlpAccuracy;
        Tensor probabilities;
        using (Autograd.NoGrad())
        {
            probabilities = mlp.Call(x).Sigmoid();
            mlpAccuracy = Accuracy(probabilities, y, threshold: 0.5);
        }
        AnsiConsole.MarkupLine($"two-layer network 2-4-1 (tanh, 2000 Adam steps): accuracy [green]{Training.ConsoleReporter.Percent(mlpAccuracy)}[/]");
        PrintTable("two-layer network", probabilities);
        return mlpAccuracy == 1 && bestPerceptron <= 0.75 ? 0 : 1;
    }

    private static double Accuracy(Tensor output, Tensor y, double threshold)
    {
        var o = output.ToDoubleArray();
        var t = y.ToDoubleArray();
        return Enumerable.Range(0, t.Length).Count(i => (o[i] > threshold ? 1 : 0) == t[i]) / (double)t.Length;
    }

    private static void PrintTable(string title, Tensor output)
    {
        var table = new Table().Border(TableBorder.Simple).Title(title);
        table.AddColumn("x1");
        table.AddColumn("x2");
        table.AddColumn("target");
        table.AddColumn("output");
        var o = output.ToDoubleArray();
        for (int i = 0; i < 4; i++)
            table.AddRow($"{Inputs[i, 0]}", $"{Inputs[i, 1]}", $"{Targets[i]}", $"{o[i]:F3}");
        AnsiConsole.Write(table);
    }
}
