using System.Numerics;
using System.Numerics.Tensors;
using DeepSharp.Kernels;

namespace DeepSharp;

/// <summary>How a loss op reduces its per-element (or per-row) losses. NN.Reduction maps onto this.</summary>
internal enum LossReduction
{
    None,
    Mean,
    Sum,
}

/// <summary>
/// Loss primitives with fused backward rules, used every training step: cross-entropy / NLL over
/// class indices (log-softmax into one [rows, C] buffer, kept for backward, with its exp as one vector
/// call over all rows into a scratch buffer; then pick, weight, smoothing and reduction row by row,
/// with no tensor per step; backward is softmax - onehot, scaled) and the two binary cross-entropies
/// (elementwise into the output: plain BCE one loop each way; with logits a few vector passes over the
/// output buffer, then one loop each way). The composite losses (MSE, Huber, KL, margins) live in NN/Losses.
/// </summary>
internal static class LossOps
{
    // ---- cross-entropy / NLL over class indices ----

    /// <summary>
    /// Loss over class-index targets. <paramref name="input"/> is [N, C, d1..dk] or [C] (logits when
    /// <paramref name="fromLogits"/>, log-probabilities otherwise); <paramref name="target"/> is int64
    /// [N, d1..dk] or []. Per row r with class t = target[r]:
    ///   nll_r    = -w[t] logp[r, t]
    ///   smooth_r = -sum_j w[j] logp[r, j]                     (label smoothing only)
    ///   loss_r   = (1 - ls) nll_r + ls / C smooth_r, and 0 for ignored rows.
    /// Mean divides the summed loss by sum of w[t] over non-ignored rows, exactly as PyTorch.
    /// </summary>
    public static Tensor ClassIndexLoss(string op, Tensor input, Tensor target, Tensor? weight, long ignoreIndex,
        double labelSmoothing, LossReduction reduction, bool fromLogits)
    {
        input.RequireFloat(op);
        var (classes, rows) = CheckClassIndexShapes(op, input, target);
        if (weight is not null)
        {
            if (weight.Rank != 1 || weight.ShapeArray[0] != classes)
                throw new ArgumentException($"{op}: weight must have shape [{classes}] (one per class), got {Shapes.Format(weight.ShapeArray)}");
            Tensor.CheckSameDType(op, input, weight);
        }
        if (labelSmoothing < 0 || labelSmoothing > 1)
            throw new ArgumentException($"{op}: label_smoothing must be in [0, 1], got {labelSmoothing}");

        var x = ClassLast(input);
        var targets = target.ToArray<long>();
        var w = weight?.ToDoubleArray();
        for (int r = 0; r < rows; r++)
        {
            long t = targets[r];
            if (t != ignoreIndex && (t < 0 || t >= classes))
                throw new ArgumentException($"{op}: target {t} at position {r} is out of bounds for {classes} classes (expected 0..{classes - 1} or ignore_index {ignoreIndex})");
        }

        // Log-probabilities [rows, C]: computed for logits (saved for backward), the input itself otherwise.
        Tensor logp = x;
        if (fromLogits)
        {
            logp = Tensor.Empty([rows, classes], input.DType);
            Dispatch.Float(input.DType, new LogSoftmax(x, logp, rows, classes));
        }
        var perRow = new double[rows];
        double weightSum = Dispatch.Float<RowLossKernel, double>(input.DType, new RowLossKernel(logp, targets, w, ignoreIndex, labelSmoothing, classes, perRow));
        Tensor.KeepAlive(x, logp); // x may be a contiguous copy, and LogSoftmaxRows allocates while reading it

        Tensor result;
        if (reduction == LossReduction.None)
        {
            result = Tensor.Empty((int[])target.ShapeArray.Clone(), input.DType);
            Dispatch.Float(input.DType, new StoreRows(perRow, result));
        }
        else
        {
            double total = 0;
            foreach (double v in perRow) total += v;
            // 0/0 = NaN when every target is ignored, as PyTorch.
            result = Tensor.Scalar(reduction == LossReduction.Mean ? total / weightSum : total, input.DType);
        }
        if (Autograd.ShouldRecord(input))
            result.GradFn = new ClassIndexLossBackward(input, fromLogits ? logp : null, targets, w, ignoreIndex,
                labelSmoothing, reduction, weightSum, classes, rows, fromLogits);
        return result;
    }

