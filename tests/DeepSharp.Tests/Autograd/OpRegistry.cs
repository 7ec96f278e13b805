using System.Text.Json;

namespace DeepSharp.Tests.Autograd;

/// <summary>
/// One row per op: the op name used by scripts/gen_fixtures.py and how to run it in DeepSharp.
/// The parity and gradient-check tests run every fixture case through this table.
/// </summary>
internal static class OpRegistry
{
    private static (Tensor Values, Tensor Indices) MaxPool(Tensor x, JsonElement a) =>
        Tensor.MaxPool2dWithIndices(x, a.Pair("kernel", 0), a.Has("stride") ? a.Pair("stride", 0) : null, a.Pair("padding", 0), a.Pair("dilation", 1), a.Bool("ceil_mode"));

    /// <summary>One recurrent layer; the fixture compares cat(y, h_n[, c_n]) flattened.</summary>
    private static Tensor Recurrent(Tensor[] x, JsonElement a)
    {
        var cell = a.String("cell", "lstm") switch
        {
            "lstm" => DeepSharp.Kernels.RecurrentCell.Lstm,
            "gru" => DeepSharp.Kernels.RecurrentCell.Gru,
            "rnn_tanh" => DeepSharp.Kernels.RecurrentCell.RnnTanh,
            _ => DeepSharp.Kernels.RecurrentCell.RnnRelu,
        };
        bool lstm = cell == DeepSharp.Kernels.RecurrentCell.Lstm;
        int w = lstm ? 3 : 2;
        int[]? lengths = a.Has("lengths") ? a.Ints("lengths") : null;
        var (y, h, c) = Tensor.RecurrentLayer(cell, x[0], x[1], lstm ? x[2] : null, x[w], x[w + 1], x[w + 2], x[w + 3], lengths, a.Bool("reverse"));
        return Tensor.Cat(c is null ? [y.Reshape(-1), h.Reshape(-1)] : [y.Reshape(-1), h.Reshape(-1), c.Reshape(-1)]);
    }

    /// <summary>Batch norm on copies of the running statistics, so repeated evaluation (GradCheck) sees the same inputs.</summary>
    private static (Tensor Output, Tensor RunningStats) BatchNorm(Tensor[] x, JsonElement a)
    {
        var rm = x.Length > 1 ? x[1].Detach().Clone() : null;
        var rv = x.Length > 2 ? x[2].Detach().Clone() : null;
        var y = Tensor.BatchNorm(x[0], rm, rv, x.Length > 3 ? x[3] : null, x.Length > 4 ? x[4] : null,
            a.Bool("training"), a.Double("momentum", 0.1), a.Double("eps", 1e-5));
        return (y, Tensor.Cat([rm!, rv!]));
    }

    public delegate Tensor Op(Tensor[] x, JsonElement args);

    /// <summary>Ops whose output is not differentiable (masks and indices).</summary>
    public static readonly HashSet<string> NonDifferentiable = ["argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge", "max_pool2d_indices", "batch_norm_running_stats"];

