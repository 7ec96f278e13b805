using System.Globalization;
using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Onnx;

// RNN, LSTM and GRU as ONNX's fused recurrent operators, one node per layer (both directions in one node).
public sealed partial class OnnxGraphBuilder
{
    /// <summary>
    /// The recurrent network <paramref name="rnn"/> over <paramref name="input"/> from zero initial states, as its
    /// Forward(input): output, h_n and (LSTM) c_n. ONNX orders the gates differently (LSTM i, o, f, c for PyTorch's
    /// i, f, g, o; GRU z, r, h for r, z, n), so the weights are reordered into new initializers named
    /// <c>{module}.W_l{k}</c>, <c>R_l{k}</c>, <c>B_l{k}</c>. ONNX Runtime runs time-major only: batch-first inputs are transposed.
    /// </summary>
    public (OnnxValue Output, OnnxValue HiddenState, OnnxValue? CellState) Recurrent(RecurrentBase rnn, OnnxValue input)
    {
        ArgumentNullException.ThrowIfNull(rnn);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3) throw new NotSupportedException($"ONNX export: {rnn.TypeName} needs a batched input of rank 3, got {Shapes.Format(input.Sample.ShapeArray)}");
        _scope.Add(_modulePaths.TryGetValue(rnn, out var path) ? path : rnn.TypeName);
        try
        {
            var reference = rnn.Forward(input.Sample);
            var x = rnn.BatchFirst ? Transpose(input, 1, 0, 2) : input; // [T, N, I]
            var hs = new List<OnnxValue>();
            var cs = new List<OnnxValue>();
            string prefix = path is null || path.Length == 0 ? "" : path + ".";
            for (int layer = 0; layer < rnn.NumLayers; layer++)
            {
                var (y, h, c) = RecurrentLayer(rnn, layer, x, prefix);
                hs.Add(h);
                if (c is not null) cs.Add(c);
                // Y [T, D, N, H] -> [T, N, D*H], the next layer's input and the module's output.
                var t = Transpose(y, 0, 2, 1, 3);
                x = Reshape(t, 0, 0, -1);
            }
            var output = rnn.BatchFirst ? Transpose(x, 1, 0, 2) : x;
            var hN = hs.Count == 1 ? hs[0] : Concat(hs, 0);
            var cN = cs.Count == 0 ? null : cs.Count == 1 ? cs[0] : Concat(cs, 0);
            // The samples computed node by node equal DeepSharp's forward; keep DeepSharp's own values.
            return (output with { Sample = reference.Output }, hN with { Sample = reference.HiddenState }, cN is null ? null : cN with { Sample = reference.CellState! });
        }
        finally
        {
            _scope.RemoveAt(_scope.Count - 1);
        }
    }

    private (OnnxValue Y, OnnxValue H, OnnxValue? C) RecurrentLayer(RecurrentBase rnn, int layer, OnnxValue x, string prefix)
    {
        int dirs = rnn.NumDirections, hidden = rnn.HiddenSize;
        int[] order = rnn.Cell switch
        {
            RecurrentCell.Lstm => [0, 3, 1, 2], // PyTorch i, f, g, o -> ONNX i, o, f, c
            RecurrentCell.Gru => [1, 0, 2],     // PyTorch r, z, n -> ONNX z, r, h
            _ => [0],
        };
        Tensor Reorder(Tensor w) => Tensor.Cat(order.Select(k => w.Detach().Narrow(0, k * hidden, hidden)).ToArray(), 0);
        var ws = new List<Tensor>();
        var rs = new List<Tensor>();
        var bs = new List<Tensor>();
        for (int d = 0; d < dirs; d++)
        {
            var p = rnn.LayerWeights(layer, reverse: d == 1);
            ws.Add(Reorder(p.WeightIh));
            rs.Add(Reorder(p.WeightHh));
            if (p.BiasIh is not null && p.BiasHh is not null) bs.Add(Tensor.Cat([Reorder(p.BiasIh), Reorder(p.BiasHh)], 0));
        }
        string l = layer.ToString(CultureInfo.InvariantCulture);
        var w = Constant(Tensor.Stack(ws, 0), prefix + "W_l" + l);
        var r = Constant(Tensor.Stack(rs, 0), prefix + "R_l" + l);
        var b = bs.Count == 0 ? null : Constant(Tensor.Stack(bs, 0), prefix + "B_l" + l);

        // Samples: this layer alone, run by DeepSharp, gives Y and the final states.
        int t = x.Shape[0], n = x.Shape[1];
        var dt = x.Sample.DType;
        var ySample = Tensor.Zeros([t, dirs, n, hidden], dt);
        var hSample = Tensor.Zeros([dirs, n, hidden], dt);
        var cSample = rnn.Cell == RecurrentCell.Lstm ? Tensor.Zeros([dirs, n, hidden], dt) : null;
        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Int("hidden_size", hidden),
            OnnxAttribute.String("direction", dirs == 2 ? "bidirectional" : "forward"),
        };
        string op = rnn.Cell switch
        {
            RecurrentCell.Lstm => "LSTM",
            RecurrentCell.Gru => "GRU",
            _ => "RNN",
        };
        if (rnn.Cell == RecurrentCell.Gru) attributes.Add(OnnxAttribute.Int("linear_before_reset", 1)); // PyTorch applies r after the hidden projection
        if (rnn.Cell is RecurrentCell.RnnTanh or RecurrentCell.RnnRelu)
        {
            string act = rnn.Cell == RecurrentCell.RnnRelu ? "Relu" : "Tanh";
            attributes.Add(OnnxAttribute.Strings("activations", Enumerable.Repeat(act, dirs).ToArray()));
        }
        Tensor[] outputs = cSample is null ? [ySample, hSample] : [ySample, hSample, cSample];
        var values = Node(op, [x, w, r, b], outputs, [.. attributes]);
        return (values[0], values[1], values.Length > 2 ? values[2] : null);
    }
}
