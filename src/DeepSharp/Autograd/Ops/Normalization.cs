using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

// Normalisation layers' functional forms: batch norm (per channel over N and space, with running
// statistics), layer norm (over the trailing dims) and group norm (over channel groups). Each saves
// the per-channel or per-row mean and 1/std and has a closed-form backward.
public sealed partial class Tensor
{
    /// <summary>
    /// Batch normalisation of [N, C, *]: in training, per-channel batch statistics (biased variance) and an
    /// in-place update of the running statistics with the unbiased variance; in eval, the running statistics.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum = 0.1, double eps = 1e-5) =>
        BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu: false);

    /// <summary>
    /// <see cref="BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double)"/>, then ReLU when
    /// <paramref name="relu"/>, in the same passes: the affine writes max(y, 0), and the backward masks the gradient with
    /// the saved output inside its sums (bit-identical to the two ops, one read and write of the activation less each way).
    /// </summary>
    internal static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, bool relu)
    {
        if (input.Rank < 2) throw new ArgumentException($"batch_norm: expected an input of at least 2 dims [N, C, ...], got {Shapes.Format(input.ShapeArray)}");
        input.RequireFloat("batch_norm");
        int n = input.ShapeArray[0], c = input.ShapeArray[1];
        int s = n * c == 0 ? 0 : input.Numel / (n * c);
        foreach (var (t, name) in new[] { (runningMean, "running_mean"), (runningVar, "running_var"), (weight, "weight"), (bias, "bias") })
            if (t is not null && (t.Rank != 1 || t.ShapeArray[0] != c))
                throw new ArgumentException($"batch_norm: {name} must have shape [{c}] for input {Shapes.Format(input.ShapeArray)}, got {Shapes.Format(t.ShapeArray)}");
        if (input.Numel == 0) return relu ? EmptyBatchNorm(input, weight, bias).Relu() : EmptyBatchNorm(input, weight, bias);
        var x = input.ContiguousData();
        var mean = new double[c];
        var invStd = new double[c];
        if (training)
        {
            long count = (long)n * s;
            if (count <= 1) throw new ArgumentException($"batch_norm: expected more than 1 value per channel when training, got input {Shapes.Format(input.ShapeArray)}");
            var variance = new double[c];
            Dispatch.Float(x.DType, new ChannelMoments(x, n, c, s, mean, variance));
            for (int i = 0; i < c; i++) invStd[i] = 1 / Math.Sqrt(variance[i] + eps);
            using (Autograd.NoGrad())
            {
                runningMean?.MulInPlace(1 - momentum).AddInPlace(From(mean).To(runningMean.DType), momentum);
                runningVar?.MulInPlace(1 - momentum).AddInPlace(From(variance).To(runningVar.DType), momentum * count / (count - 1));
            }
        }
        else
        {
            if (runningMean is null || runningVar is null) throw new ArgumentException("batch_norm: running_mean and running_var are required in eval mode");
            mean = runningMean.ToDoubleArray();
            var rv = runningVar.ToDoubleArray();
            for (int i = 0; i < c; i++) invStd[i] = 1 / Math.Sqrt(rv[i] + eps);
        }
        var gamma = weight?.ToDoubleArray();
        var beta = bias?.ToDoubleArray();
        // y = (x - mean) * (gamma * invStd) + beta, centred first (see ChannelAffine).
        var scale = new double[c];
        var shift = new double[c];
        for (int i = 0; i < c; i++)
        {
            scale[i] = (gamma?[i] ?? 1) * invStd[i];
            shift[i] = beta?[i] ?? 0;
        }
        var y = EmptyLike(input);
        Dispatch.Float(x.DType, new ChannelAffine(x, y, n, c, s, mean, scale, shift, relu));
        var inputs = new List<Tensor> { input };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        if (Autograd.ShouldRecord(inputs.ToArray()))
            y.GradFn = new BatchNormBackward([.. inputs], x, relu ? (scale, shift) : null, weight is not null, bias is not null, gamma, mean, invStd, training);
        return y;
    }

    /// <summary>
    /// An empty batch, as PyTorch: there are no statistics, so the running ones are left alone, and the output is the
    /// (empty) input passed through the affine parameters so that they still get (all-zero) gradients.
    /// </summary>
    private static Tensor EmptyBatchNorm(Tensor input, Tensor? weight, Tensor? bias)
    {
        var channel = new int[input.Rank];
        System.Array.Fill(channel, 1);
        channel[1] = input.ShapeArray[1];
        var y = input.Clone();
        if (weight is not null) y = y * weight.Reshape(channel);
        if (bias is not null) y = y + bias.Reshape(channel);
        return y;
    }

    private sealed class BatchNormBackward : Node
    {
        private readonly bool _hasWeight;
        private readonly bool _hasBias;
        private readonly double[]? _gamma;
        private readonly double[] _mean;
        private readonly double[] _invStd;
        private readonly bool _training;

        // The fused ReLU's affine (output (x - mean) * scale + shift, then ReLU), or null for batch norm alone: its
        // backward recomputes the mask from x rather than reading the output (Normalization.ReluMask).
        private readonly double[]? _reluScale, _reluShift;

        public BatchNormBackward(Tensor[] inputs, Tensor x, (double[] Scale, double[] Shift)? relu, bool hasWeight, bool hasBias, double[]? gamma, double[] mean, double[] invStd, bool training) : base(inputs)
        {
            (_reluScale, _reluShift) = relu is { } r ? (r.Scale, r.Shift) : (null, null);
            _hasWeight = hasWeight;
            _hasBias = hasBias;
            _gamma = gamma;
            _mean = mean;
            _invStd = invStd;
            _training = training;
            SaveForBackward(x);
        }

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var x = Saved(0);
            var g = grad.ContiguousData();
            int n = x.ShapeArray[0], c = x.ShapeArray[1], s = n * c == 0 ? 0 : x.Numel / (n * c);
            // sum(g xhat) = invStd sum(g (x - mean)), summed centred: sum(g x) - mean sum(g) cancels (a constant channel
            // gave weight gradients of 5e-4 where the exact value is 0).
            var sumG = new double[c];
            var sumGXc = new double[c];
            Dispatch.Float(x.DType, new ChannelGradSums(g, x, _reluScale, _reluShift, n, c, s, _mean, sumG, sumGXc));
            var sumGXhat = new double[c];
            for (int i = 0; i < c; i++) sumGXhat[i] = _invStd[i] * sumGXc[i];

            var grads = new Tensor?[Next.Length];
            if (NeedsGrad(0))
            {
                double count = (double)n * s;
                var a = new double[c];
                var b = new double[c];
                var k = new double[c];
                for (int i = 0; i < c; i++)
                {
                    a[i] = (_gamma?[i] ?? 1) * _invStd[i];
                    if (!_training) continue;
                    // dx = a (g - mean(g) - xhat mean(g xhat)), written as a g + b (x - mean) + k.
                    b[i] = -a[i] * _invStd[i] * sumGXhat[i] / count;
                    k[i] = -a[i] * sumG[i] / count;
                }
                var dx = EmptyLike(x);
                Dispatch.Float(x.DType, new ChannelLinear(g, x, _reluScale, _reluShift, dx, n, c, s, a, b, _mean, k));
                grads[0] = dx;
            }
            int next = 1;
            if (_hasWeight) grads[next] = NeedsGrad(next++) ? From(sumGXhat).To(x.DType) : null;
            if (_hasBias) grads[next] = NeedsGrad(next) ? From(sumG).To(x.DType) : null;
            KeepAlive(grad, g, x);
            return grads;
        }
    }

    /// <summary>Layer normalisation over the trailing dims given by <paramref name="normalizedShape"/>, with optional elementwise affine.</summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        input.RequireFloat("layer_norm");
        int d = Shapes.Numel(normalizedShape);
        if (normalizedShape.Length > input.Rank || !input.ShapeArray.AsSpan(input.Rank - normalizedShape.Length).SequenceEqual(normalizedShape))
            throw new ArgumentException($"layer_norm: input {Shapes.Format(input.ShapeArray)} does not end in the normalized shape {Shapes.Format(normalizedShape)}");
        foreach (var t in new[] { weight, bias })
            if (t is not null && !t.ShapeArray.AsSpan().SequenceEqual(normalizedShape))
                throw new ArgumentException($"layer_norm: weight and bias must have the normalized shape {Shapes.Format(normalizedShape)}, got {Shapes.Format(t.ShapeArray)}");
        int rows = d == 0 ? 0 : input.Numel / d;
        return RowNorm("layer_norm", input, weight, bias, rows, d, eps, (_, j) => j);
    }

    /// <summary>Group normalisation of [N, C, *] over groups of C/groups channels, with per-channel affine.</summary>
    public static Tensor GroupNorm(Tensor input, int groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        input.RequireFloat("group_norm");
        if (input.Rank < 2) throw new ArgumentException($"group_norm: expected [N, C, ...], got {Shapes.Format(input.ShapeArray)}");
        int n = input.ShapeArray[0], c = input.ShapeArray[1];
        if (groups <= 0 || c % groups != 0) throw new ArgumentException($"group_norm: {c} channels are not divisible into {groups} groups");
        foreach (var t in new[] { weight, bias })
            if (t is not null && (t.Rank != 1 || t.ShapeArray[0] != c))
                throw new ArgumentException($"group_norm: weight and bias must have shape [{c}], got {Shapes.Format(t.ShapeArray)}");
        int s = n * c == 0 ? 0 : input.Numel / (n * c);
        int cg = c / groups;
        return RowNorm("group_norm", input, weight, bias, n * groups, cg * s, eps, (row, j) => row % groups * cg + j / Math.Max(s, 1));
    }

    /// <summary>Normalises contiguous rows; the affine parameter of element j of a row is at affineIndex(row, j).</summary>
    private static Tensor RowNorm(string op, Tensor input, Tensor? weight, Tensor? bias, int rows, int length, double eps, Func<int, int, int> affineIndex)
    {
        if (weight is not null) CheckSameDType(op, input, weight);
        if (bias is not null) CheckSameDType(op, input, bias);
        var x = input.ContiguousData();
        var mean = new double[rows];
        var invStd = new double[rows];
        Dispatch.Float(x.DType, new RowStats(x, rows, length, eps, mean, invStd));
        Tensor y;
        if (op == "layer_norm")
        {
            // Affine parameters per column: span kernels in the input's dtype.
            var w = weight?.ContiguousData();
            var b = bias?.ContiguousData();
            y = EmptyLike(x);
            Dispatch.Float(x.DType, new LayerNormRows(x, y, rows, length, mean, invStd, w, b));
            KeepAlive(x, w, b);
        }
        else
        {
            var gamma = weight?.Reshape(-1).ToDoubleArray();
            var beta = bias?.Reshape(-1).ToDoubleArray();
            var xs = x.ToDoubleArray();
            var ys = new double[xs.Length];
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < length; j++)
                {
                    int i = r * length + j, a = affineIndex(r, j);
                    ys[i] = (xs[i] - mean[r]) * invStd[r] * (gamma?[a] ?? 1) + (beta?[a] ?? 0);
                }
            y = From(ys, input.ShapeArray).To(input.DType);
        }
        var inputs = new List<Tensor> { input };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        if (Autograd.ShouldRecord(inputs.ToArray()))
            y.GradFn = new RowNormBackward(op, [.. inputs], x, weight, bias is not null, rows, length, mean, invStd, affineIndex);
        return y;
    }

    /// <summary>dx = invstd (gh - mean(gh) - xhat mean(gh xhat)) with gh = g * gamma; dgamma = sum g xhat; dbeta = sum g.</summary>
    private sealed class RowNormBackward : Node
    {
        private readonly string _op;
        private readonly Tensor[] _inputs; // for the shapes of the affine parameters
        private readonly bool _hasBias;
        private readonly int _rows;
        private readonly int _length;
        private readonly double[] _mean;
        private readonly double[] _invStd;
        private readonly Func<int, int, int> _affineIndex;

        public RowNormBackward(string op, Tensor[] inputs, Tensor x, Tensor? weight, bool hasBias, int rows, int length, double[] mean, double[] invStd, Func<int, int, int> affineIndex) : base(inputs)
        {
            _op = op;
            _inputs = inputs;
            _gamma = weight?.Reshape(-1).ToDoubleArray();
            _affineShape = weight?.ShapeArray;
            _hasBias = hasBias;
            _rows = rows;
            _length = length;
            _mean = mean;
            _invStd = invStd;
            _affineIndex = affineIndex;
            SaveForBackward(x);
        }

        private readonly double[]? _gamma;
        private readonly int[]? _affineShape;

        public override string Name => _op == "layer_norm" ? "NativeLayerNormBackward" : "NativeGroupNormBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var x = Saved(0);
            if (_op == "layer_norm") return LayerNormBackward(x, grad);
            var xs = x.ToDoubleArray();
            var gs = grad.ToDoubleArray();
            var dx = new double[xs.Length];
            int affine = _gamma?.Length ?? 0;
            var dGamma = new double[Math.Max(affine, 1)];
            var dBeta = new double[Math.Max(affine, 1)];
            var gh = new double[_length];
            var xhat = new double[_length];
            for (int r = 0; r < _rows; r++)
            {
                double meanGh = 0, meanGhX = 0;
                for (int j = 0; j < _length; j++)
                {
                    int i = r * _length + j, a = _affineIndex(r, j);
                    xhat[j] = (xs[i] - _mean[r]) * _invStd[r];
                    gh[j] = gs[i] * (_gamma?[a] ?? 1);
                    meanGh += gh[j];
                    meanGhX += gh[j] * xhat[j];
                    if (affine > 0)
                    {
                        dGamma[a] += gs[i] * xhat[j];
                        dBeta[a] += gs[i];
                    }
                }
                meanGh /= _length;
                meanGhX /= _length;
                for (int j = 0; j < _length; j++) dx[r * _length + j] = _invStd[r] * (gh[j] - meanGh - xhat[j] * meanGhX);
            }
            var grads = new Tensor?[Next.Length];
            if (NeedsGrad(0)) grads[0] = From(dx, x.ShapeArray).To(x.DType);
            int next = 1;
            if (_gamma is not null)
            {
                if (NeedsGrad(next)) grads[next] = From(dGamma, _affineShape!).To(x.DType);
                next++;
            }
            if (_hasBias && NeedsGrad(next))
            {
                if (affine == 0)
                {
                    // No weight: the bias has the affine shape of the input's normalised part; sum g per affine index.
                    dBeta = new double[_inputs[next].Numel];
                    for (int r = 0; r < _rows; r++)
                        for (int j = 0; j < _length; j++) dBeta[_affineIndex(r, j)] += gs[r * _length + j];
                }
                grads[next] = From(dBeta, _inputs[next].ShapeArray).To(x.DType);
            }
            return grads;
        }

        /// <summary>Layer norm (affine index = column): the span kernel in the input's dtype.</summary>
        private Tensor?[] LayerNormBackward(Tensor x, Tensor grad)
        {
            var g = grad.ContiguousData();
            var dx = EmptyLike(x);
            var dGamma = _gamma is not null && NeedsGrad(1) ? new double[_length] : null;
            int biasInput = _gamma is not null ? 2 : 1;
            var dBeta = _hasBias && NeedsGrad(biasInput) ? new double[_length] : null;
            Dispatch.Float(x.DType, new LayerNormRowsBackward(x, g, dx, _rows, _length, _mean, _invStd, _gamma, dGamma, dBeta));
            KeepAlive(x, g, grad);
            var grads = new Tensor?[Next.Length];
            if (NeedsGrad(0)) grads[0] = dx;
            if (dGamma is not null) grads[1] = From(dGamma, _affineShape!).To(x.DType);
            if (dBeta is not null) grads[biasInput] = From(dBeta, _inputs[biasInput].ShapeArray).To(x.DType);
            return grads;
        }
    }

    // The kernel calls of this file, each written once over the element type (Dispatch.Float picks it).

    private readonly struct ChannelMoments(Tensor x, int n, int c, int s, double[] mean, double[] variance) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => Normalization.ChannelMoments(x.ReadSpan<T>(), n, c, s, mean, variance);
    }

    private readonly struct ChannelAffine(Tensor x, Tensor y, int n, int c, int s, double[] center, double[] scale, double[] shift, bool relu) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => Normalization.ChannelAffine(x.ReadSpan<T>(), y.Span<T>(), n, c, s, center, scale, shift, relu);
    }

    private readonly struct ChannelGradSums(Tensor g, Tensor x, double[]? reluScale, double[]? reluShift, int n, int c, int s, double[] center, double[] sumG, double[] sumGXc) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Normalization.ChannelGradSums(g.ReadSpan<T>(), x.ReadSpan<T>(), n, c, s, center, sumG, sumGXc, reluScale, reluShift);
    }

    private readonly struct ChannelLinear(Tensor g, Tensor x, double[]? reluScale, double[]? reluShift, Tensor dx, int n, int c, int s, double[] a, double[] b, double[] center, double[] k) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Normalization.ChannelLinear(g.ReadSpan<T>(), x.ReadSpan<T>(), dx.Span<T>(), n, c, s, a, b, center, k, reluScale, reluShift);
    }

    private readonly struct RowStats(Tensor x, int rows, int length, double eps, double[] mean, double[] invStd) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> => Normalization.RowStats(x.ReadSpan<T>(), rows, length, eps, mean, invStd);
    }

    private readonly struct LayerNormRows(Tensor x, Tensor y, int rows, int length, double[] mean, double[] invStd, Tensor? w, Tensor? b) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Normalization.LayerNormForward(x.ReadSpan<T>(), y.Span<T>(), rows, length, mean, invStd,
                w is null ? default : w.ReadSpan<T>(), b is null ? default : b.ReadSpan<T>());
    }

    private readonly struct LayerNormRowsBackward(Tensor x, Tensor g, Tensor dx, int rows, int length, double[] mean, double[] invStd,
        double[]? gamma, double[]? dGamma, double[]? dBeta) : IFloatKernel
    {
        public void Run<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
            Normalization.LayerNormBackward(x.ReadSpan<T>(), g.ReadSpan<T>(), dx.Span<T>(), rows, length, mean, invStd, gamma, dGamma, dBeta);
    }
}
