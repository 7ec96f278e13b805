using System.CommandLine;
using System.Globalization;
using DeepSharp.Cli.Support;
using DeepSharp.Insight;
using Spectre.Console;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp explain-backprop</c>: backpropagation on a tiny sigmoid MLP worked by hand from the
/// formulas, next to autograd and central differences (float64); exit code 1 if they disagree.
/// </summary>
internal static class ExplainBackpropCommand
{
    public static Command Create()
    {
        var sizes = new Option<string>("--sizes") { Description = "layer widths, input to output (default 2,3,2)", DefaultValueFactory = _ => "2,3,2" };
        var seed = new Option<int>("--seed") { Description = "seed of the weights, input and target", DefaultValueFactory = _ => 0 };
        var command = new Command("explain-backprop", "Show backpropagation step by step: formulas, autograd and numerical gradients side by side") { sizes, seed };
        command.SetAction(p => Run(p.GetValue(sizes)!, p.GetValue(seed)));
        return command;
    }

    private static int Run(string sizesText, int seed)
    {
        int[] sizes;
        try
        {
            sizes = sizesText.Split(',', StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new CliException($"--sizes must be comma-separated layer widths such as 2,3,2, got '{sizesText}'");
        }
        if (sizes.Length < 2 || sizes.Any(s => s < 1 || s > 16)) throw new CliException($"--sizes needs at least two widths between 1 and 16, got '{sizesText}'");
        var e = BackpropExplainer.Run(sizes, (ulong)seed);

        AnsiConsole.MarkupLine($"[bold]Backpropagation by hand[/]: MLP {string.Join("-", sizes)} with sigmoid activations, float64, one sample, C = mean((a^L - y)^2)\n");
        AnsiConsole.MarkupLine($"  x = {V(e.Input)}    y = {V(e.Target)}    C = {e.Loss:G10}\n");
        AnsiConsole.MarkupLine("[bold]Forward[/]: z^l = W^l a^(l-1) + b^l,  a^l = σ(z^l)");
        AnsiConsole.MarkupLine("[bold]Backward[/]: δ^L = (2/n)(a^L - y) ⊙ σ'(z^L),  δ^l = (W^(l+1))^T δ^(l+1) ⊙ σ'(z^l),  ∂C/∂W^l = δ^l (a^(l-1))^T,  ∂C/∂b^l = δ^l,  σ'(z) = σ(z)(1 - σ(z))\n");

        var forward = new Table().Border(TableBorder.Rounded).Title("forward and errors, layer by layer");
        forward.AddColumn("layer");
        forward.AddColumn("z^l");
        forward.AddColumn("a^l = σ(z^l)");
        forward.AddColumn("σ'(z^l)");
        forward.AddColumn("δ^l");
        foreach (var l in e.Layers)
            forward.AddRow(l.Index.ToString(CultureInfo.InvariantCulture), V(l.Z), V(l.A), V(l.Z.Select(BackpropExplainer.SigmoidPrime).ToArray()), V(l.Delta));
        AnsiConsole.Write(forward);

        foreach (var l in e.Layers.Reverse())
        {
            var table = new Table().Border(TableBorder.Rounded).Title($"layer {l.Index}: gradients three ways");
            table.AddColumn("parameter");
            table.AddColumn("formula");
            table.AddColumn("autograd");
            table.AddColumn("central differences");
            table.AddColumn(new TableColumn("max |diff|").RightAligned());
            for (int r = 0; r < l.WeightGradFormula.Length; r++)
            {
                double diff = Math.Max(MaxDiff(l.WeightGradFormula[r], l.WeightGradAutograd[r]), MaxDiff(l.WeightGradFormula[r], l.WeightGradNumeric[r]));
                table.AddRow($"∂C/∂W^{l.Index} row {r}", V(l.WeightGradFormula[r]), V(l.WeightGradAutograd[r]), V(l.WeightGradNumeric[r]), diff.ToString("0.0e0", CultureInfo.InvariantCulture));
            }
            double bdiff = Math.Max(MaxDiff(l.BiasGradFormula, l.BiasGradAutograd), MaxDiff(l.BiasGradFormula, l.BiasGradNumeric));
            table.AddRow($"∂C/∂b^{l.Index}", V(l.BiasGradFormula), V(l.BiasGradAutograd), V(l.BiasGradNumeric), bdiff.ToString("0.0e0", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
        }

        var summary = new Table().Border(TableBorder.Rounded).Title("agreement (tolerance 1e-6)");
        summary.AddColumn("comparison");
        summary.AddColumn(new TableColumn("max |difference|").RightAligned());
        summary.AddRow("formula vs autograd", Verdict(e.MaxDiffAutograd, e.Tolerance));
        summary.AddRow($"formula vs central differences (ε = {e.Epsilon:G2})", Verdict(e.MaxDiffNumeric, e.Tolerance));
        summary.AddRow("hand forward vs model forward (output, loss)", Verdict(e.MaxDiffForward, e.Tolerance));
        AnsiConsole.Write(summary);
        AnsiConsole.MarkupLine(e.Agrees ? "[green]All three agree to 1e-6.[/]" : "[red]The gradients disagree.[/]");
        return e.Agrees ? 0 : 1;
    }

    /// <summary>A vector as "[+0.123456, ...]", escaped for Spectre markup.</summary>
    private static string V(double[] v) => "[[" + string.Join(", ", v.Select(x => x.ToString("+0.000000;-0.000000", CultureInfo.InvariantCulture))) + "]]";

    private static string Verdict(double diff, double tolerance) => diff <= tolerance ? $"[green]{diff.ToString("0.00e0", CultureInfo.InvariantCulture)}[/]" : $"[red]{diff.ToString("0.00e0", CultureInfo.InvariantCulture)}[/]";

    private static double MaxDiff(double[] a, double[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
