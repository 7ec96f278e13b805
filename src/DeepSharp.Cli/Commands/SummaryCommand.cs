using System.CommandLine;
using DeepSharp.Cli.Support;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp summary</c>: the layer table of a zoo model and its parameter count.</summary>
internal static class SummaryCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = Inputs.ModelHelp, DefaultValueFactory = _ => TrainCommand.DefaultModel };
        var inputShape = new Option<string>("--input-shape") { Description = "input shape C,H,W (default 1,28,28)", DefaultValueFactory = _ => "1,28,28" };
        var classes = new Option<int>("--classes") { Description = "number of output classes", DefaultValueFactory = _ => 10 };
        var command = new Command("summary", "Print a model's layers, output shapes and parameter counts") { model, inputShape, classes };
        command.SetAction(p => Run(p.GetValue(model)!, p.GetValue(inputShape)!, p.GetValue(classes)));
        return command;
    }

    private static int Run(string name, string inputShape, int classes)
    {
        int[] shape;
        try
        {
            shape = inputShape.Split(',', StringSplitOptions.TrimEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new CliException($"--input-shape must be comma-separated integers such as 1,28,28, got '{inputShape}'");
        }
        if (shape.Any(d => d <= 0)) throw new CliException($"--input-shape dimensions must be positive, got '{inputShape}'");
        if (classes <= 0) throw new CliException($"--classes must be positive, got {classes}");
        int features = shape.Aggregate(1, (a, b) => a * b);
        var data = new DataChoice("summary", null!, null!, null!, features, classes, []);
        var model = Inputs.CreateModel(name, data);
        Console.WriteLine(model.Summary([1, .. shape]));
        return 0;
    }
}
