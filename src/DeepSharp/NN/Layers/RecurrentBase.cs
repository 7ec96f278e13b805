using System.Globalization;
using System.Runtime.CompilerServices;
using DeepSharp.Kernels;

namespace DeepSharp.NN;

/// <summary>
/// What RNN, LSTM and GRU return: <see cref="Output"/> holds the last layer's hidden state at every step,
/// [B, T, D*H] with batchFirst else [T, B, D*H] (forward and reverse halves concatenated on the last dim);
/// <see cref="HiddenState"/> the final hidden state of every layer and direction [numLayers*D, B, H] (index layer*D + dir);
/// <see cref="CellState"/> the LSTM's final cell states, same shape (null for RNN and GRU). Unbatched inputs drop the B dim.
/// Deconstructs as <c>var (output, hN, cN) = lstm.Forward(x);</c>.
/// </summary>
public sealed record RecurrentOutput(Tensor Output, Tensor HiddenState, Tensor? CellState) : ITuple
{
    int ITuple.Length => CellState is null ? 2 : 3;

    object? ITuple.this[int index] => index switch
    {
        0 => Output,
        1 => HiddenState,
        2 when CellState is not null => CellState,
        _ => throw new ArgumentOutOfRangeException(nameof(index), $"RecurrentOutput has {(CellState is null ? 2 : 3)} items"),
    };
}

/// <summary>The parameters of one layer and direction, in PyTorch's layout ([G*H, in], [G*H, H], [G*H]).</summary>
public readonly record struct RecurrentWeights(Tensor WeightIh, Tensor WeightHh, Tensor? BiasIh, Tensor? BiasHh);

/// <summary>
/// The multi-layer, optionally bidirectional recurrent network behind <see cref="Rnn"/>, <see cref="Lstm"/> and
/// <see cref="Gru"/> (PyTorch's RNNBase). Each layer and direction is one fused <see cref="Tensor.RecurrentLayer"/>
/// call over the whole sequence (input projection of all steps in one GEMM, BPTT inside the node).
/// Parameters are named as PyTorch's (<c>weight_ih_l0</c>, <c>bias_hh_l1_reverse</c>, ...), registered layer by
/// layer, forward direction first, and start at U(-1/sqrt(H), 1/sqrt(H)).
/// <para>
/// Variable-length batches: pass <c>lengths</c> (one per example, at most T) instead of packing. Steps at or
/// after an example's length never touch its state (h_n is the state after its last real step, and the reverse
/// direction starts there) and its outputs there are zero: PyTorch's pack_padded_sequence / pad_packed_sequence.
/// </para>
/// <para>
/// Truncated BPTT: feed a long sequence in chunks and carry the state over with <c>HiddenState.Detach()</c> (and
/// <c>CellState.Detach()</c>): the next chunk then starts from the values but gradients stop at the chunk boundary,
/// so memory and time per step stay bounded.
/// </para>
/// </summary>
public abstract class RecurrentBase : Module<Tensor, RecurrentOutput>
{
    private readonly RecurrentWeights[] _weights; // index layer * NumDirections + direction

    private protected RecurrentBase(RecurrentCell cell, int inputSize, int hiddenSize, int numLayers, bool bias, bool batchFirst,
        double dropout, bool bidirectional, DType dtype, Generator? generator)
    {
        string op = GetType().Name;
        if (inputSize <= 0 || hiddenSize <= 0)
            throw new ArgumentException($"{op}: input_size and hidden_size must be greater than zero, got {inputSize} and {hiddenSize}");
        if (numLayers <= 0) throw new ArgumentException($"{op}: num_layers must be greater than zero, got {numLayers}");
        if (!(dropout >= 0 && dropout <= 1)) throw new ArgumentException($"{op}: dropout should be a number in range [0, 1] representing the probability of an element being zeroed, got {dropout}");
        Cell = cell;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        HasBias = bias;
        BatchFirst = batchFirst;
        Dropout = dropout;
        Bidirectional = bidirectional;

        int gates = cell.Gates() * hiddenSize;
        _weights = new RecurrentWeights[numLayers * NumDirections];
        for (int layer = 0; layer < numLayers; layer++)
        {
            int layerInput = layer == 0 ? inputSize : hiddenSize * NumDirections;
            for (int dir = 0; dir < NumDirections; dir++)
            {
                string suffix = string.Create(CultureInfo.InvariantCulture, $"_l{layer}{(dir == 1 ? "_reverse" : "")}");
                var wIh = RegisterParameter("weight_ih" + suffix, Tensor.Zeros([gates, layerInput], dtype));
                var wHh = RegisterParameter("weight_hh" + suffix, Tensor.Zeros([gates, hiddenSize], dtype));
                var bIh = bias ? RegisterParameter("bias_ih" + suffix, Tensor.Zeros([gates], dtype)) : null;
                var bHh = bias ? RegisterParameter("bias_hh" + suffix, Tensor.Zeros([gates], dtype)) : null;
                _weights[layer * NumDirections + dir] = new RecurrentWeights(wIh, wHh, bIh, bHh);
            }
        }
        ResetParameters(generator);
    }