    public static readonly Dictionary<string, Op> Ops = new()
    {
        // arithmetic
        ["add"] = (x, a) => x[0].Add(x[1], a.Double("alpha", 1)),
        ["sub"] = (x, a) => x[0].Sub(x[1], a.Double("alpha", 1)),
        ["mul"] = (x, _) => x[0] * x[1],
        ["div"] = (x, _) => x[0] / x[1],
        ["maximum"] = (x, _) => x[0].Maximum(x[1]),
        ["minimum"] = (x, _) => x[0].Minimum(x[1]),
        ["pow"] = (x, _) => x[0].Pow(x[1]),
        ["add_scalar"] = (x, a) => x[0] + a.Double("scalar"),
        ["sub_scalar"] = (x, a) => x[0] - a.Double("scalar"),
        ["rsub_scalar"] = (x, a) => a.Double("scalar") - x[0],
        ["mul_scalar"] = (x, a) => x[0] * a.Double("scalar"),
        ["div_scalar"] = (x, a) => x[0] / a.Double("scalar"),
        ["pow_scalar"] = (x, a) => x[0].Pow(a.Double("exponent")),
        ["neg"] = (x, _) => -x[0],
        // math
        ["exp"] = (x, _) => x[0].Exp(),
        ["log"] = (x, _) => x[0].Log(),
        ["log1p"] = (x, _) => x[0].Log1p(),
        ["sqrt"] = (x, _) => x[0].Sqrt(),
        ["rsqrt"] = (x, _) => x[0].Rsqrt(),
        ["abs"] = (x, _) => x[0].Abs(),
        ["sign"] = (x, _) => x[0].Sign(),
        ["sin"] = (x, _) => x[0].Sin(),
        ["cos"] = (x, _) => x[0].Cos(),
        // activations
        ["tanh"] = (x, _) => x[0].Tanh(),
        ["sigmoid"] = (x, _) => x[0].Sigmoid(),
        ["relu"] = (x, _) => x[0].Relu(),
        ["leaky_relu"] = (x, a) => x[0].LeakyRelu(a.Double("negative_slope", 0.01)),
        ["elu"] = (x, a) => x[0].Elu(a.Double("alpha", 1)),
        ["gelu"] = (x, a) => x[0].Gelu(GeluApproximationNames.Parse(a.String("approximate", "none"), "fixture")),
        ["softplus"] = (x, a) => x[0].Softplus(a.Double("beta", 1), a.Double("threshold", 20)),
        ["clamp"] = (x, a) => x[0].Clamp(a.DoubleOrNull("min"), a.DoubleOrNull("max")),
        // reductions
        ["sum"] = (x, a) => x[0].Sum(a.IntsOrNull("dim"), a.Bool("keepdim")),
        ["mean"] = (x, a) => x[0].Mean(a.IntsOrNull("dim"), a.Bool("keepdim")),
        ["max_dim"] = (x, a) => x[0].Max(a.Int("dim"), a.Bool("keepdim")).Values,
        ["min_dim"] = (x, a) => x[0].Min(a.Int("dim"), a.Bool("keepdim")).Values,
        ["max_all"] = (x, _) => x[0].Max(),
        ["min_all"] = (x, _) => x[0].Min(),
        ["argmax"] = (x, a) => x[0].Argmax(a.IntOrNull("dim"), a.Bool("keepdim")),
        ["argmin"] = (x, a) => x[0].Argmin(a.IntOrNull("dim"), a.Bool("keepdim")),
        ["var"] = (x, a) => x[0].Var(a.IntsOrNull("dim"), a.Bool("unbiased", true), a.Bool("keepdim")),
        ["std"] = (x, a) => x[0].Std(a.IntsOrNull("dim"), a.Bool("unbiased", true), a.Bool("keepdim")),
        ["prod"] = (x, a) => x[0].Prod(a.IntOrNull("dim"), a.Bool("keepdim")),
        ["logsumexp"] = (x, a) => x[0].LogSumExp(a.Ints("dim"), a.Bool("keepdim")),
        // scans
        ["cumsum"] = (x, a) => x[0].Cumsum(a.Int("dim")),
        ["cumprod"] = (x, a) => x[0].Cumprod(a.Int("dim")),
        ["norm"] = (x, a) => x[0].Norm(a.Double("p", 2), a.IntsOrNull("dim"), a.Bool("keepdim")),
        ["scaled_dot_product_attention"] = (x, a) => DeepSharp.NN.Functional.ScaledDotProductAttention(x[0], x[1], x[2], isCausal: a.Bool("is_causal")).Output,
        ["softmax"] = (x, a) => x[0].Softmax(a.Int("dim")),
        ["log_softmax"] = (x, a) => x[0].LogSoftmax(a.Int("dim")),
        // products
        ["matmul"] = (x, _) => x[0].MatMul(x[1]),
        ["bmm"] = (x, _) => x[0].Bmm(x[1]),
        ["outer"] = (x, _) => x[0].Outer(x[1]),
        ["linear"] = (x, _) => Tensor.Linear(x[0], x[1], x.Length > 2 ? x[2] : null),
        // views
        ["reshape"] = (x, a) => x[0].Reshape(a.Ints("shape")),
        ["view"] = (x, a) => x[0].View(a.Ints("shape")),
        ["transpose"] = (x, a) => x[0].Transpose(a.Int("dim0"), a.Int("dim1")),
        ["permute"] = (x, a) => x[0].Permute(a.Ints("dims")),
        ["narrow"] = (x, a) => x[0].Narrow(a.Int("dim"), a.Int("start"), a.Int("length")),
        ["slice"] = (x, a) => x[0].Slice(a.Int("dim"), a.IntOrNull("start"), a.IntOrNull("end"), a.IntOrNull("step") ?? 1),
        ["select"] = (x, a) => x[0].Select(a.Int("dim"), a.Int("index")),
        ["expand"] = (x, a) => x[0].Expand(a.Ints("sizes")),
        ["squeeze"] = (x, a) => x[0].Squeeze(a.IntOrNull("dim")),
        ["unsqueeze"] = (x, a) => x[0].Unsqueeze(a.Int("dim")),
        ["flatten"] = (x, a) => x[0].Flatten(a.IntOrNull("start_dim") ?? 0, a.IntOrNull("end_dim") ?? -1),
        ["contiguous_t"] = (x, _) => x[0].T().Contiguous(),
        // joining
        ["cat"] = (x, a) => Tensor.Cat(x, a.Int("dim")),
        ["stack"] = (x, a) => Tensor.Stack(x, a.Int("dim")),
        ["split"] = (x, a) => a.Get("split_size_or_sections").ValueKind == JsonValueKind.Array
            ? x[0].Split(a.Ints("split_size_or_sections"), a.Int("dim"))[a.Int("index")]
            : x[0].Split(a.Int("split_size_or_sections"), a.Int("dim"))[a.Int("index")],
        ["chunk"] = (x, a) => x[0].Chunk(a.Int("chunks"), a.Int("dim"))[a.Int("index")],
        // indexing
        ["index_select"] = (x, a) => x[0].IndexSelect(a.Int("dim"), x[1]),
        ["gather"] = (x, a) => x[0].Gather(a.Int("dim"), x[1]),
        ["scatter_add"] = (x, a) => x[0].ScatterAdd(a.Int("dim"), x[1], x[2]),
        ["masked_fill"] = (x, a) => x[0].MaskedFill(x[1], a.Double("value")),
        ["where"] = (x, _) => Tensor.Where(x[0], x[1], x[2]),
        // convolution, pooling, normalisation, padding
        ["conv2d"] = (x, a) => Tensor.Conv2d(x[0], x[1], x.Length > 2 ? x[2] : null, a.Pair("stride", 1), a.Pair("padding", 0), a.Pair("dilation", 1), a.IntOrNull("groups") ?? 1),
        ["conv1d"] = (x, a) => Tensor.Conv1d(x[0], x[1], x.Length > 2 ? x[2] : null, a.IntOrNull("stride") ?? 1, a.IntOrNull("padding") ?? 0, a.IntOrNull("dilation") ?? 1, a.IntOrNull("groups") ?? 1),
        ["conv_transpose2d"] = (x, a) => Tensor.ConvTranspose2d(x[0], x[1], x.Length > 2 ? x[2] : null, a.Pair("stride", 1), a.Pair("padding", 0), a.Pair("output_padding", 0), a.IntOrNull("groups") ?? 1, a.Pair("dilation", 1)),
        ["max_pool2d"] = (x, a) => MaxPool(x[0], a).Values,
        ["max_pool2d_indices"] = (x, a) => MaxPool(x[0], a).Indices,
        ["max_pool1d"] = (x, a) => Tensor.MaxPool1d(x[0], a.Int("kernel"), a.IntOrNull("stride"), a.IntOrNull("padding") ?? 0, a.IntOrNull("dilation") ?? 1, a.Bool("ceil_mode")),
        ["avg_pool2d"] = (x, a) => Tensor.AvgPool2d(x[0], a.Pair("kernel", 0), a.Has("stride") ? a.Pair("stride", 0) : null, a.Pair("padding", 0), a.Bool("ceil_mode"), a.Bool("count_include_pad", true), a.IntOrNull("divisor_override")),
        ["adaptive_avg_pool2d"] = (x, a) => Tensor.AdaptiveAvgPool2d(x[0], a.Pair("output_size", 0)),
        ["adaptive_max_pool2d"] = (x, a) => Tensor.AdaptiveMaxPool2d(x[0], a.Pair("output_size", 0)).Values,
        ["batch_norm"] = (x, a) => BatchNorm(x, a).Output,
        ["batch_norm_running_stats"] = (x, a) => BatchNorm(x, a).RunningStats,
        ["layer_norm"] = (x, a) => Tensor.LayerNorm(x[0], a.Ints("normalized_shape"), x.Length > 1 ? x[1] : null, x.Length > 2 ? x[2] : null, a.Double("eps", 1e-5)),
        ["group_norm"] = (x, a) => Tensor.GroupNorm(x[0], a.Int("groups"), x.Length > 1 ? x[1] : null, x.Length > 2 ? x[2] : null, a.Double("eps", 1e-5)),
        ["pad"] = (x, a) => x[0].Pad(a.Ints("pads"), a.Double("value", 0)),
        ["recurrent_layer"] = Recurrent,
        // comparisons
        ["eq"] = (x, _) => x[0].Eq(x[1]),
        ["ne"] = (x, _) => x[0].Ne(x[1]),
        ["lt"] = (x, _) => x[0].Lt(x[1]),
        ["le"] = (x, _) => x[0].Le(x[1]),
        ["gt"] = (x, _) => x[0].Gt(x[1]),
        ["ge"] = (x, _) => x[0].Ge(x[1]),
    };
}

