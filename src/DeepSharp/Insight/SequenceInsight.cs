using System.Runtime.CompilerServices;
using DeepSharp.NN;

namespace DeepSharp.Insight;

/// <summary>Attention weights returned by a module: [.., T_query, T_key] (rows sum to 1).</summary>
public sealed record AttentionMap(string Layer, string Type, Tensor Weights);

/// <summary>
/// Captures attention weight matrices while it is alive: a forward hook on every module whose output
/// is a tuple (such as (output, weights), as PyTorch's MultiheadAttention returns) keeps the first
/// tuple element after the first that looks like attention weights: a float tensor of rank &gt;= 2,
/// non-negative, whose last-dim rows sum to 1. Pass <c>extract</c> to pick the weights yourself.
/// Dispose to remove the hooks.
/// </summary>
public sealed class AttentionCapture : IDisposable
{
    private readonly List<HookHandle> _hooks = [];
    private readonly List<AttentionMap> _maps = [];

    /// <summary>Puts a forward hook on every module of <paramref name="model"/> (itself included) that keeps the attention weights it returns.</summary>
    /// <param name="model">The model whose attention weights are captured.</param>
    /// <param name="extract">Picks the weights from a module and its output (null: not attention); by default the tuple element that looks like attention weights.</param>
    public AttentionCapture(Module model, Func<Module, object?, Tensor?>? extract = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var pick = extract ?? DefaultExtract;
        foreach (var (name, module) in model.NamedModules())
        {
            string n = name.Length == 0 ? module.TypeName : name;
            _hooks.Add(module.RegisterForwardHook((m, _, output) =>
            {
                if (pick(m, output) is { } weights) _maps.Add(new AttentionMap(n, m.TypeName, weights.Detach()));
            }));
        }
    }

    /// <summary>The attention maps captured so far, in call order.</summary>
    public IReadOnlyList<AttentionMap> Maps => _maps;

    /// <summary>Removes the hooks.</summary>
    public void Dispose()
    {
        foreach (var h in _hooks) h.Dispose();
        _hooks.Clear();
    }

    /// <summary>The first tuple element (after the first) that is a row-stochastic tensor of rank &gt;= 2.</summary>
    public static Tensor? DefaultExtract(Module module, object? output)
    {
        if (output is not ITuple tuple) return null;
        for (int i = 1; i < tuple.Length; i++)
            if (tuple[i] is Tensor t && LooksLikeAttention(t)) return t;
        return null;
    }

    /// <summary>Float, rank &gt;= 2, non-empty, all values in [0, 1] and every last-dim row summing to 1 (within 1e-3).</summary>
    public static bool LooksLikeAttention(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (!t.IsFloatingPoint || t.Rank < 2 || t.Numel == 0) return false;
        var v = TensorValues.ToDoubles(t);
        int cols = t.Size(-1);
        for (int r = 0; r < v.Length; r += cols)
        {
            double sum = 0;
            for (int c = 0; c < cols; c++)
            {
                double x = v[r + c];
                if (!(x >= 0 && x <= 1 + 1e-6)) return false;
                sum += x;
            }
            if (Math.Abs(sum - 1) > 1e-3) return false;
        }
        return true;
    }
}

/// <summary>
/// LSTM gate activations over time for one sequence, each [T, H]: input gate i, forget gate f, cell
/// candidate g, output gate o, cell state c and hidden state h (PyTorch's gate order i, f, g, o).
/// </summary>
public sealed record LstmGateTrace(Tensor Input, Tensor Forget, Tensor Cell, Tensor Output, Tensor CellState, Tensor Hidden);

