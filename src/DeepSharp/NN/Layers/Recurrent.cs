using DeepSharp.Kernels;

namespace DeepSharp.NN;

// The sequence modules (nn.RNN, nn.LSTM, nn.GRU): constructors only; the network, its parameters and
// its Forward(input, h0, c0, lengths) live in RecurrentBase.cs.

/// <summary>The activation of an Elman RNN step (<see cref="Rnn"/>, <see cref="RnnCell"/>, <see cref="Functional.RnnCell"/>; PyTorch's nonlinearity="tanh" or "relu").</summary>
public enum RnnNonlinearity
{
    /// <summary>h' = tanh(...) (the default).</summary>
    Tanh,
    /// <summary>h' = relu(...).</summary>
    Relu,
}

/// <summary>Maps <see cref="RnnNonlinearity"/> to the recurrent kernel's cell and back.</summary>
internal static class RnnNonlinearities
{
    /// <summary>The kernel cell that runs an RNN step with <paramref name="nonlinearity"/>.</summary>
    public static RecurrentCell ToCell(this RnnNonlinearity nonlinearity, string op) => nonlinearity switch
    {
        RnnNonlinearity.Tanh => RecurrentCell.RnnTanh,
        RnnNonlinearity.Relu => RecurrentCell.RnnRelu,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, $"{op}: unknown nonlinearity; expected RnnNonlinearity.Tanh or RnnNonlinearity.Relu"),
    };

    /// <summary>The nonlinearity of an RNN kernel cell.</summary>
    public static RnnNonlinearity OfCell(RecurrentCell cell) => cell == RecurrentCell.RnnRelu ? RnnNonlinearity.Relu : RnnNonlinearity.Tanh;
}

/// <summary>
/// Elman RNN, h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) with act = tanh or relu (nn.RNN).
/// <c>var (output, hN, _) = rnn.Forward(x);</c>
/// </summary>
public sealed class Rnn(int inputSize, int hiddenSize, int numLayers = 1, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh, bool bias = true,
    bool batchFirst = false, double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(nonlinearity.ToCell("Rnn"), inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator)
{
    /// <summary>Prints as PyTorch's <c>RNN</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "RNN";

    /// <summary>Tanh or Relu.</summary>
    public RnnNonlinearity Nonlinearity => RnnNonlinearities.OfCell(Cell);
}

/// <summary>
/// Long short-term memory (nn.LSTM): gates i, f, g, o from x_t and h_{t-1}; c_t = f c_{t-1} + i g keeps a
/// cell state that gradients can cross many steps through; h_t = o tanh(c_t).
/// <c>var (output, hN, cN) = lstm.Forward(x, h0, c0, lengths);</c>
/// </summary>
public sealed class Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
    double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(RecurrentCell.Lstm, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator)
{
    /// <summary>Prints as PyTorch's <c>LSTM</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "LSTM";
}

/// <summary>
/// Gated recurrent unit (nn.GRU): reset gate r, update gate z, candidate n = tanh(x_n + r (W_hn h + b_hn)),
/// h_t = (1 - z) n + z h_{t-1}. <c>var (output, hN, _) = gru.Forward(x);</c>
/// </summary>
public sealed class Gru(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false,
    double dropout = 0, bool bidirectional = false, DType dtype = DType.Float32, Generator? generator = null)
    : RecurrentBase(RecurrentCell.Gru, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, dtype, generator)
{
    /// <summary>Prints as PyTorch's <c>GRU</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "GRU";
}