    /// <summary>Which recurrence the layers compute (RNN with tanh or relu, GRU or LSTM).</summary>
    internal RecurrentCell Cell { get; }

    /// <summary>Features of an input step, I.</summary>
    public int InputSize { get; }

    /// <summary>Features of the hidden state, H.</summary>
    public int HiddenSize { get; }

    /// <summary>Number of stacked layers; layer l &gt; 0 reads the outputs of layer l - 1.</summary>
    public int NumLayers { get; }

    /// <summary>Whether each layer and direction has the biases b_ih and b_hh.</summary>
    public bool HasBias { get; }

    /// <summary>Input and output are [B, T, features] instead of [T, B, features]; states are always [L*D, B, H].</summary>
    public bool BatchFirst { get; }

    /// <summary>Dropout probability on the outputs of every layer except the last, in training mode.</summary>
    public double Dropout { get; }

    /// <summary>Whether each layer also runs from the last step to the first; outputs then have 2*H features.</summary>
    public bool Bidirectional { get; }

    /// <summary>D: 2 when bidirectional, else 1.</summary>
    public int NumDirections => Bidirectional ? 2 : 1;

    /// <summary>Random source of the between-layer dropout masks (Generator.Default when null).</summary>
    public Generator? Generator { get; set; }

    /// <summary>The parameters of <paramref name="layer"/> in the forward (or reverse) direction.</summary>
    public RecurrentWeights LayerWeights(int layer, bool reverse = false)
    {
        if (layer < 0 || layer >= NumLayers) throw new ArgumentOutOfRangeException(nameof(layer), $"{TypeName}: layer {layer} is outside [0, {NumLayers})");
        if (reverse && !Bidirectional) throw new ArgumentException($"{TypeName}: the module is not bidirectional, it has no reverse weights");
        return _weights[layer * NumDirections + (reverse ? 1 : 0)];
    }