internal static class JsonArgs
{
    /// <summary>An [h, w] pair argument (or an int used for both), with a default for both.</summary>
    public static (int H, int W) Pair(this JsonElement a, string name, int fallback)
    {
        if (!a.Has(name)) return (fallback, fallback);
        var v = a.Ints(name);
        return v.Length == 1 ? (v[0], v[0]) : (v[0], v[1]);
    }

    public static JsonElement Get(this JsonElement a, string name) => a.GetProperty(name);

    public static bool Has(this JsonElement a, string name) => a.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public static double Double(this JsonElement a, string name) => a.GetProperty(name).GetDouble();

    public static double Double(this JsonElement a, string name, double fallback) => a.Has(name) ? a.Double(name) : fallback;

    public static double? DoubleOrNull(this JsonElement a, string name) => a.Has(name) ? a.Double(name) : null;

    public static int Int(this JsonElement a, string name) => a.GetProperty(name).GetInt32();

    public static int? IntOrNull(this JsonElement a, string name) => a.Has(name) ? a.Int(name) : null;

    public static bool Bool(this JsonElement a, string name, bool fallback = false) => a.Has(name) ? a.GetProperty(name).GetBoolean() : fallback;

    public static string String(this JsonElement a, string name, string fallback) => a.Has(name) ? a.GetProperty(name).GetString()! : fallback;

    public static int[] Ints(this JsonElement a, string name)
    {
        var v = a.GetProperty(name);
        return v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray() : [v.GetInt32()];
    }

    public static int[]? IntsOrNull(this JsonElement a, string name) => a.Has(name) ? a.Ints(name) : null;
}
