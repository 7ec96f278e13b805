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
    internal static (Tensor Output, Tensor HN, Tensor? CN) RecurrentLayer(RecurrentCell cell, Tensor x, Tensor h0, Tensor? c0,
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

        bool lstm = cell == RecurrentCell.Lstm;
        int yLen = steps * batch * hidden, hLen = batch * hidden;
        var combined = Empty([yLen + hLen * (lstm ? 2 : 1)], x.DType);
        object kernel = x.DType == DType.Float32
            ? Run<float>(cell, x, h0, c0, wIh, wHh, bIh, bHh, lengths, reverse, combined, steps, batch, input, hidden)
            : Run<double>(cell, x, h0, c0, wIh, wHh, bIh, bHh, lengths, reverse, combined, steps, batch, input, hidden);

        var inputs = new List<Tensor> { x, h0 };
        if (lstm) inputs.Add(c0!);
        inputs.Add(wIh);
        inputs.Add(wHh);
        if (bIh is not null) inputs.Add(bIh);
        if (bHh is not null) inputs.Add(bHh);
        if (Autograd.ShouldRecord(inputs.ToArray()))
            combined.GradFn = new RecurrentBackward([.. inputs], kernel, x, wIh, wHh, lstm, bIh is not null, bHh is not null, steps, batch, hidden);
        else
            ((IDisposable)kernel).Dispose(); // nothing will run backward: its buffers go back to the pool now

        var y = combined.Narrow(0, 0, yLen).View(steps, batch, hidden);
        var hN = combined.Narrow(0, yLen, hLen).View(batch, hidden);
        var cN = lstm ? combined.Narrow(0, yLen + hLen, hLen).View(batch, hidden) : null;
        return (y, hN, cN);
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

    private static RecurrentLayer<T> Run<T>(RecurrentCell cell, Tensor x, Tensor h0, Tensor? c0, Tensor wIh, Tensor wHh, Tensor? bIh, Tensor? bHh,
        int[]? lengths, bool reverse, Tensor combined, int steps, int batch, int input, int hidden) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var layer = new RecurrentLayer<T>(cell, steps, batch, input, hidden, reverse, lengths);
        var z = combined.Span<T>();
        int yLen = steps * batch * hidden, hLen = batch * hidden;
        // Contiguous copies (a batch-first x is a transposed view) are temporaries that only the spans below
        // point into: they are held in locals and kept alive past the kernel, which rents pool buffers (and so
        // may trigger a collection) before it reads x. A dead copy would go back to the pool mid-kernel.
        Tensor xc = x.ContiguousData(), h0c = h0.ContiguousData();
        Tensor? c0c = c0?.ContiguousData(), bIhc = bIh?.ContiguousData(), bHhc = bHh?.ContiguousData();
        layer.Forward(xc.ReadSpan<T>(), h0c.ReadSpan<T>(), c0c is null ? default : c0c.ReadSpan<T>(),
            DirectArray<T>(wIh), DirectArray<T>(wHh),
            bIhc is null ? default : bIhc.ReadSpan<T>(), bHhc is null ? default : bHhc.ReadSpan<T>(),
            z[..yLen], z.Slice(yLen, hLen), cell == RecurrentCell.Lstm ? z.Slice(yLen + hLen, hLen) : default);
        KeepAlive(xc, h0c, c0c, bIhc, bHhc, combined);
        return layer;
    }

    private sealed class RecurrentBackward(Tensor[] inputs, object kernel, Tensor x, Tensor wIh, Tensor wHh, bool lstm, bool hasBIh, bool hasBHh,
        int steps, int batch, int hidden) : Node(inputs)
    {
        private object? _kernel = kernel;
        private SavedTensor _x = new(x), _wIh = new(wIh), _wHh = new(wHh);

        public override string Name => lstm ? "LstmBackward" : "RecurrentBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var kernel = _kernel ?? throw new InvalidOperationException($"{Name}: trying to backward through the graph a second time; call Backward(retainGraph: true) to keep it");
            var x = _x.Unpack(this).ContiguousData();
            var wIh = _wIh.Unpack(this).ContiguousData();
            var wHh = _wHh.Unpack(this).ContiguousData();
            return x.DType == DType.Float32
                ? Run((RecurrentLayer<float>)kernel, grad, x, wIh, wHh)
                : Run((RecurrentLayer<double>)kernel, grad, x, wIh, wHh);
        }

        private Tensor?[] Run<T>(RecurrentLayer<T> layer, Tensor grad, Tensor x, Tensor wIh, Tensor wHh) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            int yLen = steps * batch * hidden, hLen = batch * hidden;
            var gc = grad.ContiguousData(); // kept alive below: the kernel rents buffers while reading it
            var g = gc.ReadSpan<T>();
            var grads = new Tensor?[Next.Length];
            int idx = 0;
            int ix = idx++, ih0 = idx++, ic0 = lstm ? idx++ : -1, iwIh = idx++, iwHh = idx++;
            int ibIh = hasBIh ? idx++ : -1, ibHh = hasBHh ? idx : -1;
            var dx = NeedsGrad(ix) ? new T[x.Numel] : null;
            var dh0 = new T[hLen];
            var dc0 = new T[hLen];
            var dwIh = NeedsGrad(iwIh) ? new T[wIh.Numel] : null;
            var dwHh = NeedsGrad(iwHh) ? new T[wHh.Numel] : null;
            var dbIh = ibIh >= 0 && NeedsGrad(ibIh) ? new T[wIh.ShapeArray[0]] : [];
            var dbHh = ibHh >= 0 && NeedsGrad(ibHh) ? new T[wHh.ShapeArray[0]] : [];
            layer.Backward(DirectArray<T>(x), g[..yLen], g.Slice(yLen, hLen), lstm ? g.Slice(yLen + hLen, hLen) : default,
                DirectArray<T>(wIh), DirectArray<T>(wHh), dx, dh0, dc0, dwIh, dwHh, dbIh, dbHh);
            KeepAlive(gc, x, wIh, wHh);
            if (dx is not null) grads[ix] = From(dx, x.ShapeArray);
            if (NeedsGrad(ih0)) grads[ih0] = From(dh0, batch, hidden);
            if (ic0 >= 0 && NeedsGrad(ic0)) grads[ic0] = From(dc0, batch, hidden);
            if (dwIh is not null) grads[iwIh] = From(dwIh, wIh.ShapeArray);
            if (dwHh is not null) grads[iwHh] = From(dwHh, wHh.ShapeArray);
            if (dbIh.Length > 0) grads[ibIh] = From(dbIh);
            if (dbHh.Length > 0) grads[ibHh] = From(dbHh);
            return grads;
        }

        protected internal override void ReleaseSaved()
        {
            (_kernel as IDisposable)?.Dispose();
            _kernel = null;
            _x.Release();
            _wIh.Release();
            _wHh.Release();
        }
    }
}
