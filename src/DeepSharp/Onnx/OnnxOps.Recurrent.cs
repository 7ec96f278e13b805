using DeepSharp.Kernels;

namespace DeepSharp.Onnx;

// LSTM, GRU and RNN: ONNX's weights [D, G*H, I] are reordered into PyTorch's gate order (with differentiable
// slices, so the imported W/R/B stay the trained parameters) and run by Tensor.RecurrentLayer, one direction at a time.
internal static partial class OnnxOps
{
    private static void RegisterRecurrent(Dictionary<string, Op> ops)
    {
        ops["LSTM"] = n => Recurrent(n, RecurrentCell.Lstm);
        ops["GRU"] = n => Recurrent(n, RecurrentCell.Gru);
        ops["RNN"] = n => Recurrent(n, n.Strings("activations") is [.., "Relu"] ? RecurrentCell.RnnRelu : RecurrentCell.RnnTanh);
    }

    private static bool RecurrentActivationsSupported(string op, string[] acts) => op switch
    {
        "RNN" => acts.All(a => a is "Tanh") || acts.All(a => a is "Relu"),
        "LSTM" => acts.Length % 3 == 0 && acts.Chunk(3).All(c => c is ["Sigmoid", "Tanh", "Tanh"]),
        "GRU" => acts.Length % 2 == 0 && acts.Chunk(2).All(c => c is ["Sigmoid", "Tanh"]),
        _ => false,
    };

    private static Tensor?[] Recurrent(OnnxNode n, RecurrentCell cell)
    {
        var x = n.Input(0);
        var w = n.Input(1);
        var r = n.Input(2);
        var b = n.Optional(3);
        var lengths = n.Optional(4)?.To(DType.Int64).ToArray<long>().Select(v => (int)v).ToArray();
        var h0 = n.Optional(5);
        var c0 = n.Optional(6);
        bool batchMajor = n.Int("layout", 0) != 0;
        if (batchMajor)
        {
            x = x.Transpose(0, 1);
            h0 = h0?.Transpose(0, 1);
            c0 = c0?.Transpose(0, 1);
        }
        string direction = n.String("direction", "forward");
        int dirs = direction == "bidirectional" ? 2 : 1;
        int hidden = (int)n.Int("hidden_size", r.ShapeArray[^1]);
        int batch = x.ShapeArray[1];
        int[] order = cell switch
        {
            RecurrentCell.Lstm => [0, 2, 3, 1], // PyTorch i, f, g, o from ONNX i, o, f, c
            RecurrentCell.Gru => [1, 0, 2],     // PyTorch r, z, n from ONNX z, r, h
            _ => [0],
        };
        int gates = order.Length;
        Tensor Reorder(Tensor t) => gates == 1 ? t : Tensor.Cat(order.Select(k => t.Narrow(0, k * hidden, hidden)).ToArray(), 0);
        var ys = new List<Tensor>();
        var hs = new List<Tensor>();
        var cs = new List<Tensor>();
        for (int d = 0; d < dirs; d++)
        {
            bool reverse = direction == "reverse" || d == 1;
            var wd = Reorder(w.Select(0, d));
            var rd = Reorder(r.Select(0, d));
            Tensor? bih = null, bhh = null;
            if (b is not null)
            {
                var bd = b.Select(0, d);
                bih = Reorder(bd.Narrow(0, 0, gates * hidden));
                bhh = Reorder(bd.Narrow(0, gates * hidden, gates * hidden));
            }
            var hInit = h0?.Select(0, d) ?? Tensor.Zeros([batch, hidden], x.DType);
            var cInit = cell == RecurrentCell.Lstm ? c0?.Select(0, d) ?? Tensor.Zeros([batch, hidden], x.DType) : null;
            var (y, hN, cN) = cell == RecurrentCell.Gru && n.Int("linear_before_reset", 0) == 0
                ? GruResetFirst(x, hInit, wd, rd, bih, bhh, lengths, reverse)
                : Tensor.RecurrentLayer(cell, x, hInit, cInit, wd, rd, bih, bhh, lengths, reverse);
            ys.Add(y);
            hs.Add(hN);
            if (cN is not null) cs.Add(cN);
        }
        var yAll = Tensor.Stack(ys, 1);   // [T, D, N, H]
        var hAll = Tensor.Stack(hs, 0);   // [D, N, H]
        var cAll = cs.Count > 0 ? Tensor.Stack(cs, 0) : null;
        if (batchMajor)
        {
            yAll = yAll.Permute(2, 0, 1, 3); // [N, T, D, H]
            hAll = hAll.Transpose(0, 1);
            cAll = cAll?.Transpose(0, 1);
        }
        return [yAll, hAll, cAll];
    }

    /// <summary>
    /// A GRU direction with ONNX's default linear_before_reset=0, where the reset gate scales the state before the
    /// recurrent product: n = tanh(W_n x + b_in + R_n (r * h) + b_hn). Weights are in PyTorch's r, z, n order. Composed
    /// from tensor ops one step at a time (differentiable); with lengths, steps past a sequence's end keep its state
    /// and output zeros, as packed sequences.
    /// </summary>
    private static (Tensor Output, Tensor HiddenState, Tensor? CellState) GruResetFirst(Tensor x, Tensor h, Tensor w, Tensor r, Tensor? bw, Tensor? br,
        int[]? lengths, bool reverse)
    {
        int steps = x.ShapeArray[0], hidden = r.ShapeArray[1];
        var xw = x.MatMul(w.T());                       // [T, N, 3H], all steps at once
        if (bw is not null) xw = xw + bw;
        var rGates = r.Narrow(0, 0, 2 * hidden).T();    // r and z from h
        var rNew = r.Narrow(0, 2 * hidden, hidden).T(); // n from r * h
        var ys = new Tensor[steps];
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            var g = xw.Select(0, t);
            var rz = g.Narrow(1, 0, 2 * hidden) + h.MatMul(rGates);
            if (br is not null) rz = rz + br.Narrow(0, 0, 2 * hidden);
            rz = rz.Sigmoid();
            var reset = rz.Narrow(1, 0, hidden);
            var update = rz.Narrow(1, hidden, hidden);
            var candidate = g.Narrow(1, 2 * hidden, hidden) + (reset * h).MatMul(rNew);
            if (br is not null) candidate = candidate + br.Narrow(0, 2 * hidden, hidden);
            candidate = candidate.Tanh();
            var next = candidate + update * (h - candidate); // (1 - z) * n + z * h
            if (lengths is not null)
            {
                var active = Tensor.From(lengths.Select(l => t < l).ToArray(), lengths.Length, 1);
                next = Tensor.Where(active, next, h);
                ys[t] = Tensor.Where(active, next, Tensor.ZerosLike(next));
            }
            else ys[t] = next;
            h = next;
        }
        return (Tensor.Stack(ys, 0), h, null);
    }
}
