using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Cli.Support;

/// <summary>Optimizer, loss and accuracy choices for a model, by name.</summary>
internal static class Choices
{
    public const string OptimizerHelp = "sgd (momentum 0.9), adam (default), adamw, rmsprop, adagrad";

    /// <summary>Learning rates that work for the zoo's small models (LeNet-5 trains best with Adam at 2e-3: 91.0% vs 90.4% at 1e-3 in 15 epochs).</summary>
    public static double DefaultLr(string optimizer, string model) => (optimizer, model) switch
    {
        ("sgd", _) => 0.05,
        ("adagrad", _) => 0.01,
        ("adam" or "adamw", "lenet5") => 2e-3,
        _ => 1e-3,
    };

    public static Optimizer CreateOptimizer(string name, IEnumerable<Tensor> parameters, double lr)
    {
        if (!(lr > 0) || double.IsInfinity(lr)) throw new CliException($"--lr must be a positive number, got {lr.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        return name switch
        {
            "sgd" => new Sgd(parameters, new SgdOptions(Lr: lr, Momentum: 0.9)),
            "adam" => new Adam(parameters, new AdamOptions(Lr: lr)),
            "adamw" => new AdamW(parameters, new AdamWOptions(Lr: lr)),
            "rmsprop" => new RmsProp(parameters, new RmsPropOptions(Lr: lr)),
            "adagrad" => new Adagrad(parameters, new AdagradOptions(Lr: lr)),
            _ => throw new CliException($"unknown --optimizer '{name}'; expected {OptimizerHelp}"),
        };
    }

    public const string ScheduleHelp = "cosine (default: from --lr down towards 0 over the run, lr x (1 + cos(pi t/T)) / 2; stepped once per epoch for classifiers, " +
                                       "after every batch for char-lstm/char-gru), step (x0.1 after every third of the epochs) or none. " +
                                       "With --resume the schedule is re-planned for the new --epochs and continues from the checkpoint's position " +
                                       "(epochs already trained keep the learning rates they had)";

    /// <summary>Checks --lr-schedule before any work starts.</summary>
    public static void ValidateSchedule(string name)
    {
        if (name is not ("cosine" or "step" or "none")) throw new CliException($"unknown --lr-schedule '{name}'; expected cosine, step or none");
    }

    /// <summary>
    /// The learning-rate schedule of a run of <paramref name="epochs"/> epochs of <paramref name="batchesPerEpoch"/> batches, and
    /// whether it is stepped after every batch: cosine anneals over the epochs (stepped per epoch, so that a run extended with
    /// --resume from 1 epoch trains exactly as a longer run), or over every batch with <paramref name="cosinePerBatch"/> (the
    /// character models); step is a per-epoch staircase.
    /// </summary>
    public static (LRScheduler? Scheduler, bool PerBatch) CreateSchedule(string name, Optimizer optimizer, int epochs, int batchesPerEpoch, bool cosinePerBatch) => name switch
    {
        "cosine" when cosinePerBatch => (new CosineAnnealingLR(optimizer, (int)Math.Clamp((long)Math.Max(epochs, 1) * Math.Max(batchesPerEpoch, 1), 1, int.MaxValue - 1)), true),
        "cosine" => (new CosineAnnealingLR(optimizer, Math.Max(epochs, 1)), false),
        "step" => (new StepLR(optimizer, Math.Max(epochs / 3, 1), 0.1), false),
        "none" => (null, false),
        _ => throw new CliException($"unknown --lr-schedule '{name}'; expected cosine, step or none"),
    };

    /// <summary>Cross-entropy for classifiers; binary cross-entropy against one-vs-rest targets for logistic regression.</summary>
    public static Func<Tensor, Tensor, Tensor> Loss(Module<Tensor, Tensor> model) => model is LogisticRegression lr
        ? (output, labels) => Functional.BinaryCrossEntropyWithLogits(output, lr.Targets(labels))
        : (output, labels) => Functional.CrossEntropy(output, labels);

    /// <summary>Correct-prediction counter matching <see cref="Loss"/> (null: the trainer's default for logits).</summary>
    public static Func<Tensor, Tensor, long?>? Accuracy(Module<Tensor, Tensor> model) => model is LogisticRegression lr
        ? (output, labels) =>
        {
            var scores = output.ToDoubleArray();
            var y = labels.ToArray<long>();
            long correct = 0;
            for (int i = 0; i < y.Length; i++) if (scores[i] > 0 == (y[i] == lr.PositiveClass)) correct++;
            return correct;
        }
        : null;
}
