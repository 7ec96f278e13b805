using DeepSharp.Kernels;

namespace DeepSharp.NN;

// The sequence modules (nn.RNN, nn.LSTM, nn.GRU): constructors only; the network, its parameters and
// its Forward(input, h0, c0, lengths) live in RecurrentBase.cs.

/// <summary>
/// Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) with act = tanh or relu (nn.RNN).
/// <c>var (output, hN, _) = rnn.Forward(x);</c>
/// </summary>
public sealed class RNN(int inputSize, int hiddenSize, int numLayers = 1, string nonlinearity = "tanh", bool bias = true,
    bool batchFirst = false, double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(CellOf(nonlinearity), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator)
{
    /// <summary>"tanh" or "relu".</summary>
    public string Nonlinearity => Cell == RecurrentCell.RnnRelu ? "relu" : "tanh";

    private static RecurrentCell CellOf(string nonlinearity) => nonlinearity switch
    {
        "tanh" => RecurrentCell.RnnTanh,
        "relu" => RecurrentCell.RnnRelu,
        _ => throw new ArgumentException($"RNN: unknown nonlinearity '{nonlinearity}'; expected \"tanh\" or \"relu\""),
    };
}

/// <summary>
/// Long short-term memory (nn.LSTM): gates i, f, g, o from x_t and h_{t-1}; c_t = f c_{t-1} + i g keeps a
/// cell state that gradients can cross many steps through; h_t = o tanh(c_t).
/// <c>var (output, hN, cN) = lstm.Forward(x, h0, c0, lengths);</c>
/// </summary>
public sealed class LSTM(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
    double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(RecurrentCell.Lstm, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator);

/// <summary>
/// Gated recurrent unit (nn.GRU): reset gate r, update gate z, candidate n = tanh(x_n + r (W_hn h + b_hn)),
/// h_t = (1 - z) n + z h_{t-1}. <c>var (output, hN, _) = gru.Forward(x);</c>
/// </summary>
public sealed class GRU(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
    double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(RecurrentCell.Gru, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator);