/// <summary>
/// Recomputes an LSTM step by step with plain tensor ops to expose its gates:
/// i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(..), g = tanh(..), o = σ(..),
/// c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c'), from weights in PyTorch's layout (weight_ih [4H, I], weight_hh [4H, H]).
/// </summary>
public static class LstmGates
{
    /// <summary>Gates for <paramref name="sequence"/> [T, I] (one sequence, time first), from h0 = c0 = 0 unless given ([H]).</summary>
    public static LstmGateTrace Compute(Tensor sequence, Tensor weightIh, Tensor weightHh, Tensor? biasIh = null, Tensor? biasHh = null,
        Tensor? h0 = null, Tensor? c0 = null)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        ArgumentNullException.ThrowIfNull(weightIh);
        ArgumentNullException.ThrowIfNull(weightHh);
        if (sequence.Rank != 2) throw new ArgumentException($"lstm gates: expected one sequence [T, I], got {Shapes.Format(sequence.ShapeArray)}");
        if (weightHh.Rank != 2 || weightHh.Size(0) % 4 != 0 || weightHh.Size(0) != 4 * weightHh.Size(1))
            throw new ArgumentException($"lstm gates: weight_hh must be [4H, H], got {Shapes.Format(weightHh.ShapeArray)}");
        int hidden = weightHh.Size(1), steps = sequence.Size(0);
        if (weightIh.Rank != 2 || weightIh.Size(0) != 4 * hidden || weightIh.Size(1) != sequence.Size(1))
            throw new ArgumentException($"lstm gates: weight_ih must be [{4 * hidden}, {sequence.Size(1)}], got {Shapes.Format(weightIh.ShapeArray)}");
        using var _ = Autograd.NoGrad();
        var dtype = weightIh.DType;
        var x = sequence.To(dtype);
        // All input projections in one matmul: [T, 4H].
        var projected = Tensor.Linear(x, weightIh, biasIh);
        var h = (h0 ?? Tensor.Zeros([hidden], dtype)).Reshape(1, hidden);
        var c = (c0 ?? Tensor.Zeros([hidden], dtype)).Reshape(1, hidden);
        var gates = new List<Tensor>[6];
        for (int k = 0; k < 6; k++) gates[k] = new List<Tensor>(steps);
        for (int t = 0; t < steps; t++)
        {
            var z = projected.Narrow(0, t, 1) + Tensor.Linear(h, weightHh, biasHh); // [1, 4H]
            var i = z.Narrow(1, 0, hidden).Sigmoid();
            var f = z.Narrow(1, hidden, hidden).Sigmoid();
            var g = z.Narrow(1, 2 * hidden, hidden).Tanh();
            var o = z.Narrow(1, 3 * hidden, hidden).Sigmoid();
            c = f * c + i * g;
            h = o * c.Tanh();
            gates[0].Add(i);
            gates[1].Add(f);
            gates[2].Add(g);
            gates[3].Add(o);
            gates[4].Add(c);
            gates[5].Add(h);
        }
        Tensor Stack(int k) => steps == 0 ? Tensor.Zeros([0, hidden], dtype) : Tensor.Cat(gates[k]);
        return new LstmGateTrace(Stack(0), Stack(1), Stack(2), Stack(3), Stack(4), Stack(5));
    }

    /// <summary>
    /// Gates of layer <paramref name="layer"/> of an LSTM module with PyTorch's parameter names
    /// (weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, searched among the module's
    /// parameters by suffix). Layers below it are run first to produce its input.
    /// </summary>
    public static LstmGateTrace Compute(Module lstm, Tensor sequence, int layer = 0)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        if (layer < 0) throw new ArgumentOutOfRangeException(nameof(layer), $"lstm gates: layer must be non-negative, got {layer}");
        var parameters = lstm.NamedParameters().ToList();
        Tensor? Find(string suffix) => parameters.FirstOrDefault(p => p.Name == suffix || p.Name.EndsWith("." + suffix, StringComparison.Ordinal)).Parameter;
        LstmGateTrace? trace = null;
        var input = sequence;
        for (int l = 0; l <= layer; l++)
        {
            var wIh = Find($"weight_ih_l{l}") ?? throw new ArgumentException($"lstm gates: {lstm.TypeName} has no parameter weight_ih_l{l} (parameters: {string.Join(", ", parameters.Select(p => p.Name))})");
            var wHh = Find($"weight_hh_l{l}") ?? throw new ArgumentException($"lstm gates: {lstm.TypeName} has no parameter weight_hh_l{l}");
            trace = Compute(input, wIh, wHh, Find($"bias_ih_l{l}"), Find($"bias_hh_l{l}"));
            input = trace.Hidden;
        }
        return trace!;
    }
}
