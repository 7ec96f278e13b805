using DeepSharp.Kernels;

namespace DeepSharp.NN;

// Sequence-model functions: embedding lookup and the single-step recurrent cells (torch.rnn_tanh_cell,
// torch.lstm_cell, torch.gru_cell). The cells run the fused recurrent op for one time step, so a decoder
// loop costs one graph node per step and the same kernels as the sequence modules.
public static partial class Functional
{
    /// <summary>
    /// Rows of <paramref name="weight"/> [num_embeddings, dim] picked by the int64 <paramref name="input"/>
    /// (any shape, values in [0, num_embeddings)): returns [..input shape, dim] (F.embedding). The row at
    /// <paramref name="paddingIdx"/> (negative counts from the end) is looked up as usual but receives no gradient.
    /// </summary>
    public static Tensor Embedding(Tensor input, Tensor weight, int? paddingIdx = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (input.DType != DType.Int64)
            throw new ArgumentException($"embedding: indices must be an int64 tensor, got {input.Describe()}; convert with .Long()");
        if (weight.Rank != 2)
            throw new ArgumentException($"embedding: weight must be 2-D [num_embeddings, embedding_dim], got {Shapes.Format(weight.ShapeArray)}");
        int rows = weight.ShapeArray[0], dim = weight.ShapeArray[1];
        int? pad = NormalizePaddingIdx("embedding", paddingIdx, rows);
        var flat = input.Reshape(-1);
        var idx = flat.ToArray<long>();
        bool hasPad = false;
        foreach (long i in idx)
        {
            if (i < 0 || i >= rows)
                throw new ArgumentOutOfRangeException(nameof(input), $"embedding: index {i} is out of range for a table of {rows} embeddings (weight {Shapes.Format(weight.ShapeArray)}); indices must be in [0, {rows - 1}]");
            hasPad |= i == pad;
        }
        var gathered = weight.IndexSelect(0, flat); // [n, dim]
        if (hasPad && gathered.RequiresGrad)
        {
            // The padding row must stay a constant: zero its share of the gradient before IndexSelect scatters it.
            var isPad = new bool[idx.Length];
            for (int i = 0; i < idx.Length; i++) isPad[i] = idx[i] == pad;
            var mask = Tensor.From(isPad, idx.Length, 1);
            gathered.RegisterHook(g => g.MaskedFill(mask, 0));
        }
        return gathered.Reshape([.. input.ShapeArray, dim]);
    }

    /// <summary>PyTorch's padding_idx rule: in [-num, num), negative values count from the end.</summary>
    internal static int? NormalizePaddingIdx(string op, int? paddingIdx, int numEmbeddings)
    {
        if (paddingIdx is not int p) return null;
        if (p >= numEmbeddings || p < -numEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"{op}: padding_idx {p} must be within [-{numEmbeddings}, {numEmbeddings}) for {numEmbeddings} embeddings");
        return p < 0 ? p + numEmbeddings : p;
    }

    /// <summary>
    /// One Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu (<paramref name="nonlinearity"/>).
    /// input [B, I] or [I], hx [B, H] or [H]; weights in PyTorch's layout [H, I], [H, H], biases [H].
    /// </summary>
    public static Tensor RnnCell(Tensor input, Tensor hx, Tensor weightIh, Tensor weightHh, Tensor? biasIh = null, Tensor? biasHh = null,
        RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh)
    {
        var cell = nonlinearity.ToCell("rnn_cell");
        return CellStep(cell, "rnn_cell", input, hx, null, weightIh, weightHh, biasIh, biasHh).H;
    }

    /// <summary>
    /// One LSTM step with gates i, f, g, o (PyTorch's order): c' = f c + i g, h' = o tanh(c').
    /// input [B, I] or [I], hx/cx [B, H] or [H]; weightIh [4H, I], weightHh [4H, H], biases [4H]. Returns (h', c').
    /// </summary>
    public static (Tensor H, Tensor C) LstmCell(Tensor input, Tensor hx, Tensor cx, Tensor weightIh, Tensor weightHh,
        Tensor? biasIh = null, Tensor? biasHh = null)
    {
        ArgumentNullException.ThrowIfNull(cx);
        var (h, c) = CellStep(RecurrentCell.Lstm, "lstm_cell", input, hx, cx, weightIh, weightHh, biasIh, biasHh);
        return (h, c!);
    }

    /// <summary>
    /// One GRU step with gates r, z, n (PyTorch's order): n = tanh(x_n + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
    /// input [B, I] or [I], hx [B, H] or [H]; weightIh [3H, I], weightHh [3H, H], biases [3H].
    /// </summary>
    public static Tensor GruCell(Tensor input, Tensor hx, Tensor weightIh, Tensor weightHh, Tensor? biasIh = null, Tensor? biasHh = null) =>
        CellStep(RecurrentCell.Gru, "gru_cell", input, hx, null, weightIh, weightHh, biasIh, biasHh).H;

    /// <summary>Runs the fused recurrent op over a sequence of length 1; an unbatched step is run as a batch of one.</summary>
    private static (Tensor H, Tensor? C) CellStep(RecurrentCell cell, string op, Tensor input, Tensor hx, Tensor? cx,
        Tensor weightIh, Tensor weightHh, Tensor? biasIh, Tensor? biasHh)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(hx);
        ArgumentNullException.ThrowIfNull(weightIh);
        ArgumentNullException.ThrowIfNull(weightHh);
        if (input.Rank is not (1 or 2))
            throw new ArgumentException($"{op}: expected input of shape [batch, input_size] or [input_size], got {Shapes.Format(input.ShapeArray)}");
        bool batched = input.Rank == 2;
        CheckCellState(op, "hx", hx, input.Rank);
        if (cx is not null) CheckCellState(op, "cx", cx, input.Rank);
        var x = (batched ? input : input.Unsqueeze(0)).Unsqueeze(0); // [1, B, I]
        var h0 = batched ? hx : hx.Unsqueeze(0);
        var c0 = cx is null ? null : batched ? cx : cx.Unsqueeze(0);
        var (_, h, c) = Tensor.RecurrentLayer(cell, x, h0, c0, weightIh, weightHh, biasIh, biasHh);
        return batched ? (h, c) : (h.Squeeze(0), c?.Squeeze(0));
    }

    private static void CheckCellState(string op, string name, Tensor state, int inputRank)
    {
        if (state.Rank != inputRank)
            throw new ArgumentException($"{op}: {name} must be {(inputRank == 2 ? "2-D [batch, hidden_size] for a batched" : "1-D [hidden_size] for an unbatched")} input, got {Shapes.Format(state.ShapeArray)}");
    }
}
