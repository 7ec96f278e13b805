using System.Text.Json;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

/// <summary>
/// One row per layer of scripts/gen_cnn_fixtures.py (build_layer): how to build it in DeepSharp from the
/// case's args. Every row runs through PyTorch parity (values, gradients, state keys, running statistics)
/// and float64 GradCheck in <see cref="CnnParityTests"/>.
/// </summary>
internal static class CnnRegistry
{
    /// <summary>The module, its forward, and for return_indices layers a function giving the indices.</summary>
    public sealed record Built(Module Module, Func<Tensor, Tensor> Run, Func<Tensor, Tensor>? Indices = null);

    public static readonly Dictionary<string, Func<JsonElement, Built>> Factories = new()
    {
        ["conv2d"] = a => Layer(new Conv2d(a.Int("in"), a.Int("out"), Pair(a, "k", 0), Pair(a, "stride", 1), Padding(a),
            Pair(a, "dilation", 1), a.IntOrNull("groups") ?? 1, a.Bool("bias", true))),
        ["conv1d"] = a => Layer(new Conv1d(a.Int("in"), a.Int("out"), a.Int("k"), a.IntOrNull("stride") ?? 1, Padding(a),
            a.IntOrNull("dilation") ?? 1, a.IntOrNull("groups") ?? 1, a.Bool("bias", true))),
        ["conv_transpose2d"] = a => Layer(new ConvTranspose2d(a.Int("in"), a.Int("out"), Pair(a, "k", 0), Pair(a, "stride", 1),
            Pair(a, "padding", 0), Pair(a, "output_padding", 0), a.IntOrNull("groups") ?? 1, a.Bool("bias", true), Pair(a, "dilation", 1))),
        ["max_pool2d"] = a =>
        {
            Size2d k = Pair(a, "k", 0);
            Size2d? s = a.Has("stride") ? Pair(a, "stride", 0) : null;
            if (!a.Bool("return_indices")) return Layer(new MaxPool2d(k, s, Pair(a, "padding", 0), Pair(a, "dilation", 1), a.Bool("ceil_mode")));
            var m = new MaxPool2dWithIndices(k, s, Pair(a, "padding", 0), Pair(a, "dilation", 1), a.Bool("ceil_mode"));
            return new Built(m, x => m.Call(x).Values, x => m.Call(x).Indices);
        },
        ["max_pool1d"] = a =>
        {
            if (!a.Bool("return_indices"))
                return Layer(new MaxPool1d(a.Int("k"), a.IntOrNull("stride"), a.IntOrNull("padding") ?? 0, a.IntOrNull("dilation") ?? 1, a.Bool("ceil_mode")));
            var m = new MaxPool1dWithIndices(a.Int("k"), a.IntOrNull("stride"), a.IntOrNull("padding") ?? 0, a.IntOrNull("dilation") ?? 1, a.Bool("ceil_mode"));
            return new Built(m, x => m.Call(x).Values, x => m.Call(x).Indices);
        },
        ["avg_pool2d"] = a => Layer(new AvgPool2d(Pair(a, "k", 0), a.Has("stride") ? Pair(a, "stride", 0) : null, Pair(a, "padding", 0),
            a.Bool("ceil_mode"), a.Bool("count_include_pad", true), a.IntOrNull("divisor_override"))),
        ["adaptive_avg_pool2d"] = a => Layer(new AdaptiveAvgPool2d(Pair(a, "out", 0))),
        ["adaptive_max_pool2d"] = a =>
        {
            if (!a.Bool("return_indices")) return Layer(new AdaptiveMaxPool2d(Pair(a, "out", 0)));
            var m = new AdaptiveMaxPool2dWithIndices(Pair(a, "out", 0));
            return new Built(m, x => m.Call(x).Values, x => m.Call(x).Indices);
        },
        ["batch_norm1d"] = a => Trained(new BatchNorm1d(a.Int("num"), a.Double("eps", 1e-5), Momentum(a), a.Bool("affine", true), a.Bool("track", true)), a),
        ["batch_norm2d"] = a => Trained(new BatchNorm2d(a.Int("num"), a.Double("eps", 1e-5), Momentum(a), a.Bool("affine", true), a.Bool("track", true)), a),
        ["layer_norm"] = a => Layer(new LayerNorm(a.Ints("shape"), a.Double("eps", 1e-5), a.Bool("affine", true))),
        ["group_norm"] = a => Layer(new GroupNorm(a.Int("groups"), a.Int("channels"), a.Double("eps", 1e-5), a.Bool("affine", true))),
        ["local_response_norm"] = a => Layer(new LocalResponseNorm(a.Int("size"), a.Double("alpha", 1e-4), a.Double("beta", 0.75), a.Double("k", 1.0))),
        ["dropout2d"] = a => Trained(new Dropout2d(a.Double("p")), a),
    };

    private static Built Layer(Module<Tensor, Tensor> m) => new(m, x => m.Call(x));

    private static Built Trained(Module<Tensor, Tensor> m, JsonElement a)
    {
        m.Train(a.Bool("training"));
        return Layer(m);
    }

    /// <summary>An int-or-pair argument as PyTorch's _pair.</summary>
    private static Size2d Pair(JsonElement a, string name, int fallback)
    {
        if (!a.Has(name)) return fallback;
        var v = a.Ints(name);
        return v.Length == 1 ? v[0] : (v[0], v[1]);
    }

    private static ConvPadding Padding(JsonElement a)
    {
        if (!a.Has("padding")) return default;
        var v = a.GetProperty("padding");
        if (v.ValueKind == JsonValueKind.String)
            return v.GetString() switch
            {
                "same" => ConvPadding.Same,
                "valid" => ConvPadding.Valid,
                var other => throw new InvalidDataException($"fixture: unknown padding '{other}'"),
            };
        var p = a.Ints("padding");
        return p.Length == 1 ? p[0] : (p[0], p[1]);
    }

    /// <summary>Absent: PyTorch's default 0.1; explicit null: cumulative moving average.</summary>
    private static double? Momentum(JsonElement a) =>
        !a.TryGetProperty("momentum", out var v) ? 0.1 : v.ValueKind == JsonValueKind.Null ? null : v.GetDouble();
}
