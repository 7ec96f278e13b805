using System.CommandLine;
using DeepSharp.Cli.Commands;
using DeepSharp.Cli.Support;

// The `deepsharp` command: thin verbs over the library's Training, Models and Insight layers.
var root = new RootCommand("DeepSharp: deep learning from first principles in C#. Train, evaluate and inspect networks.")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
    PredictCommand.Create(),
    SummaryCommand.Create(),
    ExamplesCommand.Create(),
    InspectCommand.Create(),
    ReportCommand.Create(),
    ExplainBackpropCommand.Create(),
    SampleCommand.Create(),
    SelfCheckCommand.Create(),
    ExportCommand.Create(),
};
return CliRunner.Run(root, args);
