using System.Globalization;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.NN;
using Spectre.Console;

namespace DeepSharp.Cli.Examples;

/// <summary>
/// Vanishing gradients: 10 fully connected layers of width 64 on one Fashion-MNIST batch. With sigmoid
/// and PyTorch's default initialisation every layer multiplies the backward signal by W^T and by
/// σ'(z) ≤ 1/4, so the first layer's gradient is orders of magnitude smaller than the last one's; with
/// ReLU and He (Kaiming) initialisation the signal keeps its scale through the depth.
/// </summary>
internal static class VanishingGradients
{
    private const int Depth = 10, Width = 64, Batch = 64;

    public static int Run(int seed)
    {
        var (x, y, source) = Data(seed);
        AnsiConsole.MarkupLine($"[bold]Vanishing gradients[/]: {Depth} linear layers of width {Width} (784-64-...-64-10), one batch of {Batch} {source}, cross-entropy\n");
        var sigmoid = Network(() => new Sigmoid(), he: false, seed);
        var relu = Network(() => new Relu(), he: true, seed);
        var a = Norms(sigmoid, x, y);
        var b = Norms(relu, x, y);

        var table = new Table().Border(TableBorder.Rounded).Title("weight-gradient norm ||∂C/∂W^l|| per layer");
        table.AddColumn("layer");
        table.AddColumn(new TableColumn("sigmoid, default init").RightAligned());
        table.AddColumn("");
        table.AddColumn(new TableColumn("ReLU, He init").RightAligned());
        table.AddColumn("");
        double top = Math.Max(a.Max(n => n.WeightGradNorm), b.Max(n => n.WeightGradNorm));
        for (int l = 0; l < a.Count; l++)
            table.AddRow((l + 1).ToString(CultureInfo.InvariantCulture), $"{a[l].WeightGradNorm:0.00e0}", Bar(a[l].WeightGradNorm, top), $"{b[l].WeightGradNorm:0.00e0}", Bar(b[l].WeightGradNorm, top));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]bars: log scale, one # per factor of 10 above 1e-12 of the largest norm[/]\n");

        double sigmoidRatio = a[0].WeightGradNorm / a[^1].WeightGradNorm;
        double reluRatio = b[0].WeightGradNorm / b[^1].WeightGradNorm;
        bool vanishes = sigmoidRatio <= 1e-2, healthy = reluRatio > 1e-2;
        AnsiConsole.MarkupLine($"sigmoid: first / last layer gradient norm = [{(vanishes ? "green" : "red")}]{sigmoidRatio:0.00e0}[/] (vanishing: at least 100x smaller expected)");
        AnsiConsole.MarkupLine($"ReLU + He: first / last layer gradient norm = [{(healthy ? "green" : "red")}]{reluRatio:0.00e0}[/] (healthy: not 100x smaller expected)");
        AnsiConsole.MarkupLine(vanishes && healthy
            ? "[green]The sigmoid network's gradient vanishes towards the input; the ReLU + He network's does not.[/]"
            : "[red]The demonstration failed.[/]");
        return vanishes && healthy ? 0 : 1;
    }

    /// <summary>One batch of Fashion-MNIST training images, or Gaussian noise when the dataset cannot be found.</summary>
    private static (Tensor X, Tensor Y, string Source) Data(int seed)
    {
        try
        {
            var train = FashionMnist.Train(new MnistOptions(Download: false));
            var idx = new Generator((ulong)seed).Permutation(train.Count).Take(Batch).ToArray();
            var (x, y) = train.GetBatch(idx);
            return (x.Flatten(1), y, "Fashion-MNIST training images");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            var g = new Generator((ulong)seed);
            return (Tensor.Rand([Batch, 784], g), Tensor.Randint(0, 10, [Batch], g), "random inputs (Fashion-MNIST not found)");
        }
    }

    private static Sequential Network(Func<Module<Tensor, Tensor>> activation, bool he, int seed)
    {
        var g = new Generator((ulong)seed + 1);
        var model = new Sequential();
        for (int l = 0; l < Depth; l++)
        {
            var linear = new Linear(l == 0 ? 784 : Width, l == Depth - 1 ? 10 : Width, generator: g);
            if (he)
            {
                Init.KaimingNormal(linear.Weight, nonlinearity: Nonlinearity.Relu, generator: g);
                Init.Zeros(linear.Bias!);
            }
            model.Add(linear);
            if (l < Depth - 1) model.Add(activation());
        }
        return model;
    }

    private static IReadOnlyList<LayerGradientNorm> Norms(Sequential model, Tensor x, Tensor y)
    {
        Functional.CrossEntropy(model.Call(x), y).Backward();
        return GradientFlow.LayerNorms(model);
    }

    private static string Bar(double value, double top) =>
        new('#', value > 0 ? Math.Clamp((int)Math.Round(12 + Math.Log10(value / top)), 0, 12) : 0);
}
