using DeepSharp.Kernels;

namespace DeepSharp;

// Convolutions (NCHW): conv2d, conv1d and conv_transpose2d with stride, padding, dilation and groups.
// Forward, input gradient and weight gradient are the three im2col+GEMM kernels of ConvKernels;
// a transposed convolution is the same three kernels with the roles of input and output swapped.
public sealed partial class Tensor
{
    /// <summary>2-D convolution of input [N, C, H, W] with weight [O, C/groups, kh, kw] and optional bias [O].</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null,
        Size2d? stride = null, Size2d? padding = null, Size2d? dilation = null, int groups = 1) =>
        Conv2d("conv2d", input, weight, bias, stride ?? (1, 1), padding ?? (0, 0), dilation ?? (1, 1), groups, oneD: false);

    /// <summary>conv2d and conv1d (as a conv2d of height 1), validated and named as <paramref name="op"/>.</summary>
    private static Tensor Conv2d(string op, Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding,
        (int H, int W) dilation, int groups, bool oneD)
    {
        ConvChecks.Arguments(op, stride, padding, dilation, groups, oneD);
        var g = ConvShape(op, input, weight, bias, stride, padding, dilation, groups, transposed: false);
        var output = Empty([g.Batch, g.OutChannels, g.OutH, g.OutW], input.DType, zeroed: g.OutH * g.OutW == 0);
        if (output.Numel > 0) ConvForward(input, weight, bias, output, g);
        if (bias is null ? Autograd.ShouldRecord(input, weight) : Autograd.ShouldRecord([input, weight, bias]))
            output.GradFn = new ConvBackward(input, weight, bias, g, transposed: false);
        return output;
    }

    /// <summary>2-D convolution with the same stride, padding and dilation for height and width (F.conv2d with int arguments).</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, int stride, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(input, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>1-D convolution of input [N, C, L] with weight [O, C/groups, k].</summary>
    public static Tensor Conv1d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
    {
        if (input.Rank != 3) throw new ArgumentException($"conv1d: expected a 3-D input [N, C, L], got {Shapes.Format(input.ShapeArray)}");
        ConvChecks.Weight("conv1d", weight, 3);
        return Conv2d("conv1d", input.Unsqueeze(2), weight.Unsqueeze(2), bias, (1, stride), (0, padding), (1, dilation), groups, oneD: true).Squeeze(2);
    }

    /// <summary>
    /// Transposed 2-D convolution (the gradient of conv2d with respect to its input) of input [N, Cin, H, W]
    /// with weight [Cin, Cout/groups, kh, kw]: out = (H - 1) stride - 2 pad + dilation (k - 1) + outputPadding + 1.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor input, Tensor weight, Tensor? bias = null,
        Size2d? stride = null, Size2d? padding = null, Size2d? outputPadding = null, int groups = 1, Size2d? dilation = null)
    {
        const string name = "conv_transpose2d";
        var s = stride ?? (1, 1);
        var p = padding ?? (0, 0);
        var op = outputPadding ?? (0, 0);
        var d = dilation ?? (1, 1);
        ConvChecks.Arguments(name, s, p, d, groups);
        ConvChecks.OutputPadding(name, op, s, d);
        var g = ConvShape(name, input, weight, bias, s, p, d, groups, transposed: true, op);
        // g describes the forward convolution whose output has the input's shape.
        var output = Empty([g.Batch, g.InChannels, g.InH, g.InW], input.DType);
        ConvTransposeForward(input, weight, bias, output, g);
        if (bias is null ? Autograd.ShouldRecord(input, weight) : Autograd.ShouldRecord([input, weight, bias]))
            output.GradFn = new ConvBackward(input, weight, bias, g, transposed: true);
        return output;
    }

    private static ConvGeometry ConvShape(string op, Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) pad,
        (int H, int W) dilation, int groups, bool transposed, (int H, int W) outputPadding = default)
    {
        if (input.Rank != 4) throw new ArgumentException($"{op}: expected a 4-D input [N, C, H, W], got {Shapes.Format(input.ShapeArray)}");
        ConvChecks.Weight(op, weight, 4);
        CheckSameDType(op, input, weight);
        input.RequireFloat(op);
        int n = input.ShapeArray[0], c = input.ShapeArray[1], h = input.ShapeArray[2], w = input.ShapeArray[3];
        int kh = weight.ShapeArray[2], kw = weight.ShapeArray[3];
        int inCh, outCh, convH, convW;
        if (!transposed)
        {
            outCh = weight.ShapeArray[0];
            inCh = c;
            if (weight.ShapeArray[1] * groups != c || outCh % groups != 0)
                throw new ArgumentException($"{op}: weight {Shapes.Format(weight.ShapeArray)} expects {weight.ShapeArray[1] * groups} input channels with groups={groups} (and out channels divisible by groups), but the input {Shapes.Format(input.ShapeArray)} has {c}");
            (convH, convW) = (h, w);
        }
        else
        {
            if (weight.ShapeArray[0] != c || c % groups != 0)
                throw new ArgumentException($"{op}: weight {Shapes.Format(weight.ShapeArray)} expects {weight.ShapeArray[0]} input channels, but the input {Shapes.Format(input.ShapeArray)} has {c} (groups={groups})");
            outCh = c;                              // the forward conv's output channels
            inCh = weight.ShapeArray[1] * groups;   // the forward conv's input channels = our output channels
            convH = ConvChecks.TransposedOutputSize(h, stride.H, pad.H, dilation.H, kh, outputPadding.H);
            convW = ConvChecks.TransposedOutputSize(w, stride.W, pad.W, dilation.W, kw, outputPadding.W);
            if (convH <= 0 || convW <= 0)
                throw new ArgumentException($"{op}: the output size ({convH}, {convW}) computed from input {Shapes.Format(input.ShapeArray)} is too small");
        }
        var g = new ConvGeometry(n, inCh, convH, convW, outCh, kh, kw, stride.H, stride.W, pad.H, pad.W, dilation.H, dilation.W, groups);
        if (!transposed && (g.InH + 2 * pad.H < dilation.H * (kh - 1) + 1 || g.InW + 2 * pad.W < dilation.W * (kw - 1) + 1))
            throw new ArgumentException($"{op}: the (padded) input {Shapes.Format(input.ShapeArray)} with padding {pad} is smaller than the dilated kernel ({kh}, {kw}) with dilation {dilation}");
        int biasSize = transposed ? inCh : outCh;
        if (bias is not null && (bias.Rank != 1 || bias.ShapeArray[0] != biasSize))
            throw new ArgumentException($"{op}: bias must have shape [{biasSize}], got {Shapes.Format(bias.ShapeArray)}");
        if (bias is not null) CheckSameDType(op, input, bias);
        return g;
    }

    private static unsafe void ConvForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvGeometry g)
    {
        var xc = x.ContiguousData();
        var wc = w.ContiguousData();
        var bc = bias?.ContiguousData();
        if (y.DType == DType.Float32) Run<float>();
        else Run<double>();
        KeepAlive(xc, wc, bc); // fixed pins the arrays, but only live tensors keep their storages out of the pool

        void Run<T>() where T : unmanaged, System.Numerics.INumber<T>
        {
            fixed (T* px = xc.Array<T>(), pw = wc.Array<T>(), py = y.Array<T>(), pb = bc?.Array<T>())
                ConvKernels.Forward(px + xc.Offset, pw + wc.Offset, bc is null ? null : pb + bc.Offset, py, g);
        }
    }

    private static unsafe void ConvTransposeForward(Tensor input, Tensor w, Tensor? bias, Tensor output, ConvGeometry g)
    {
        var gc = input.ContiguousData();
        var wc = w.ContiguousData();
        if (output.DType == DType.Float32) Run<float>();
        else Run<double>();
        KeepAlive(gc, wc);
        if (bias is not null) output.AddInPlaceRaw(bias.Reshape(1, -1, 1, 1));

        void Run<T>() where T : unmanaged, System.Numerics.INumber<T>
        {
            fixed (T* pg = gc.Array<T>(), pw = wc.Array<T>(), po = output.Array<T>())
                ConvKernels.BackwardInput(pg + gc.Offset, pw + wc.Offset, po, g);
        }
    }

    /// <summary>
    /// Gradients of conv2d (or conv_transpose2d, which swaps the roles of the conv's input and output):
    /// dX = fold(W^T dY), dW = dY col(X)^T, db = sum dY.
    /// </summary>
    private sealed class ConvBackward : Node
    {
        private readonly ConvGeometry _g;
        private readonly bool _transposed;

        public ConvBackward(Tensor input, Tensor weight, Tensor? bias, ConvGeometry g, bool transposed)
            : base(bias is null ? [input, weight] : [input, weight, bias])
        {
            _g = g;
            _transposed = transposed;
            SaveForBackward(NeedsGrad(1) ? input : null, weight);
        }

        public override string Name => _transposed ? "ConvTranspose2dBackward" : "ConvolutionBackward";

        protected internal override Tensor?[] Backward(Tensor grad)
        {
            var g = _g;
            var gy = grad.ContiguousData();
            var w = Saved(1).ContiguousData();
            var x = NeedsGrad(1) ? Saved(0).ContiguousData() : null;
            var grads = new Tensor?[Next.Length];
            // For a transposed conv, our input is the conv's output and our output gradient the conv's input.
            if (NeedsGrad(0))
                grads[0] = _transposed ? Empty([g.Batch, g.OutChannels, g.OutH, g.OutW], gy.DType) : Empty([g.Batch, g.InChannels, g.InH, g.InW], gy.DType);
            if (NeedsGrad(1)) grads[1] = Empty((int[])w.ShapeArray.Clone(), gy.DType);
            if (gy.Numel == 0 || x?.Numel == 0)
            {
                // An empty batch (or empty maps): nothing to propagate, and the weight gradient is a sum over nothing.
                grads[0]?.FillRaw(0);
                grads[1]?.FillRaw(0);
            }
            else if (gy.DType == DType.Float32) Run<float>(gy, w, x, grads[0], grads[1]);
            else Run<double>(gy, w, x, grads[0], grads[1]);
            if (Next.Length > 2 && NeedsGrad(2)) grads[2] = gy.Sum([0, 2, 3]);
            KeepAlive(grad, gy, w, x);
            return grads;
        }

        private unsafe void Run<T>(Tensor gy, Tensor w, Tensor? x, Tensor? gx, Tensor? gw) where T : unmanaged, System.Numerics.INumber<T>
        {
            fixed (T* pgy = gy.Array<T>(), pw = w.Array<T>(), px = x?.Array<T>(), pgx = gx?.Array<T>(), pgw = gw?.Array<T>())
            {
                T* dy = pgy + gy.Offset, wt = pw + w.Offset;
                if (gx is not null)
                {
                    if (_transposed) ConvKernels.Forward<T>(dy, wt, null, pgx, _g);
                    else ConvKernels.BackwardInput(dy, wt, pgx, _g);
                }
                if (gw is not null)
                {
                    T* input = px + x!.Offset;
                    if (_transposed) ConvKernels.BackwardWeight<T>(dy, input, pgw, _g);
                    else ConvKernels.BackwardWeight<T>(input, dy, pgw, _g);
                }
            }
        }
    }
}

