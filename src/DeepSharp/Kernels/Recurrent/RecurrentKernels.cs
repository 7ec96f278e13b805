using System.Numerics;
using System.Numerics.Tensors;

namespace DeepSharp.Kernels;

/// <summary>
/// One recurrent layer over a whole sequence (time-major x [T, B, I]), forward and backward through
/// time. The input projection of all time steps is one GEMM; each step adds h W_hh^T with one GEMM
/// and applies the gate nonlinearities in fused row passes; the backward pass runs the steps in
/// reverse and then forms dW_ih, dW_hh and dX with three large GEMMs over all steps.
/// Sequences may have per-example lengths: an example is active at step t when t &lt; length, and
/// inactive steps leave its state unchanged and output zeros (packed-sequence semantics), in both directions.
/// </summary>
internal sealed unsafe class RecurrentKernel<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentCell _cell;
    private readonly int _steps, _batch, _input, _hidden, _gates;
    private readonly bool _reverse;
    private readonly int[]? _lengths;

    // Saved by Forward for Backward.
    private T[] _h = [];      // [T + 1, B, H]: slot 0 is h0, slot s + 1 the state after processing step s (in processing order)
    private T[] _c = [];      // LSTM cell states, same layout
    private T[] _act = [];    // activated gates per processed step [T, B, G*H]
    private T[] _hn = [];     // GRU: W_hn h + b_hn per step [T, B, H]

    public RecurrentKernel(RecurrentCell cell, int steps, int batch, int input, int hidden, bool reverse, int[]? lengths)
    {
        _cell = cell;
        _steps = steps;
        _batch = batch;
        _input = input;
        _hidden = hidden;
        _gates = cell.Gates();
        _reverse = reverse;
        _lengths = lengths;
    }

    private int TimeOf(int s) => _reverse ? _steps - 1 - s : s;

    private bool Active(int b, int t) => _lengths is null || t < _lengths[b];

    /// <summary>
    /// Runs the sequence. x [T, B, I], h0/c0 [B, H] (c0 only for LSTM), wIh [G*H, I], wHh [G*H, H], biases [G*H] (may be empty).
    /// Writes y [T, B, H], hN and cN [B, H].
    /// </summary>
    public void Forward(ReadOnlySpan<T> x, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, T[] wIh, T[] wHh, ReadOnlySpan<T> bIh, ReadOnlySpan<T> bHh,
        Span<T> y, Span<T> hN, Span<T> cN)
    {
        int bh = _batch * _hidden, gh = _gates * _hidden, bg = _batch * gh;
        _h = Unzeroed((_steps + 1) * bh);
        h0.CopyTo(_h);
        if (_cell == RecurrentCell.Lstm)
        {
            _c = Unzeroed((_steps + 1) * bh);
            c0.CopyTo(_c);
        }
        _act = Unzeroed(_steps * bg);
        if (_cell == RecurrentCell.Gru) _hn = Unzeroed(_steps * bh);

        // Input projection of all steps at once: xp[t] = x[t] W_ih^T + b_ih (+ b_hh except for GRU's n gate).
        var xp = Unzeroed(_steps * bg);
        Linear(x, _steps * _batch, _input, wIh, gh, xp);
        for (int r = 0; r < _steps * _batch; r++)
        {
            var row = xp.AsSpan(r * gh, gh);
            if (!bIh.IsEmpty) TensorPrimitives.Add(row, bIh, row);
            if (!bHh.IsEmpty && _cell != RecurrentCell.Gru) TensorPrimitives.Add(row, bHh, row);
        }

        var hp = Unzeroed(bg); // h W_hh^T for one step
        fixed (T* py = y, pb = bHh)
        {
            var step = new ForwardStep(this, xp, hp, wHh, py, pb, bHh.Length) { Packed = PackWeights(wHh, transB: true, _gates * _hidden, _hidden) };
            try
            {
                for (step.S = 0; step.S < _steps; step.S++)
                    RunParts(step);
            }
            finally
            {
                step.Packed?.Return();
            }
        }
        BufferPool<T>.Return(hp);
        _h.AsSpan(_steps * bh, bh).CopyTo(hN);
        if (_cell == RecurrentCell.Lstm) _c.AsSpan(_steps * bh, bh).CopyTo(cN);
        BufferPool<T>.Return(xp);
    }

    /// <summary>Processing step s for batch rows [r0, r1): their h W_hh^T, gates and new state.</summary>
    private void ForwardRows(int s, int r0, int r1, T[] xp, T[] hp, T[] wHh, PackedB? packed, T* y, ReadOnlySpan<T> bHh)
    {
        int t = TimeOf(s), bh = _batch * _hidden, gh = _gates * _hidden, bg = _batch * gh;
        var hPrev = _h.AsSpan(s * bh, bh);
        var hNext = _h.AsSpan((s + 1) * bh, bh);
        Linear(_h, s * bh + r0 * _hidden, r1 - r0, _hidden, wHh, gh, hp, r0 * gh, packed);
        var act = _act.AsSpan(s * bg, bg);
        for (int b = r0; b < r1; b++)
        {
            var yRow = new Span<T>(y + (t * _batch + b) * _hidden, _hidden);
            if (!Active(b, t))
            {
                hPrev.Slice(b * _hidden, _hidden).CopyTo(hNext.Slice(b * _hidden, _hidden));
                if (_cell == RecurrentCell.Lstm) _c.AsSpan(s * bh + b * _hidden, _hidden).CopyTo(_c.AsSpan((s + 1) * bh + b * _hidden, _hidden));
                yRow.Clear();
                continue;
            }
            var a = act.Slice(b * gh, gh);
            var pre = xp.AsSpan((t * _batch + b) * gh, gh);
            var hpRow = hp.AsSpan(b * gh, gh);
            var h = hNext.Slice(b * _hidden, _hidden);
            StepForward(pre, hpRow, a, hPrev.Slice(b * _hidden, _hidden), h, s, b, bHh);
            h.CopyTo(yRow);
        }
    }

    private void StepForward(Span<T> pre, Span<T> hp, Span<T> a, ReadOnlySpan<T> hPrev, Span<T> h, int s, int b, ReadOnlySpan<T> bHh)
    {
        int n = _hidden;
        switch (_cell)
        {
            case RecurrentCell.RnnTanh:
                TensorPrimitives.Add(pre, hp, a);
                TensorPrimitives.Tanh(a, a);
                a.CopyTo(h);
                break;
            case RecurrentCell.RnnRelu:
                TensorPrimitives.Add(pre, hp, a);
                TensorPrimitives.Max(a, T.Zero, a);
                a.CopyTo(h);
                break;
            case RecurrentCell.Lstm:
            {
                TensorPrimitives.Add(pre, hp, a);
                TensorPrimitives.Sigmoid(a[..(2 * n)], a[..(2 * n)]);   // i, f
                TensorPrimitives.Tanh(a.Slice(2 * n, n), a.Slice(2 * n, n)); // g
                TensorPrimitives.Sigmoid(a.Slice(3 * n, n), a.Slice(3 * n, n)); // o
                int bh = _batch * n;
                var cPrev = _c.AsSpan(s * bh + b * n, n);
                var c = _c.AsSpan((s + 1) * bh + b * n, n);
                var i = a[..n];
                var f = a.Slice(n, n);
                var g = a.Slice(2 * n, n);
                var o = a.Slice(3 * n, n);
                TensorPrimitives.Multiply(f, cPrev, c);
                TensorPrimitives.MultiplyAdd(i, g, c, c);          // c = f c_prev + i g
                TensorPrimitives.Tanh(c, h);
                TensorPrimitives.Multiply(h, o, h);                // h = o tanh(c)
                break;
            }
            case RecurrentCell.Gru:
            {
                // hp holds W_hh h (no bias yet); the n-gate needs W_hn h + b_hn on its own.
                if (!bHh.IsEmpty) TensorPrimitives.Add(hp, bHh, hp);
                var hn = _hn.AsSpan((s * _batch + b) * n, n);
                hp.Slice(2 * n, n).CopyTo(hn);
                TensorPrimitives.Add(pre[..(2 * n)], hp[..(2 * n)], a[..(2 * n)]);
                TensorPrimitives.Sigmoid(a[..(2 * n)], a[..(2 * n)]);   // r, z
                var r = a[..n];
                var z = a.Slice(n, n);
                var nGate = a.Slice(2 * n, n);
                TensorPrimitives.MultiplyAdd(r, hn, pre.Slice(2 * n, n), nGate);
                TensorPrimitives.Tanh(nGate, nGate);               // n = tanh(x_n + r hn)
                // h = (1 - z) n + z h_prev = n + z (h_prev - n)
                TensorPrimitives.Subtract(hPrev, nGate, h);
                TensorPrimitives.MultiplyAdd(z, h, nGate, h);
                break;
            }
        }
    }

    /// <summary>
    /// Backward through time. dy [T, B, H], dhN/dcN [B, H] (may be empty). Writes dx [T, B, I], dh0, dc0 [B, H]
    /// and dW_ih, dW_hh, db_ih, db_hh (each may be null when not needed).
    /// </summary>
    public void Backward(T[] x, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhN, ReadOnlySpan<T> dcN, T[] wIh, T[] wHh,
        T[]? dx, Span<T> dh0, Span<T> dc0, T[]? dwIh, T[]? dwHh, Span<T> dbIh, Span<T> dbHh)
    {
        int n = _hidden, bh = _batch * n, gh = _gates * n, bg = _batch * gh;
        var dh = new T[bh];
        var dc = new T[bh];
        if (!dhN.IsEmpty) dhN.CopyTo(dh);
        if (!dcN.IsEmpty && _cell == RecurrentCell.Lstm) dcN.CopyTo(dc);
        var dGates = Scratch(_steps * bg);                        // gradient at the pre-activations fed by x (in time order)
        var dHGates = _cell == RecurrentCell.Gru ? Scratch(_steps * bg) : dGates; // ... and by h (differs only for GRU's n gate)
        var dhPrev = Unzeroed(bh);
        fixed (T* pdy = dy)
        {
            var step = new BackwardStep(this, dh, dc, dGates, dHGates, dhPrev, wHh, pdy) { Packed = PackWeights(wHh, transB: false, n, gh) };
            try
            {
                for (step.S = _steps - 1; step.S >= 0; step.S--)
                    RunParts(step);
            }
            finally
            {
                step.Packed?.Return();
            }
        }
        BufferPool<T>.Return(dhPrev);
        dh.CopyTo(dh0);
        if (_cell == RecurrentCell.Lstm) dc.CopyTo(dc0);

        // Weight gradients over all steps: dW_ih = dGates^T X, dW_hh = dHGates^T H_prev (H_prev in time order).
        int rows = _steps * _batch;
        if (dwIh is not null) GemmTN(dGates, x, rows, gh, _input, dwIh);
        if (dwHh is not null)
        {
            var hPrevTime = Unzeroed(rows * n);
            for (int s = 0; s < _steps; s++) _h.AsSpan(s * bh, bh).CopyTo(hPrevTime.AsSpan(TimeOf(s) * bh, bh));
            GemmTN(dHGates, hPrevTime, rows, gh, n, dwHh);
            BufferPool<T>.Return(hPrevTime);
        }
        if (!dbIh.IsEmpty) SumRows(dGates, rows, gh, dbIh);
        if (!dbHh.IsEmpty) SumRows(dHGates, rows, gh, dbHh);
        if (dx is not null) Linear2(dGates, 0, rows, gh, wIh, _input, dx);
        if (!ReferenceEquals(dHGates, dGates)) BufferPool<T>.Return(dHGates);
        BufferPool<T>.Return(dGates);
    }

    /// <summary>
    /// Processing step s backward for batch rows [r0, r1): their gate gradients from dh and dc, then dh_prev =
    /// dHGates[t] W_hh for those rows. Inactive rows keep dh and dc (the state passed through unchanged).
    /// </summary>
    private void BackwardRows(int s, int r0, int r1, T[] dh, T[] dc, T[] dGates, T[] dHGates, T[] dhPrev, T[] wHh, PackedB? packed, T* dy)
    {
        int t = TimeOf(s), n = _hidden, gh = _gates * n, bg = _batch * gh;
        for (int b = r0; b < r1; b++)
        {
            if (!Active(b, t)) continue;
            var dhRow = dh.AsSpan(b * n, n);
            TensorPrimitives.Add(dhRow, new ReadOnlySpan<T>(dy + (t * _batch + b) * n, n), dhRow);
            StepBackward(s, t, b, dhRow, dc.AsSpan(b * n, n), dGates.AsSpan((t * _batch + b) * gh, gh), dHGates.AsSpan((t * _batch + b) * gh, gh));
        }
        Linear2(dHGates, t * bg + r0 * gh, r1 - r0, gh, wHh, n, dhPrev, r0 * n, packed);
        for (int b = r0; b < r1; b++)
        {
            if (!Active(b, t)) continue;
            var row = dh.AsSpan(b * n, n);
            var fromGates = dhPrev.AsSpan(b * n, n);
            if (_cell == RecurrentCell.Gru) // z dh flows straight on to h_prev as well
                TensorPrimitives.MultiplyAdd(row, _act.AsSpan((s * _batch + b) * gh + n, n), fromGates, row);
            else
                fromGates.CopyTo(row);
        }
    }

    // A step is split into parts of this many batch rows, each computing its rows' share of h W_hh^T (or dh W_hh)
    // and their gates on one thread: one hand-off per step instead of one per GEMM plus serial gate passes, and a
    // split that does not depend on the thread count, so neither do the results.
    private const int RowsPerPart = 16;

    private void RunParts(IParallelTask step)
    {
        int parts = (_batch + RowsPerPart - 1) / RowsPerPart;
        long work = (long)_batch * _gates * _hidden * _hidden; // multiply-adds per step
        if (parts == 1 || work < Gemm.ParallelThreshold)
        {
            for (int p = 0; p < parts; p++) step.Run(p);
            return;
        }
        WorkerPool.For(parts, step, Gemm.WakeWorkersFor(work));
    }

    private static PackedB? PackWeights(T[] w, bool transB, int n, int k)
    {
        if (typeof(T) != typeof(float)) return null;
        fixed (T* pw = w) return Gemm.PackB(transB, n, k, (float*)pw, transB ? k : n, pooled: true);
    }

    private static (int R0, int R1) Rows(int part, int batch) => (part * RowsPerPart, Math.Min(batch, (part + 1) * RowsPerPart));

    private sealed class ForwardStep(RecurrentKernel<T> kernel, T[] xp, T[] hp, T[] wHh, T* y, T* bHh, int bHhLength) : IParallelTask
    {
        public int S;
        public PackedB? Packed;

        public void Run(int part)
        {
            var (r0, r1) = Rows(part, kernel._batch);
            kernel.ForwardRows(S, r0, r1, xp, hp, wHh, Packed, y, new ReadOnlySpan<T>(bHh, bHhLength));
        }
    }

    private sealed class BackwardStep(RecurrentKernel<T> kernel, T[] dh, T[] dc, T[] dGates, T[] dHGates, T[] dhPrev, T[] wHh, T* dy) : IParallelTask
    {
        public int S;
        public PackedB? Packed;

        public void Run(int part)
        {
            var (r0, r1) = Rows(part, kernel._batch);
            kernel.BackwardRows(S, r0, r1, dh, dc, dGates, dHGates, dhPrev, wHh, Packed, dy);
        }
    }

    private static Vector<T> Load(ReadOnlySpan<T> span, int start) => new(span[start..]);

    // The per-sequence buffers are megabytes (steps x batch x gates x hidden) and the same sizes recur every
    // step: pooled, they skip the page faults and large-object collections of fresh arrays. Scratch is zeroed, as
    // new arrays (the gate gradients: inactive rows keep zeros that the weight GEMMs read); Unzeroed is for the
    // buffers whose every read element is written first (states, activations of active rows, GEMM outputs).
    private static T[] Scratch(int length)
    {
        var array = BufferPool<T>.Rent(length);
        array.AsSpan().Clear();
        return array;
    }

    private static T[] Unzeroed(int length) => BufferPool<T>.Rent(length);

    /// <summary>Returns the saved activations to the buffer pool; the layer cannot run backward afterwards.</summary>
    public void Dispose()
    {
        foreach (var buffer in new[] { _h, _c, _act, _hn })
            if (buffer.Length > 0) BufferPool<T>.Return(buffer);
        _h = _c = _act = _hn = [];
    }

    private void StepBackward(int s, int t, int b, Span<T> dh, Span<T> dc, Span<T> dg, Span<T> dhg)
    {
        int n = _hidden, bh = _batch * n, gh = _gates * n;
        var a = _act.AsSpan((s * _batch + b) * gh, gh);
        switch (_cell)
        {
            case RecurrentCell.RnnTanh:
                for (int j = 0; j < n; j++) dg[j] = dh[j] * (T.One - a[j] * a[j]);
                break;
            case RecurrentCell.RnnRelu:
                for (int j = 0; j < n; j++) dg[j] = a[j] > T.Zero ? dh[j] : T.Zero;
                break;
            case RecurrentCell.Lstm:
            {
                var c = _c.AsSpan((s + 1) * bh + b * n, n);
                var cPrev = _c.AsSpan(s * bh + b * n, n);
                // tanh(c) once per row with the vectorised kernel: scalar tanh dominated this loop.
                Span<T> tanhC = n <= 1024 ? stackalloc T[n] : new T[n];
                TensorPrimitives.Tanh(c, tanhC);
                int j = 0;
                // The same formulas a vector at a time (this loop was a tenth of an LSTM's backward pass when scalar),
                // then the scalar loop below finishes the row.
                for (int w = Vector<T>.Count; Vector.IsHardwareAccelerated && j <= n - w; j += w)
                {
                    Vector<T> one = Vector<T>.One, i = Load(a, j), f = Load(a, n + j), g = Load(a, 2 * n + j), o = Load(a, 3 * n + j);
                    Vector<T> tc = Load(tanhC, j), dhj = Load(dh, j);
                    Vector<T> dcj = Load(dc, j) + dhj * o * (one - tc * tc);
                    (dcj * g * i * (one - i)).CopyTo(dg[j..]);
                    (dcj * Load(cPrev, j) * f * (one - f)).CopyTo(dg[(n + j)..]);
                    (dcj * i * (one - g * g)).CopyTo(dg[(2 * n + j)..]);
                    (dhj * tc * o * (one - o)).CopyTo(dg[(3 * n + j)..]);
                    (dcj * f).CopyTo(dc[j..]);
                }
                for (; j < n; j++)
                {
                    T i = a[j], f = a[n + j], g = a[2 * n + j], o = a[3 * n + j];
                    T tc = tanhC[j];
                    T dcj = dc[j] + dh[j] * o * (T.One - tc * tc);
                    dg[j] = dcj * g * i * (T.One - i);               // d pre_i
                    dg[n + j] = dcj * cPrev[j] * f * (T.One - f);     // d pre_f
                    dg[2 * n + j] = dcj * i * (T.One - g * g);        // d pre_g
                    dg[3 * n + j] = dh[j] * tc * o * (T.One - o);     // d pre_o
                    dc[j] = dcj * f;                                  // flows to c_prev
                }
                break;
            }
            case RecurrentCell.Gru:
            {
                var hPrev = _h.AsSpan(s * bh + b * n, n);
                var hn = _hn.AsSpan((s * _batch + b) * n, n);
                for (int j = 0; j < n; j++)
                {
                    T r = a[j], z = a[n + j], nn = a[2 * n + j];
                    T dn = dh[j] * (T.One - z) * (T.One - nn * nn);  // d pre_n (x side)
                    T dz = dh[j] * (hPrev[j] - nn) * z * (T.One - z);
                    T dr = dn * hn[j] * r * (T.One - r);
                    dg[j] = dr;
                    dg[n + j] = dz;
                    dg[2 * n + j] = dn;
                    dhg[j] = dr;
                    dhg[n + j] = dz;
                    dhg[2 * n + j] = dn * r;                         // through r * (W_hn h + b_hn)
                }
                break;
            }
        }
    }

    // out[rows, outF] = in[rows, inF] W^T, with W [outF, inF]; in and out start at their offsets. With W^T packed
    // (float32, see PackWeights) the packed product reads it.
    private static void Linear(ReadOnlySpan<T> input, int rows, int inF, T[] w, int outF, T[] output) => Linear(input, 0, rows, inF, w, outF, output, 0);

    private static void Linear(ReadOnlySpan<T> input, int inOffset, int rows, int inF, T[] w, int outF, T[] output, int outOffset, PackedB? packed = null)
    {
        if (rows == 0 || outF == 0) return;
        fixed (T* pi = input, pw = w, po = output)
        {
            if (packed is not null)
                Gemm.Sgemm(rows, (float*)(pi + inOffset), inF, packed, (float*)pw, inF, 0f, (float*)(po + outOffset), outF);
            else
                Gemm.Run("rnn", false, true, rows, outF, inF, T.One, pi + inOffset, Math.Max(inF, 1), pw, Math.Max(inF, 1), T.Zero, po + outOffset, outF);
        }
    }

    // out[rows, outF] = g[rows, gF] W, with W [gF, outF]; g and out start at their offsets. With W packed, as Linear.
    private static void Linear2(T[] g, int gOffset, int rows, int gF, T[] w, int outF, T[] output, int outOffset = 0, PackedB? packed = null)
    {
        if (rows == 0 || outF == 0) return;
        fixed (T* pg = g, pw = w, po = output)
        {
            if (packed is not null)
                Gemm.Sgemm(rows, (float*)(pg + gOffset), gF, packed, (float*)pw, outF, 0f, (float*)(po + outOffset), outF);
            else
                Gemm.Run("rnn", false, false, rows, outF, gF, T.One, pg + gOffset, gF, pw, Math.Max(outF, 1), T.Zero, po + outOffset, Math.Max(outF, 1));
        }
    }

    // out[m, k2] = a[rows, m]^T b[rows, k2]
    private static void GemmTN(T[] a, T[] bMat, int rows, int m, int k2, T[] output)
    {
        if (m == 0 || k2 == 0) return;
        fixed (T* pa = a, pb = bMat, po = output)
            Gemm.Run("rnn", true, false, m, k2, rows, T.One, pa, m, pb, Math.Max(k2, 1), T.Zero, po, k2);
    }

    private static void SumRows(T[] a, int rows, int cols, Span<T> dst)
    {
        dst.Clear();
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(dst, a.AsSpan(r * cols, cols), dst);
    }
}