    /// <summary>Validates input/target shapes; returns the class count and the number of rows (targets).</summary>
    private static (int Classes, int Rows) CheckClassIndexShapes(string op, Tensor input, Tensor target)
    {
        if (target.DType != DType.Int64)
            throw new ArgumentException($"{op}: class-index targets must be int64, got {target.DType.Name()} {Shapes.Format(target.ShapeArray)}");
        if (input.Rank == 0)
            throw new ArgumentException($"{op}: input must be [C] or [N, C, d1, ...], got a scalar");
        int classes = input.Rank == 1 ? input.ShapeArray[0] : input.ShapeArray[1];
        int[] expected = input.Rank == 1 ? [] : [input.ShapeArray[0], .. input.ShapeArray[2..]];
        if (!target.ShapeArray.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{op}: for input of shape {Shapes.Format(input.ShapeArray)} (class dim {(input.Rank == 1 ? 0 : 1)}) the target must have shape {Shapes.Format(expected)}, got {Shapes.Format(target.ShapeArray)}");
        if (classes == 0) throw new ArgumentException($"{op}: input of shape {Shapes.Format(input.ShapeArray)} has no classes");
        return (classes, target.Numel);
    }

    /// <summary>Input as contiguous [rows, C]: the class dim moved last for [N, C, d...] inputs.</summary>
    private static Tensor ClassLast(Tensor input)
    {
        if (input.Rank <= 2) return input.ContiguousData();
        return input.WithLayout(input.Layout.MoveDim(1, input.Rank - 1)).ContiguousData();
    }

    /// <summary>Inverse of <see cref="ClassLast"/> for a [rows, C] gradient, as a contiguous tensor of <paramref name="shape"/>.</summary>
    private static Tensor ClassBack(Tensor rowsByClass, int[] shape)
    {
        if (shape.Length <= 2) return rowsByClass.Reshape(shape);
        // [N, d1..dk, C] -> [N, C, d1..dk]
        int[] moved = [shape[0], .. shape[2..], shape[1]];
        var v = rowsByClass.Reshape(moved);
        return v.WithLayout(v.Layout.MoveDim(shape.Length - 1, 1)).ContiguousData();
    }

    /// <summary>
    /// Stable log-softmax per row: x - max - log(sum(exp(x - max))). The exp runs as one vector call
    /// over all rows: with typical class counts (10) a vector call per row costs more than the row.
    /// </summary>
    // The kernel calls of this file, each written once over the element type (Dispatch.Float picks it).

    private readonly struct LogSoftmax(Tensor x, Tensor logp, int rows, int classes) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => LogSoftmaxRows(x.ReadSpan<T>(), logp.Span<T>(), rows, classes);
    }

