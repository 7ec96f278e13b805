using System.Numerics;
using System.Runtime.InteropServices;
using DeepSharp.Kernels;

namespace DeepSharp;

// One recurrent layer (RNN tanh/relu, LSTM, GRU) over a whole time-major sequence as a single
// autograd node: the fused kernels in Kernels/Recurrent run forward and backward through time.
// The node has one combined output [y | h_n | c_n]; the three results are views of it.
public sealed partial class Tensor
{
    /// <summary>
    /// Runs one recurrent layer over x [T, B, I] from h0 [B, H] (and c0 for LSTM) with PyTorch's weight
    /// layout: wIh [G*H, I], wHh [G*H, H], biases [G*H] (gate order i,f,g,o for LSTM and r,z,n for GRU).
    /// <paramref name="lengths"/> (one per batch element, at most T) gives packed-sequence semantics:
    /// padding never reaches the final states and its outputs are zero. Returns y [T, B, H], h_n, c_n (LSTM only).
    /// </summary>
    internal static (Tensor Output, Tensor HiddenState, Tensor? CellState) RecurrentLayer(RecurrentCell cell, Tensor x, Tensor h0, Tensor? c0,
        Tensor wIh, Tensor wHh, Tensor? bIh, Tensor? bHh, int[]? lengths = null, bool reverse = false)
    {
        string op = cell.ToString().ToLowerInvariant();
        if (x.Rank != 3) throw new ArgumentException($"{op}: expected a time-major input [T, B, I], got {Shapes.Format(x.ShapeArray)}");
        int steps = x.ShapeArray[0], batch = x.ShapeArray[1], input = x.ShapeArray[2];
        int gates = cell.Gates();
        if (wHh.Rank != 2 || wHh.ShapeArray[0] % gates != 0) throw new ArgumentException($"{op}: weight_hh must be [{gates}*H, H], got {Shapes.Format(wHh.ShapeArray)}");
        int hidden = wHh.ShapeArray[0] / gates;
        ExpectShape(op, "weight_hh", wHh, [gates * hidden, hidden]);
        ExpectShape(op, "weight_ih", wIh, [gates * hidden, input]);
        ExpectShape(op, "h0", h0, [batch, hidden]);
        if (cell == RecurrentCell.Lstm)
        {
            if (c0 is null) throw new ArgumentException($"{op}: c0 is required for an LSTM");
            ExpectShape(op, "c0", c0, [batch, hidden]);
        }
        if (bIh is not null) ExpectShape(op, "bias_ih", bIh, [gates * hidden]);
        if (bHh is not null) ExpectShape(op, "bias_hh", bHh, [gates * hidden]);
        foreach (var t in new[] { h0, wIh, wHh, c0, bIh, bHh }) if (t is not null) CheckSameDType(op, x, t);
        x.RequireFloat(op);
        if (lengths is not null)
        {
            if (lengths.Length != batch) throw new ArgumentException($"{op}: {lengths.Length} lengths given for a batch of {batch}");
            foreach (int l in lengths)
                if (l < 0 || l > steps) throw new ArgumentException($"{op}: sequence length {l} is outside [0, {steps}]");
        }

        var call = new RecurrentCall(cell, new RecurrentSizes(steps, batch, input, hidden), x, h0, c0, wIh, wHh, bIh, bHh, lengths, reverse);
        var combined = Dispatch.Float<RecurrentCall, Tensor>(x.DType, call);

        var sizes = call.Sizes;
        var y = combined.Narrow(0, 0, sizes.OutputLength).View(steps, batch, hidden);
        var hN = combined.Narrow(0, sizes.OutputLength, sizes.StateLength).View(batch, hidden);
        var cN = call.Lstm ? combined.Narrow(0, sizes.OutputLength + sizes.StateLength, sizes.StateLength).View(batch, hidden) : null;
        return (y, hN, cN);
    }

    /// <summary>The inputs of a recurrent node, in recording order; c0 (LSTM only) and the biases are recorded only when present.</summary>
    private enum RecurrentInput { X, H0, C0, WeightIh, WeightHh, BiasIh, BiasHh }

