using System.CommandLine;
using DeepSharp.Cli.Examples;
using DeepSharp.Cli.Support;

namespace DeepSharp.Cli.Commands;

/// <summary><c>deepsharp examples NAME</c>: the classic demonstrations, each printing what it shows.</summary>
internal static class ExamplesCommand
{
    private static readonly Dictionary<string, (string Help, Func<int, int> Run)> All = new()
    {
        ["xor"] = ("a single-layer perceptron cannot learn XOR; a two-layer network can", Xor.Run),
        ["linear-regression"] = ("gradient descent converges to the closed-form least-squares solution", LinearRegression.Run),
        ["logistic-regression"] = ("logistic regression separates two Gaussian classes with a linear boundary", ClassificationExamples.Logistic),
        ["softmax-regression"] = ("softmax regression classifies three Gaussian classes; softmax + cross-entropy gives delta = p - y", ClassificationExamples.Softmax),
        ["vanishing-gradients"] = ("a deep sigmoid MLP's gradients vanish towards the input; ReLU with He initialisation keeps them", VanishingGradients.Run),
        ["seq2seq"] = ("a GRU encoder-decoder with attention learns to reverse digit strings (>= 99% held-out exact match) and shows its attention", Seq2SeqExample.Run),
    };

    public static Command Create()
    {
        var name = new Argument<string?>("name") { Description = "one of: " + string.Join(", ", All.Keys) + " (without a name: the list)", Arity = ArgumentArity.ZeroOrOne };
        var seed = new Option<int>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var command = new Command("examples", "Run a classic demonstration; without a name, list them") { name, seed };
        command.SetAction(p =>
        {
            string? n = p.GetValue(name);
            if (n is null) return List();
            if (!All.TryGetValue(n, out var example)) throw new CliException($"unknown example '{n}'; available: {string.Join(", ", All.Keys)}");
            return example.Run(p.GetValue(seed));
        });
        return command;
    }

    /// <summary>The examples, one per line with what each shows, and how to run one.</summary>
    private static int List()
    {
        int width = All.Keys.Max(k => k.Length);
        Console.WriteLine("examples (run one with: deepsharp examples NAME):");
        foreach (var (key, (help, _)) in All) Console.WriteLine($"  {key.PadRight(width)}  {help}");
        return 0;
    }
}