    private readonly struct StoreRows(double[] values, Tensor dst) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => Store<T>(values, dst.Span<T>());
    }

    /// <summary>Binary cross-entropy on probabilities, or on logits with an optional positive weight.</summary>
    private readonly struct Bce(string op, Tensor x, Tensor y, Tensor? w, Tensor? pw, Tensor dst, bool logits) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (logits) BceLogitsForward(x.ReadSpan<T>(), y.ReadSpan<T>(), ReadOrEmpty<T>(w), ReadOrEmpty<T>(pw), dst.Span<T>());
            else BceForward(op, x.ReadSpan<T>(), y.ReadSpan<T>(), ReadOrEmpty<T>(w), dst.Span<T>());
        }
    }

    private static ReadOnlySpan<T> ReadOrEmpty<T>(Tensor? t) where T : unmanaged => t is null ? default : t.ReadSpan<T>();

    private static void LogSoftmaxRows<T>(ReadOnlySpan<T> x, Span<T> logp, int rows, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0) return;   // the vector kernels reject empty spans
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * classes, classes);
            T m = classes >= ShortRow ? TensorPrimitives.Max(xr) : RowMax(xr);
            if (T.IsNegativeInfinity(m)) m = T.Zero;   // an all -inf row: keep exp finite
            var lr = logp.Slice(r * classes, classes);
            if (classes >= ShortRow) TensorPrimitives.Subtract(xr, m, lr);
            else for (int j = 0; j < lr.Length; j++) lr[j] = xr[j] - m;
        }
        var scratch = Tensor.Empty([rows * classes], DTypeExtensions.Of<T>());
        var e = scratch.Span<T>();
        TensorPrimitives.Exp(logp, e);
        for (int r = 0; r < rows; r++)
        {
            var er = e.Slice(r * classes, classes);
            T sum = T.Zero;
            if (classes >= ShortRow) sum = TensorPrimitives.Sum(er);
            else for (int j = 0; j < er.Length; j++) sum += er[j];
            var lr = logp.Slice(r * classes, classes);
            T log = T.Log(sum);
            for (int j = 0; j < lr.Length; j++) lr[j] -= log;
        }
        Tensor.KeepAlive(scratch);
    }

    private static T RowMax<T>(ReadOnlySpan<T> row) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = row[0];
        for (int j = 1; j < row.Length; j++) if (row[j] > m || T.IsNaN(row[j])) m = row[j];
        return m;
    }

    /// <summary>Rows shorter than this use scalar loops for max and sum (vector-call overhead dominates below it).</summary>
    private const int ShortRow = 32;

    /// <summary>Per-row losses into <paramref name="perRow"/>; returns sum of w[t] over non-ignored rows (the mean's divisor).</summary>
    private readonly struct RowLossKernel(Tensor logp, long[] targets, double[]? w, long ignoreIndex, double ls, int classes, double[] perRow) : IFloatKernel<double>
    {
        public double Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => RowLosses(logp.ReadSpan<T>(), targets, w, ignoreIndex, ls, classes, perRow);
    }

    private static double RowLosses<T>(ReadOnlySpan<T> logp, long[] targets, double[]? w, long ignoreIndex, double ls, int classes, double[] perRow)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double weightSum = 0;
        for (int r = 0; r < perRow.Length; r++)
        {
            long t = targets[r];
            if (t == ignoreIndex) continue;
            var row = logp.Slice(r * classes, classes);
            double wt = w is null ? 1 : w[t];
            double loss = -wt * double.CreateTruncating(row[(int)t]);
            if (ls > 0)
            {
                double smooth = 0;
                if (w is null) smooth = -double.CreateTruncating(TensorPrimitives.Sum(row));
                else for (int j = 0; j < classes; j++) smooth -= w[j] * double.CreateTruncating(row[j]);
                loss = (1 - ls) * loss + ls / classes * smooth;
            }
            perRow[r] = loss;
            weightSum += wt;
        }
        return weightSum;
    }

    private static void Store<T>(double[] values, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++) dst[i] = T.CreateTruncating(values[i]);
    }

    /// <summary>
    /// d loss_r / d x[r, j], scaled by s_r (the upstream gradient, divided by the weight sum for mean):
    ///   logits: (1-ls) w[t] (p_j - [j = t]) + ls/C (sum_k w[k] p_j - w[j])
    ///   log-probabilities: -w[t] at j = t, else 0.
    /// </summary>
    private sealed class ClassIndexLossBackward : Node
    {
        private readonly long[] _targets;
        private readonly double[]? _w;
        private readonly long _ignore;
        private readonly double _ls, _weightSum;
        private readonly LossReduction _reduction;
        private readonly int _classes, _rows;
        private readonly bool _fromLogits;
        private readonly int[] _shape;
        private readonly DType _dtype;

        public ClassIndexLossBackward(Tensor input, Tensor? logp, long[] targets, double[]? w, long ignore, double ls,
            LossReduction reduction, double weightSum, int classes, int rows, bool fromLogits) : base(input)
        {
            SaveForBackward(logp);
            _targets = targets;
            _w = w;
            _ignore = ignore;
            _ls = ls;
            _reduction = reduction;
            _weightSum = weightSum;
            _classes = classes;
            _rows = rows;
            _fromLogits = fromLogits;
            _shape = input.ShapeArray;
            _dtype = input.DType;
        }

        public override string Name => _fromLogits ? "CrossEntropyLossBackward" : "NllLossBackward";

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var scales = new double[_rows];
            if (_reduction == LossReduction.None)
            {
                var gs = g.ToDoubleArray();
                Array.Copy(gs, scales, _rows);
            }
            else
            {
                double s = g.ToDouble();
                if (_reduction == LossReduction.Mean) s /= _weightSum;
                Array.Fill(scales, s);
            }
            var dx = Tensor.Empty([_rows, _classes], _dtype, zeroed: !_fromLogits);
            if (_fromLogits)
            {
                var logp = Saved(0);
                Dispatch.Float(_dtype, new Grad(this, logp, dx, scales));
                Tensor.KeepAlive(logp);
            }
            else Dispatch.Float(_dtype, new Grad(this, null, dx, scales));
            return [ClassBack(dx, _shape)];
        }

        /// <summary>The logits gradient from the saved log-probabilities, or the log-probability gradient (logp null).</summary>
        private readonly struct Grad(ClassIndexLossBackward node, Tensor? logp, Tensor dx, double[] scales) : IFloatKernel
        {
            public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
            {
                if (logp is null) node.LogProbGrad(dx.Span<T>(), scales);
                else node.LogitsGrad(logp.ReadSpan<T>(), dx.Span<T>(), scales);
            }
        }

        private void LogitsGrad<T>(ReadOnlySpan<T> logp, Span<T> dx, double[] scales) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (_rows == 0) return;
            double wTotal = _w is null ? _classes : _w.Sum();
            TensorPrimitives.Exp(logp, dx);                                       // p, all rows in one vector call
            for (int r = 0; r < _rows; r++)
            {
                var d = dx.Slice(r * _classes, _classes);
                long t = _targets[r];
                if (t == _ignore)
                {
                    d.Clear();
                    continue;
                }
                double s = scales[r], wt = _w is null ? 1 : _w[t];
                double hard = s * (1 - _ls) * wt, soft = s * _ls / _classes;
                T coef = T.CreateTruncating(hard + soft * wTotal);                 // d holds p
                if (_classes >= ShortRow) TensorPrimitives.Multiply(d, coef, d);
                else for (int j = 0; j < d.Length; j++) d[j] *= coef;
                d[(int)t] -= T.CreateTruncating(hard);
                if (soft != 0)
                {
                    if (_w is null) TensorPrimitives.Subtract(d, T.CreateTruncating(soft), d);
                    else for (int j = 0; j < _classes; j++) d[j] -= T.CreateTruncating(soft * _w[j]);
                }
            }
        }

        private void LogProbGrad<T>(Span<T> dx, double[] scales) where T : unmanaged, IFloatingPointIeee754<T>
        {
            for (int r = 0; r < _rows; r++)
            {
                long t = _targets[r];
                if (t == _ignore) continue;
                dx[r * _classes + (int)t] = T.CreateTruncating(-scales[r] * (_w is null ? 1 : _w[t]));
            }
        }
    }

    // ---- binary cross-entropy (elementwise; the caller reduces) ----

    /// <summary>
    /// -w (y log x + (1-y) log(1-x)) elementwise with each log clamped at -100, as PyTorch; the gradient
    /// is w (x - y) / max(x (1-x), 1e-12). Inputs must lie in [0, 1]. Target and weight get no gradient.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Tensor? weight)
    {
        const string op = "binary_cross_entropy";
        var (x, y, w) = PrepareBinary(op, input, target, weight, null, out _);
        var result = Tensor.EmptyLike(input);
        Dispatch.Float(input.DType, new Bce(op, x, y, w, null, result, logits: false));
        Tensor.KeepAlive(x, y, w);
        if (Autograd.ShouldRecord(input)) result.GradFn = new BinaryLossBackward("BinaryCrossEntropyBackward", input, target, w, null, logits: false);
        return result;
    }

    /// <summary>
    /// Stable binary cross-entropy on logits, elementwise:
    ///   (1-y) x + (1 + (pw-1) y) (log(e^{-m} + e^{-x-m}) + m),  m = max(-x, 0),
    /// times w. Gradient: w ((pw y + 1 - y) sigmoid(x) - pw y). Finite for logits of any size.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight, Tensor? posWeight)
    {
        const string op = "binary_cross_entropy_with_logits";
        var (x, y, w) = PrepareBinary(op, input, target, weight, posWeight, out var pw);
        var result = Tensor.EmptyLike(input);
        Dispatch.Float(input.DType, new Bce(op, x, y, w, pw, result, logits: true));
        Tensor.KeepAlive(x, y, w, pw);
        if (Autograd.ShouldRecord(input)) result.GradFn = new BinaryLossBackward("BinaryCrossEntropyWithLogitsBackward", input, target, w, pw, logits: true);
        return result;
    }

    /// <summary>Checks shapes and dtypes; returns contiguous input and target, and weight/posWeight broadcast to the input's shape.</summary>
    private static (Tensor X, Tensor Y, Tensor? W) PrepareBinary(string op, Tensor input, Tensor target, Tensor? weight, Tensor? posWeight, out Tensor? pw)
    {
        input.RequireFloat(op);
        Tensor.CheckSameDType(op, input, target);
        if (!target.ShapeArray.AsSpan().SequenceEqual(input.ShapeArray))
            throw new ArgumentException($"{op}: target shape {Shapes.Format(target.ShapeArray)} must equal the input shape {Shapes.Format(input.ShapeArray)}");
        pw = null;
        if (posWeight is not null)
        {
            Tensor.CheckSameDType(op, input, posWeight);
            pw = Tensor.Materialize(posWeight, BroadcastTo(op, "pos_weight", posWeight, input));
        }
        Tensor? w = null;
        if (weight is not null)
        {
            Tensor.CheckSameDType(op, input, weight);
            w = Tensor.Materialize(weight, BroadcastTo(op, "weight", weight, input));
        }
        return (input.ContiguousData(), target.ContiguousData(), w);
    }

    private static int[] BroadcastTo(string op, string what, Tensor t, Tensor input)
    {
        var shape = Shapes.Broadcast(op, t.ShapeArray, input.ShapeArray);
        if (!shape.AsSpan().SequenceEqual(input.ShapeArray))
            throw new ArgumentException($"{op}: {what} of shape {Shapes.Format(t.ShapeArray)} must broadcast to the input shape {Shapes.Format(input.ShapeArray)}");
        return input.ShapeArray;
    }

    private static void BceForward<T>(string op, ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> w, Span<T> dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T floor = T.CreateTruncating(-100);
        for (int i = 0; i < x.Length; i++)
        {
            T xi = x[i];
            if (!(xi >= T.Zero && xi <= T.One))
                throw new ArgumentException($"{op}: all elements of input should be between 0 and 1, got {xi} at position {i}");
            T logX = T.Max(T.Log(xi), floor), log1mX = T.Max(T.LogP1(-xi), floor);
            T loss = -(y[i] * logX + (T.One - y[i]) * log1mX);
            dst[i] = w.IsEmpty ? loss : loss * w[i];
        }
    }

    private static void BceLogitsForward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> w, ReadOnlySpan<T> pw, Span<T> dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.IsEmpty) return;   // the vector kernels reject empty spans
        // log(1 + e^{-x}) = log(1 + e^{-|x|}) + max(-x, 0): the transcendental part runs as vector calls
        // into dst; PyTorch's log(e^{-m} + e^{-x-m}) + m with m = max(-x, 0) is the same expression.
        TensorPrimitives.Abs(x, dst);
        TensorPrimitives.Negate(dst, dst);
        TensorPrimitives.Exp(dst, dst);
        TensorPrimitives.Add(dst, T.One, dst);
        TensorPrimitives.Log(dst, dst);
        for (int i = 0; i < x.Length; i++)
        {
            T xi = x[i], yi = y[i];
            T softplusNeg = dst[i] + T.Max(-xi, T.Zero);
            T logWeight = pw.IsEmpty ? T.One : (pw[i] - T.One) * yi + T.One;
            T loss = (T.One - yi) * xi + logWeight * softplusNeg;
            dst[i] = w.IsEmpty ? loss : loss * w[i];
        }
    }

    private sealed class BinaryLossBackward : Node
    {
        private readonly string _name;
        private readonly bool _logits;

        public BinaryLossBackward(string name, Tensor input, Tensor target, Tensor? w, Tensor? pw, bool logits) : base(input)
        {
            _name = name;
            SaveForBackward(input, target, w, pw);
            _logits = logits;
        }

        public override string Name => _name;

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var x = Saved(0).ContiguousData();
            var y = Saved(1).ContiguousData();
            Tensor? w = SavedOrNull(2), pw = SavedOrNull(3);
            var gc = g.ContiguousData();
            var dx = Tensor.EmptyLike(x);
            Dispatch.Float(x.DType, new Grad(this, x, y, gc, w, pw, dx));
            Tensor.KeepAlive(x, y, g, gc);
            return [dx];
        }

        private readonly struct Grad(BinaryLossBackward node, Tensor x, Tensor y, Tensor g, Tensor? w, Tensor? pw, Tensor dx) : IFloatKernel
        {
            public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
                node.Run(x.ReadSpan<T>(), y.ReadSpan<T>(), g.ReadSpan<T>(), ReadOrEmpty<T>(w), ReadOrEmpty<T>(pw), dx.Span<T>());
        }

        private void Run<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> g, ReadOnlySpan<T> w, ReadOnlySpan<T> pw, Span<T> dx)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (x.IsEmpty) return;   // the vector kernels reject empty spans
            T eps = T.CreateTruncating(1e-12);
            if (_logits) TensorPrimitives.Sigmoid(x, dx);                        // vector pass; dx[i] read before written below
            for (int i = 0; i < x.Length; i++)
            {
                T xi = x[i], yi = y[i], d;
                if (_logits)
                {
                    T sig = dx[i];
                    if (pw.IsEmpty) d = sig - yi;
                    else
                    {
                        T t = pw[i] * yi;
                        d = (t + T.One - yi) * sig - t;
                    }
                }
                else
                {
                    d = (xi - yi) / T.Max((T.One - xi) * xi, eps);
                }
                d *= g[i];
                dx[i] = w.IsEmpty ? d : d * w[i];
            }
        }
    }
}
