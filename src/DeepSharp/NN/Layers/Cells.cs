using System.Globalization;
using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// One time step of a recurrent cell, for loops the caller writes (decoders, attention). Parameters as
/// PyTorch's cells: <c>weight_ih</c> [G*H, I], <c>weight_hh</c> [G*H, H], <c>bias_ih</c>, <c>bias_hh</c> [G*H],
/// all starting at U(-1/sqrt(H), 1/sqrt(H)). Inputs are [B, I] (or unbatched [I]); a missing state is zeros.
/// </summary>
public abstract class RnnCellBase<TOut> : Module<Tensor, TOut>
{
    private protected RnnCellBase(RecurrentCell cell, int inputSize, int hiddenSize, bool bias, DType dtype, Generator? generator)
    {
        if (inputSize <= 0 || hiddenSize <= 0)
            throw new ArgumentException($"{GetType().Name}: input_size and hidden_size must be greater than zero, got {inputSize} and {hiddenSize}");
        Cell = cell;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        int gates = cell.Gates() * hiddenSize;
        WeightIh = RegisterParameter("weight_ih", Tensor.Zeros([gates, inputSize], dtype));
        WeightHh = RegisterParameter("weight_hh", Tensor.Zeros([gates, hiddenSize], dtype));
        if (bias)
        {
            BiasIh = RegisterParameter("bias_ih", Tensor.Zeros([gates], dtype));
            BiasHh = RegisterParameter("bias_hh", Tensor.Zeros([gates], dtype));
        }
        ResetParameters(generator);
    }

    /// <summary>Which recurrence this cell computes (RNN with tanh or relu, GRU or LSTM).</summary>
    internal RecurrentCell Cell { get; }

    /// <summary>Features of an input step, I.</summary>
    public int InputSize { get; }

    /// <summary>Features of the hidden state, H.</summary>
    public int HiddenSize { get; }

    /// <summary>Input-to-hidden weights [G*H, I] (<c>weight_ih</c>), G = 1, 3 or 4 gates for RNN, GRU, LSTM.</summary>
    public Tensor WeightIh { get; }

    /// <summary>Hidden-to-hidden weights [G*H, H] (<c>weight_hh</c>).</summary>
    public Tensor WeightHh { get; }

    /// <summary>Input-to-hidden bias [G*H] (<c>bias_ih</c>), or null when built without bias.</summary>
    public Tensor? BiasIh { get; }

    /// <summary>Hidden-to-hidden bias [G*H] (<c>bias_hh</c>), or null when built without bias.</summary>
    public Tensor? BiasHh { get; }

    /// <summary>Re-draws every parameter from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        double bound = 1 / Math.Sqrt(HiddenSize);
        foreach (var p in Parameters()) Init.Uniform(p, -bound, bound, generator);
    }

    /// <summary>The given state, or zeros shaped like the hidden state for <paramref name="input"/>.</summary>
    private protected Tensor StateOrZeros(Tensor input, Tensor? state)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (state is not null) return state;
        int[] shape = input.Rank == 2 ? [input.ShapeArray[0], HiddenSize] : [HiddenSize];
        return Tensor.Zeros(shape, input.IsFloatingPoint ? input.DType : WeightIh.DType);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => string.Create(CultureInfo.InvariantCulture, $"{InputSize}, {HiddenSize}")
        + (BiasIh is null ? ", bias=False" : "") + (Cell == RecurrentCell.RnnRelu ? ", nonlinearity=relu" : "");
}

/// <summary>One Elman RNN step h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu (nn.RNNCell).</summary>
public sealed class RnnCell(int inputSize, int hiddenSize, bool bias = true, RnnNonlinearity nonlinearity = RnnNonlinearity.Tanh, DType dtype = DType.Float32, Generator? generator = null)
    : RnnCellBase<Tensor>(nonlinearity.ToCell("RnnCell"), inputSize, hiddenSize, bias, dtype, generator)
{
    /// <summary>Prints as PyTorch's <c>RNNCell</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "RNNCell";

    /// <summary>Tanh or Relu.</summary>
    public RnnNonlinearity Nonlinearity => RnnNonlinearities.OfCell(Cell);

    /// <summary>One step from a zero hidden state; see <see cref="Forward(Tensor, Tensor)"/>.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>h' from input [B, I] (or [I]) and hx [B, H] (or [H]; zeros when null).</summary>
    public Tensor Forward(Tensor input, Tensor? hx) =>
        Functional.RnnCell(input, StateOrZeros(input, hx), WeightIh, WeightHh, BiasIh, BiasHh, Nonlinearity);

    /// <summary>Forward through the hooks; the hooks see <paramref name="input"/> as the input.</summary>
    public Tensor Call(Tensor input, Tensor? hx) => CallWithHooks(input, (Cell: this, hx), static (x, a) => a.Cell.Forward(x, a.hx));
}

/// <summary>One GRU step with gates r, z, n (nn.GRUCell).</summary>
public sealed class GruCell(int inputSize, int hiddenSize, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    : RnnCellBase<Tensor>(RecurrentCell.Gru, inputSize, hiddenSize, bias, dtype, generator)
{
    /// <summary>Prints as PyTorch's <c>GRUCell</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "GRUCell";

    /// <summary>One step from a zero hidden state; see <see cref="Forward(Tensor, Tensor)"/>.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>h' from input [B, I] (or [I]) and hx [B, H] (or [H]; zeros when null).</summary>
    public Tensor Forward(Tensor input, Tensor? hx) =>
        Functional.GruCell(input, StateOrZeros(input, hx), WeightIh, WeightHh, BiasIh, BiasHh);

    /// <summary>Forward through the hooks; the hooks see <paramref name="input"/> as the input.</summary>
    public Tensor Call(Tensor input, Tensor? hx) => CallWithHooks(input, (Cell: this, hx), static (x, a) => a.Cell.Forward(x, a.hx));
}

/// <summary>One LSTM step with gates i, f, g, o (nn.LSTMCell); returns (h', c').</summary>
public sealed class LstmCell(int inputSize, int hiddenSize, bool bias = true, DType dtype = DType.Float32, Generator? generator = null)
    : RnnCellBase<(Tensor H, Tensor C)>(RecurrentCell.Lstm, inputSize, hiddenSize, bias, dtype, generator)
{
    /// <summary>Prints as PyTorch's <c>LSTMCell</c> (ToString, Summary, reports).</summary>
    public override string TypeName => "LSTMCell";

    /// <summary>One step from zero hidden and cell states; see <see cref="Forward(Tensor, Tensor, Tensor)"/>.</summary>
    public override (Tensor H, Tensor C) Forward(Tensor input) => Forward(input, null, null);

    /// <summary>(h', c') from input [B, I] (or [I]) and the state hx, cx [B, H] (or [H]; zeros when null).</summary>
    public (Tensor H, Tensor C) Forward(Tensor input, Tensor? hx, Tensor? cx) =>
        Functional.LstmCell(input, StateOrZeros(input, hx), StateOrZeros(input, cx), WeightIh, WeightHh, BiasIh, BiasHh);

    /// <summary>Forward through the hooks; the hooks see <paramref name="input"/> as the input.</summary>
    public (Tensor H, Tensor C) Call(Tensor input, Tensor? hx, Tensor? cx) =>
        CallWithHooks(input, (Cell: this, hx, cx), static (x, a) => a.Cell.Forward(x, a.hx, a.cx));
}