    /// <summary>The sizes of one recurrent layer call: T steps, B batch, I input features, H hidden units.</summary>
    private readonly record struct RecurrentSizes(int Steps, int Batch, int Input, int Hidden)
    {
        /// <summary>Elements of y [T, B, H], the first part of the node's combined output.</summary>
        public int OutputLength => Steps * Batch * Hidden;

        /// <summary>Elements of h_n (and c_n) [B, H], which follow y in the combined output.</summary>
        public int StateLength => Batch * Hidden;
    }

    /// <summary>One checked recurrent layer call: the cell, its sizes, the tensors in PyTorch's layout, and the options.</summary>
    private readonly record struct RecurrentCall(RecurrentCell Cell, RecurrentSizes Sizes, Tensor X, Tensor H0, Tensor? C0,
        Tensor WeightIh, Tensor WeightHh, Tensor? BiasIh, Tensor? BiasHh, int[]? Lengths, bool Reverse) : IFloatKernel<Tensor>
    {
        public bool Lstm => Cell == RecurrentCell.Lstm;

        /// <summary>Runs the layer for element type T (through <see cref="Dispatch"/>).</summary>
        public Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => RunRecurrent<T>(this);

        /// <summary>Elements of the combined output [y | h_n | c_n].</summary>
        public int CombinedLength => Sizes.OutputLength + Sizes.StateLength * (Lstm ? 2 : 1);

        /// <summary>The tensor given for <paramref name="input"/>; null when it is absent (c0 of a non-LSTM cell counts as absent).</summary>
        public Tensor? this[RecurrentInput input] => input switch
        {
            RecurrentInput.X => X,
            RecurrentInput.H0 => H0,
            RecurrentInput.C0 => Lstm ? C0 : null,
            RecurrentInput.WeightIh => WeightIh,
            RecurrentInput.WeightHh => WeightHh,
            RecurrentInput.BiasIh => BiasIh,
            RecurrentInput.BiasHh => BiasHh,
            _ => throw new ArgumentOutOfRangeException(nameof(input)),
        };
    }

    private static void ExpectShape(string op, string name, Tensor t, int[] shape)
    {
        if (!t.ShapeArray.AsSpan().SequenceEqual(shape))
            throw new ArgumentException($"{op}: {name} must have shape {Shapes.Format(shape)}, got {Shapes.Format(t.ShapeArray)}");
    }

    /// <summary>The tensor's own backing array when it starts with its elements in order (no copy per call), else a copy.</summary>
    private static T[] DirectArray<T>(Tensor t) where T : unmanaged
    {
        var data = t.Array<T>();
        return t.IsContiguous && t.Offset == 0 ? data : t.ToArray<T>(); // pooled arrays may be longer (size classes): the kernels index only the first Numel
    }

    /// <summary>
    /// Runs the kernel forward into a new combined output [y | h_n | c_n] and records the node when a gradient is
    /// needed; otherwise the kernel's saved buffers go back to the pool at once.
    /// </summary>
    private static Tensor RunRecurrent<T>(RecurrentCall call) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sizes = call.Sizes;
        var combined = Empty([call.CombinedLength], call.X.DType);
        var kernel = new RecurrentKernel<T>(call.Cell, sizes.Steps, sizes.Batch, sizes.Input, sizes.Hidden, call.Reverse, call.Lengths);
        var z = combined.Span<T>();
        int yLen = sizes.OutputLength, hLen = sizes.StateLength;
        // Contiguous copies (a batch-first x is a transposed view) are temporaries that only the spans below
        // point into: they are held in locals and kept alive past the kernel, which rents pool buffers (and so
        // may trigger a collection) before it reads x. A dead copy would go back to the pool mid-kernel.
        Tensor xc = call.X.ContiguousData(), h0c = call.H0.ContiguousData();
        Tensor? c0c = call.C0?.ContiguousData(), bIhc = call.BiasIh?.ContiguousData(), bHhc = call.BiasHh?.ContiguousData();
        kernel.Forward(xc.ReadSpan<T>(), h0c.ReadSpan<T>(), c0c is null ? default : c0c.ReadSpan<T>(),
            DirectArray<T>(call.WeightIh), DirectArray<T>(call.WeightHh),
            bIhc is null ? default : bIhc.ReadSpan<T>(), bHhc is null ? default : bHhc.ReadSpan<T>(),
            z[..yLen], z.Slice(yLen, hLen), call.Lstm ? z.Slice(yLen + hLen, hLen) : default);
        KeepAlive(xc, h0c, c0c, bIhc, bHhc, combined);

