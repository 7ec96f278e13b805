using System.Text.Json;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// One row per layer / loss / model of scripts/gen_nn_fixtures.py ("kind/name"): how to build it in
/// DeepSharp from the case's args and state, and how to run it on the case's inputs.
/// </summary>
internal static class NNRegistry
{
    public sealed record Built(Module Module, Func<Tensor[], Tensor> Run);

    public delegate Built Factory(JsonElement args, IReadOnlyDictionary<string, Tensor> state);

    public static readonly Dictionary<string, Factory> Factories = new()
    {
        // layers
        ["module/linear"] = (a, _) => Layer(new Linear(a.Int("in"), a.Int("out"), a.Bool("bias", true))),
        ["module/identity"] = (_, _) => Layer(new Identity()),
        ["module/flatten"] = (a, _) => Layer(new Flatten(a.IntOrNull("start_dim") ?? 1, a.IntOrNull("end_dim") ?? -1)),
        ["module/unflatten"] = (a, _) => Layer(new Unflatten(a.Int("dim"), a.Ints("sizes"))),
        ["module/step"] = (_, _) => Layer(new Step()),
        ["module/sigmoid"] = (_, _) => Layer(new Sigmoid()),
        ["module/tanh"] = (_, _) => Layer(new Tanh()),
        ["module/relu"] = (_, _) => Layer(new Relu()),
        ["module/leaky_relu"] = (a, _) => Layer(new LeakyRelu(a.Double("negative_slope"))),
        ["module/elu"] = (a, _) => Layer(new Elu(a.Double("alpha"))),
        ["module/gelu"] = (a, _) => Layer(new Gelu(GeluApproximationNames.Parse(a.String("approximate", "none"), "fixture"))),
        ["module/softplus"] = (a, _) => Layer(new Softplus(a.Double("beta"), a.Double("threshold"))),
        ["module/softmax"] = (a, _) => Layer(new Softmax(a.Int("dim"))),
        ["module/log_softmax"] = (a, _) => Layer(new LogSoftmax(a.Int("dim"))),
        ["module/dropout"] = (a, _) =>
        {
            var d = new Dropout(a.Double("p"));
            d.Train(a.Bool("training"));
            return Layer(d);
        },
        ["module/sequential_tanh"] = (a, _) => Layer(new Sequential(
            new Linear(a.Int("in"), a.Int("hidden")), new Tanh(), new Linear(a.Int("hidden"), a.Int("out")))),
        // models
        ["module/mlp"] = (a, _) => Layer(new Mlp(a.Int("in"), a.Ints("hidden"), a.Int("out"))),
        ["module/softmax_regression"] = (a, _) => Layer(ModelZoo.Create("softmax", new ModelOptions(InputFeatures: a.Int("in"), NumClasses: a.Int("classes")))),
        ["module/logreg"] = (a, _) => Layer(ModelZoo.Create("logreg", new ModelOptions(InputFeatures: a.Int("in")))),
        // losses (class weights come from the PyTorch state dict, where they are buffers)
        ["loss/mse"] = (a, _) => Criterion(new MseLoss(R(a))),
        ["loss/l1"] = (a, _) => Criterion(new L1Loss(R(a))),
        ["loss/smooth_l1"] = (a, _) => Criterion(new SmoothL1Loss(R(a), a.Double("beta"))),
        ["loss/huber"] = (a, _) => Criterion(new HuberLoss(R(a), a.Double("delta"))),
        ["loss/cross_entropy"] = (a, s) => Criterion(new CrossEntropyLoss(s.GetValueOrDefault("weight"),
            (long)a.Double("ignore_index", -100), R(a), a.Double("label_smoothing", 0))),
        ["loss/nll"] = (a, s) => Criterion(new NllLoss(s.GetValueOrDefault("weight"), (long)a.Double("ignore_index", -100), R(a))),
        ["loss/bce"] = (a, s) => Criterion(new BceLoss(s.GetValueOrDefault("weight"), R(a))),
        ["loss/bce_with_logits"] = (a, s) => Criterion(new BceWithLogitsLoss(s.GetValueOrDefault("weight"), R(a), s.GetValueOrDefault("pos_weight"))),
        ["loss/multi_margin"] = (a, s) => Criterion(new MultiMarginLoss(a.Int("p"), a.Double("margin"), s.GetValueOrDefault("weight"), R(a))),
        ["loss/hinge_embedding"] = (a, _) => Criterion(new HingeEmbeddingLoss(a.Double("margin"), R(a))),
        ["loss/kl_div"] = (a, _) => Criterion(new KLDivLoss(R(a), a.Bool("log_target"))),
    };

    private static Built Layer(Module<Tensor, Tensor> m) => new(m, x => m.Call(x[0]));

    private static Built Criterion(Loss loss) => new(loss, x => loss.Call(x[0], x[1]));

    private static Reduction R(JsonElement a) => a.String("reduction", "mean") switch
    {
        "none" => Reduction.None,
        "sum" => Reduction.Sum,
        "batchmean" => Reduction.BatchMean,
        _ => Reduction.Mean,
    };
}
