using Spectre.Console;

namespace DeepSharp.Cli.Support;

/// <summary>Console tables for run summaries and confusion matrices.</summary>
internal static class Report
{
    public static void Summary(RunMetrics m, string? outDir)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]run summary[/]");
        table.AddColumn("metric");
        table.AddColumn(new TableColumn("value").RightAligned());
        if (m.TestAccuracy is double acc) table.AddRow("test accuracy", DeepSharp.Training.ConsoleReporter.Percent(acc));
        table.AddRow("test loss", $"{m.TestLoss:F4}");
        table.AddRow("epochs", m.Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("wall time", $"{m.WallSeconds:F1} s");
        table.AddRow("training throughput", $"{m.SamplesPerSecond:N0} samples/s");
        if (outDir is not null) table.AddRow("output", Markup.Escape(outDir));
        AnsiConsole.Write(table);
    }

    public static void Confusion(long[][] matrix, IReadOnlyList<string>? classes)
    {
        var table = new Table().Border(TableBorder.Simple).Title("confusion matrix (rows: true class, columns: predicted)");
        table.AddColumn("");
        for (int j = 0; j < matrix.Length; j++) table.AddColumn(new TableColumn(Label(classes, j)).RightAligned());
        for (int i = 0; i < matrix.Length; i++)
        {
            var cells = new List<string> { Markup.Escape(Label(classes, i)) };
            for (int j = 0; j < matrix.Length; j++) cells.Add(i == j ? $"[green]{matrix[i][j]}[/]" : matrix[i][j].ToString(System.Globalization.CultureInfo.InvariantCulture));
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);
    }

    private static string Label(IReadOnlyList<string>? classes, int i) => classes is not null && i < classes.Count ? classes[i] : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