    /// <summary>Re-draws every parameter from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        double bound = 1 / Math.Sqrt(HiddenSize);
        foreach (var p in Parameters()) Init.Uniform(p, -bound, bound, generator);
    }

    /// <summary>Runs the network from zero initial states over the whole sequence.</summary>
    public override RecurrentOutput Forward(Tensor input) => Forward(input, null, null, null);

    /// <summary>
    /// Runs the network over <paramref name="input"/> ([B, T, I] with BatchFirst, else [T, B, I]; or unbatched
    /// [T, I]) from <paramref name="h0"/> (and <paramref name="c0"/> for LSTM) [numLayers*D, B, H] (zeros when
    /// null). <paramref name="lengths"/> gives each example's true length for padded batches (see the class notes).
    /// </summary>
    public RecurrentOutput Forward(Tensor input, Tensor? h0 = null, Tensor? c0 = null, int[]? lengths = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        string op = TypeName;
        bool lstm = Cell == RecurrentCell.Lstm;
        if (!lstm && c0 is not null) throw new ArgumentException($"{op}: c0 is only used by LSTM");
        if (input.Rank is not (2 or 3))
            throw new ArgumentException($"{op}: expected a {(BatchFirst ? "[batch, seq, input_size]" : "[seq, batch, input_size]")} or unbatched [seq, input_size] input, got {Shapes.Format(input.ShapeArray)}");
        bool batched = input.Rank == 3;
        var x = !batched ? input.Unsqueeze(1) : BatchFirst ? input.Transpose(0, 1) : input; // [T, B, I]
        int steps = x.ShapeArray[0], batch = x.ShapeArray[1];
        if (x.ShapeArray[2] != InputSize)
            throw new ArgumentException($"{op}: input.size(-1) must be equal to input_size. Expected {InputSize}, got {x.ShapeArray[2]} (input {Shapes.Format(input.ShapeArray)})");
        var h = InitialState(op, "h0", h0, batched, batch);
        var c = lstm ? InitialState(op, "c0", c0, batched, batch) : null;
        if (lengths is not null)
        {
            if (lengths.Length != batch) throw new ArgumentException($"{op}: {lengths.Length} lengths given for a batch of {batch}");
            foreach (int l in lengths)
                if (l < 0 || l > steps) throw new ArgumentException($"{op}: sequence length {l} is outside [0, {steps}] (input {Shapes.Format(input.ShapeArray)})");
        }

        Tensor? zeros = null; // the default initial state, shared by every layer and direction
        var hN = new Tensor[NumLayers * NumDirections];
        var cN = lstm ? new Tensor[hN.Length] : null;
        var outputs = new Tensor[NumDirections];
        var layerInput = x;
        for (int layer = 0; layer < NumLayers; layer++)
        {
            if (layer > 0 && Dropout > 0 && Training) layerInput = Functional.Dropout(layerInput, Dropout, true, Generator);
            for (int dir = 0; dir < NumDirections; dir++)
            {
                int k = layer * NumDirections + dir;
                var w = _weights[k];
                var hk = h?.Select(0, k) ?? (zeros ??= Tensor.Zeros([batch, HiddenSize], x.DType));
                var ck = !lstm ? null : c?.Select(0, k) ?? (zeros ??= Tensor.Zeros([batch, HiddenSize], x.DType));
                var (y, hn, cn) = Tensor.RecurrentLayer(Cell, layerInput, hk, ck, w.WeightIh, w.WeightHh, w.BiasIh, w.BiasHh, lengths, reverse: dir == 1);
                outputs[dir] = y;
                hN[k] = hn;
                if (cN is not null) cN[k] = cn!;
            }
            layerInput = NumDirections == 1 ? outputs[0] : Tensor.Cat(outputs, 2);
        }

        var output = layerInput;
        var hStack = Tensor.Stack(hN);
        var cStack = cN is null ? null : Tensor.Stack(cN);
        if (!batched) return new RecurrentOutput(output.Squeeze(1), hStack.Squeeze(1), cStack?.Squeeze(1));
        return new RecurrentOutput(BatchFirst ? output.Transpose(0, 1) : output, hStack, cStack);
    }

    /// <summary>Forward through the hooks (as <see cref="Module{TIn, TOut}.Call"/>); the hooks see <paramref name="input"/> as the input.</summary>
    public RecurrentOutput Call(Tensor input, Tensor? h0, Tensor? c0 = null, int[]? lengths = null) =>
        CallWithHooks(input, (Layer: this, h0, c0, lengths), static (x, a) => a.Layer.Forward(x, a.h0, a.c0, a.lengths));

    /// <summary>Checks an initial state [L*D, B, H] (or [L*D, H] unbatched) and returns it as [L*D, B, H].</summary>
    private Tensor? InitialState(string op, string name, Tensor? state, bool batched, int batch)
    {
        if (state is null) return null;
        int layers = NumLayers * NumDirections;
        int[] expected = batched ? [layers, batch, HiddenSize] : [layers, HiddenSize];
        if (!state.ShapeArray.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{op}: expected {name} of shape {Shapes.Format(expected)} (num_layers * num_directions, {(batched ? "batch, " : "")}hidden_size), got {Shapes.Format(state.ShapeArray)}");
        return batched ? state : state.Unsqueeze(1);
    }

    /// <inheritdoc/>
    protected override string ExtraRepr
    {
        get
        {
            var s = string.Create(CultureInfo.InvariantCulture, $"{InputSize}, {HiddenSize}");
            if (NumLayers != 1) s += string.Create(CultureInfo.InvariantCulture, $", num_layers={NumLayers}");
            if (!HasBias) s += ", bias=False";
            if (BatchFirst) s += ", batch_first=True";
            if (Dropout != 0) s += $", dropout={Num(Dropout)}";
            if (Bidirectional) s += ", bidirectional=True";
            return s;
        }
    }
}