        var inputs = new List<Tensor>(RecurrentInputCount);
        var slots = new int[RecurrentInputCount]; // node input index of each RecurrentInput, -1 when absent
        for (var input = RecurrentInput.X; input <= RecurrentInput.BiasHh; input++)
        {
            var t = call[input];
            slots[(int)input] = t is null ? -1 : inputs.Count;
            if (t is not null) inputs.Add(t);
        }
        if (Autograd.ShouldRecord(CollectionsMarshal.AsSpan(inputs)))
            combined.GradFn = new RecurrentBackward<T>([.. inputs], slots, kernel, call);
        else
            kernel.Dispose(); // nothing will run backward: its buffers go back to the pool now
        return combined;
    }

    private const int RecurrentInputCount = (int)RecurrentInput.BiasHh + 1;

    private sealed class RecurrentBackward<T> : Node
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly int[] slots;
        private readonly RecurrentSizes _sizes;
        private readonly bool _lstm;

        public RecurrentBackward(Tensor[] inputs, int[] slots, RecurrentKernel<T> kernel, RecurrentCall call) : base(inputs)
        {
            (this.slots, _sizes, _lstm) = (slots, call.Sizes, call.Lstm);
            SaveForBackward(call.X, call.WeightIh, call.WeightHh);
            SaveResource(kernel); // the kernel's per-step state, disposed with the saved tensors
        }

        public override string Name => _lstm ? "LstmBackward" : "RecurrentBackward";

        private int Slot(RecurrentInput input) => slots[(int)input];

        private bool Needs(RecurrentInput input) => Slot(input) >= 0 && NeedsGrad(Slot(input));

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var layer = (RecurrentKernel<T>?)SavedResource ?? throw new InvalidOperationException($"{Name}: trying to backward through the graph a second time; call Backward(retainGraph: true) to keep it");
            var x = Saved(0).ContiguousData();
            var wIh = Saved(1).ContiguousData();
            var wHh = Saved(2).ContiguousData();
            int batch = _sizes.Batch, hidden = _sizes.Hidden, yLen = _sizes.OutputLength, hLen = _sizes.StateLength;
            var gc = grad.ContiguousData(); // kept alive below: the kernel rents buffers while reading it
            var g = gc.ReadSpan<T>();
            var dx = Needs(RecurrentInput.X) ? new T[x.Numel] : null;
            var dh0 = new T[hLen];
            var dc0 = new T[hLen];
            var dwIh = Needs(RecurrentInput.WeightIh) ? new T[wIh.Numel] : null;
            var dwHh = Needs(RecurrentInput.WeightHh) ? new T[wHh.Numel] : null;
            var dbIh = Needs(RecurrentInput.BiasIh) ? new T[wIh.ShapeArray[0]] : [];
            var dbHh = Needs(RecurrentInput.BiasHh) ? new T[wHh.ShapeArray[0]] : [];
            layer.Backward(DirectArray<T>(x), g[..yLen], g.Slice(yLen, hLen), _lstm ? g.Slice(yLen + hLen, hLen) : default,
                DirectArray<T>(wIh), DirectArray<T>(wHh), dx, dh0, dc0, dwIh, dwHh, dbIh, dbHh);
            KeepAlive(gc, x, wIh, wHh);
            var grads = new Tensor?[Next.Length];
            if (dx is not null) grads[Slot(RecurrentInput.X)] = From(dx, x.ShapeArray);
            if (Needs(RecurrentInput.H0)) grads[Slot(RecurrentInput.H0)] = From(dh0, batch, hidden);
            if (Needs(RecurrentInput.C0)) grads[Slot(RecurrentInput.C0)] = From(dc0, batch, hidden);
            if (dwIh is not null) grads[Slot(RecurrentInput.WeightIh)] = From(dwIh, wIh.ShapeArray);
            if (dwHh is not null) grads[Slot(RecurrentInput.WeightHh)] = From(dwHh, wHh.ShapeArray);
            if (dbIh.Length > 0) grads[Slot(RecurrentInput.BiasIh)] = From(dbIh);
            if (dbHh.Length > 0) grads[Slot(RecurrentInput.BiasHh)] = From(dbHh);
            return grads;
        }
    }
}