/// <summary>
/// The argument checks of the convolution family, in one place: the ops (which every path reaches) call them
/// with their own names, and the layers call them at construction with theirs (Conv2d, ConvTranspose2d, ...),
/// so that a bad argument fails when the layer is built and says so in the layer's terms.
/// </summary>
internal static class ConvChecks
{
    /// <summary>
    /// Stride and dilation positive, padding non-negative, groups positive. <paramref name="oneD"/> prints
    /// the 1-D form's single values (the width of the pairs) as the user gave them.
    /// </summary>
    public static void Arguments(string op, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups, bool oneD = false)
    {
        if (stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1)
            throw new ArgumentException($"{op}: stride {Text(stride, oneD)} and dilation {Text(dilation, oneD)} must be positive");
        if (padding.H < 0 || padding.W < 0) throw new ArgumentException($"{op}: padding {Text(padding, oneD)} must be non-negative");
        Groups(op, groups);
    }

    /// <summary>A positive group count.</summary>
    public static void Groups(string op, int groups)
    {
        if (groups < 1) throw new ArgumentException($"{op}: groups must be a positive integer, got {groups}");
    }

    /// <summary>A transposed convolution's output padding: non-negative and smaller than the stride or the dilation, per dim (as PyTorch).</summary>
    public static void OutputPadding(string op, (int H, int W) outputPadding, (int H, int W) stride, (int H, int W) dilation)
    {
        if (outputPadding.H < 0 || outputPadding.W < 0 || outputPadding.H >= Math.Max(stride.H, dilation.H) || outputPadding.W >= Math.Max(stride.W, dilation.W))
            throw new ArgumentException($"{op}: output padding {outputPadding} must be non-negative and smaller than either stride {stride} or dilation {dilation}");
    }

    /// <summary>A weight of <paramref name="rank"/> dims [O, C/groups, kernel...].</summary>
    public static void Weight(string op, Tensor weight, int rank)
    {
        if (weight.Rank != rank)
            throw new ArgumentException($"{op}: expected a {rank}-D weight [O, C/groups, {(rank == 3 ? "k" : "kh, kw")}], got {Shapes.Format(weight.ShapeArray)}");
    }

    /// <summary>The output size of a transposed convolution along one dim: (in - 1) stride - 2 pad + dilation (k - 1) + outputPadding + 1.</summary>
    public static int TransposedOutputSize(int input, int stride, int padding, int dilation, int kernel, int outputPadding) =>
        (input - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1;

    private static string Text((int H, int W) pair, bool oneD) =>
        oneD ? pair.W.ToString(System.Globalization.CultureInfo.InvariantCulture) : pair.ToString();
}
