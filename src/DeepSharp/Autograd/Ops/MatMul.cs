using DeepSharp.Kernels;

namespace DeepSharp;

// Matrix products with PyTorch semantics: matmul (1-D, 2-D, batched with broadcasting), bmm,
// outer and linear. Transposed operands are passed to the GEMM as flags, not copied.
public sealed partial class Tensor
{
    /// <summary>Matrix product with PyTorch's rules: dot for 1-D·1-D, matrix-vector, and batched with broadcast batch dims.</summary>
    public Tensor MatMul(Tensor other)
    {
        if (Rank == 0 || other.Rank == 0)
            throw new ArgumentException($"matmul: both arguments need at least one dimension, got shapes {Shapes.Format(ShapeArray)} and {Shapes.Format(other.ShapeArray)}");
        var a = Rank == 1 ? Unsqueeze(0) : this;
        var b = other.Rank == 1 ? other.Unsqueeze(-1) : other;
        var result = MatMulCore(a, b, "matmul");
        if (other.Rank == 1) result = result.Squeeze(-1);
        if (Rank == 1) result = result.Squeeze(Rank == 1 && other.Rank == 1 ? 0 : -2);
        return result;
    }

    /// <summary>Batched matrix product of two 3-D tensors with the same batch size.</summary>
    public Tensor Bmm(Tensor other)
    {
        if (Rank != 3 || other.Rank != 3 || ShapeArray[0] != other.ShapeArray[0])
            throw new ArgumentException($"bmm: expected two 3-D tensors with the same batch size, got shapes {Shapes.Format(ShapeArray)} and {Shapes.Format(other.ShapeArray)}");
        return MatMulCore(this, other, "bmm");
    }

    /// <summary>Outer product of two vectors: out[i, j] = a[i] * b[j].</summary>
    public Tensor Outer(Tensor other)
    {
        if (Rank != 1 || other.Rank != 1)
            throw new ArgumentException($"outer: expected two 1-D tensors, got shapes {Shapes.Format(ShapeArray)} and {Shapes.Format(other.ShapeArray)}");
        return Unsqueeze(1) * other.Unsqueeze(0);
    }

    /// <summary>x W^T + b for input [..., in], weight [out, in], bias [out] (PyTorch's F.linear). The bias add is fused into the GEMM.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2) throw new ArgumentException($"linear: weight must be 2-D [out, in], got shape {Shapes.Format(weight.ShapeArray)}");
        int inF = weight.ShapeArray[1], outF = weight.ShapeArray[0];
        if (input.Rank == 0 || input.ShapeArray[^1] != inF)
            throw new ArgumentException($"linear: input shape {Shapes.Format(input.ShapeArray)} does not end in the weight's in_features {inF} (weight shape {Shapes.Format(weight.ShapeArray)})");
        CheckSameDType("linear", input, weight);
        input.RequireFloat("linear");
        if (bias is not null)
        {
            CheckSameDType("linear", input, bias);
            if (bias.Rank != 1 || bias.ShapeArray[0] != outF)
                throw new ArgumentException($"linear: bias must have shape [{outF}], got {Shapes.Format(bias.ShapeArray)}");
        }
        int rows = inF == 0 ? input.Numel : input.Numel / inF;
        var x2 = input.AsMatrix(rows, inF);
        var y = Empty([rows, outF], input.DType);
        double beta = 0;
        if (bias is not null && rows > 0)
        {
            CopyElements(bias, bias._layout.BroadcastStrides(y.ShapeArray), y);
            beta = 1;
        }
        Gemm2D(x2, weight.MatrixT(), y, beta);
        var outShape = (int[])input.ShapeArray.Clone();
        outShape[^1] = outF;
        var result = y.WithLayout(Layout.Contiguous(outShape));
        bool record = bias is null ? Autograd.ShouldRecord(input, weight) : Autograd.ShouldRecord([input, weight, bias]);
        if (record) result.GradFn = new LinearBackward(input, weight, bias, x2);
        return result;
    }

    private sealed class LinearBackward : Node
    {
        private readonly int[] _inputShape;

        public LinearBackward(Tensor input, Tensor weight, Tensor? bias, Tensor x2)
            : base(bias is null ? [input, weight] : [input, weight, bias])
        {
            _inputShape = input.ShapeArray;
            SaveForBackward(NeedsGrad(1) ? x2 : null, NeedsGrad(0) ? weight : null);
        }

        public override string Name => "AddmmBackward";

        protected internal override Tensor?[] Backward(Tensor g)
        {
            int outF = g.ShapeArray[^1];
            int rows = outF == 0 ? 0 : g.Numel / outF;
            var g2 = g.AsMatrix(rows, outF);
            var grads = new Tensor?[Next.Length];
            if (NeedsGrad(0))
            {
                var w = Saved(1);
                var gx = Empty([rows, w.ShapeArray[1]], g.DType);
                Gemm2D(g2, w, gx, 0);                       // dL/dx = g W
                grads[0] = gx.Reshape(_inputShape);
            }
            if (NeedsGrad(1))
            {
                var x = Saved(0);
                var gw = Empty([outF, x.ShapeArray[1]], g.DType);
                Gemm2D(g2.MatrixT(), x, gw, 0);             // dL/dW = g^T x
                grads[1] = gw;
            }
            if (Next.Length > 2 && NeedsGrad(2)) grads[2] = g2.Sum(0);  // dL/db = sum over rows of g
            return grads;
        }
    }

    /// <summary>This tensor viewed as a [rows, cols] matrix: a free view when the leading dims merge, else a copy.</summary>
    private Tensor AsMatrix(int rows, int cols)
    {
        if (Rank == 2) return this;
        int[] shape = [rows, cols];
        return _layout.TryView(shape, out var view) ? WithLayout(view) : ContiguousData().WithLayout(Layout.Contiguous(shape));
    }

    /// <summary>The transpose of a matrix as a raw view (not recorded).</summary>
    private Tensor MatrixT() => WithLayout(_layout.Transpose(0, 1));

    /// <summary>A matrix operand as the GEMM wants it: transposed flag and leading dimension, or null when its strides need a copy.</summary>
    private static (bool Trans, int Ld)? GemmLayout(int rows, int cols, int rowStride, int colStride)
    {
        if (colStride == 1 && (rows <= 1 || rowStride >= cols)) return (false, rows <= 1 ? Math.Max(cols, 1) : rowStride);
        if (rowStride == 1 && (cols <= 1 || colStride >= rows)) return (true, cols <= 1 ? Math.Max(rows, 1) : colStride);
        return null;
    }

    /// <summary>c = a b + beta c for 2-D a [m,k], b [k,n] (any strides) into contiguous c [m,n].</summary>
    private static unsafe void Gemm2D(Tensor a, Tensor b, Tensor c, double beta)
    {
        int m = a.ShapeArray[0], k = a.ShapeArray[1], n = b.ShapeArray[1];
        var da = GemmLayout(m, k, a.StrideArray[0], a.StrideArray[1]);
        if (da is null) { a = a.ContiguousData(); da = (false, Math.Max(k, 1)); }
        var db = GemmLayout(k, n, b.StrideArray[0], b.StrideArray[1]);
        if (db is null) { b = b.ContiguousData(); db = (false, Math.Max(n, 1)); }
        int ldc = Math.Max(n, 1);
        if (c.DType == DType.Float32)
        {
            fixed (float* pa = a.Array<float>(), pb = b.Array<float>(), pc = c.Array<float>())
                Gemm.Sgemm(da.Value.Trans, db.Value.Trans, m, n, k, 1f, pa + a.Offset, da.Value.Ld, pb + b.Offset, db.Value.Ld, (float)beta, pc + c.Offset, ldc);
        }
        else
        {
            fixed (double* pa = a.Array<double>(), pb = b.Array<double>(), pc = c.Array<double>())
                Gemm.Dgemm(da.Value.Trans, db.Value.Trans, m, n, k, 1.0, pa + a.Offset, da.Value.Ld, pb + b.Offset, db.Value.Ld, beta, pc + c.Offset, ldc);
        }
        KeepAlive(a, b, c); // fixed pins the arrays, but only a live tensor keeps its storage from going back to the pool
    }

    /// <summary>[..., m, k] @ [..., k, n] with broadcast batch dims; both ranks &gt;= 2.</summary>
    private static Tensor MatMulCore(Tensor a, Tensor b, string op)
    {
        CheckSameDType(op, a, b);
        a.RequireFloat(op);
        int m = a.ShapeArray[^2], k = a.ShapeArray[^1], n = b.ShapeArray[^1];
        if (b.ShapeArray[^2] != k)
            throw new ArgumentException($"{op}: shapes {Shapes.Format(a.ShapeArray)} and {Shapes.Format(b.ShapeArray)} are not aligned ({k} != {b.ShapeArray[^2]})");
        var batch = Shapes.Broadcast(op, a.ShapeArray.AsSpan(0, a.Rank - 2), b.ShapeArray.AsSpan(0, b.Rank - 2));
        int batchCount = Shapes.Numel(batch, op);
        int[] outShape = [.. batch, m, n];
        var result = Empty(outShape, a.DType);
        if (result.Numel > 0)
        {
            if (b.Rank == 2 && a.Layout.TryView([batchCount * m, k], out var rows))
            {
                // [..., m, k] @ [k, n] folds into one 2-D GEMM over all rows.
                Gemm2D(a.WithLayout(rows), b, result.WithLayout(Layout.Contiguous([batchCount * m, n])), 0);
            }
            else
            {
                BatchedGemm(Operand(a, batch, m, k), Operand(b, batch, k, n), result, batchCount, m, n, k);
            }
        }
        if (Autograd.ShouldRecord(a, b)) result.GradFn = new MatMulBackward(a, b);
        return result;
    }

    private readonly record struct MatrixOperand(Tensor Tensor, bool Trans, int Ld, long BatchStride);

    /// <summary>Describes t broadcast to [batch..., rows, cols] as a GEMM operand, copying only when the strides do not allow it.</summary>
    private static MatrixOperand Operand(Tensor t, int[] batch, int rows, int cols)
    {
        int[] shape = [.. batch, rows, cols];
        var strides = t.Layout.BroadcastStrides(shape);
        var mat = GemmLayout(rows, cols, strides[^2], strides[^1]);
        long? bs = Layout.MergedStride(shape, strides, batch.Length);
        if (mat is null || bs is null)
        {
            var c = Materialize(t, shape);
            return new MatrixOperand(c, false, Math.Max(cols, 1), (long)rows * cols);
        }
        return new MatrixOperand(t, mat.Value.Trans, mat.Value.Ld, bs.Value);
    }

    private static unsafe void BatchedGemm(MatrixOperand a, MatrixOperand b, Tensor c, int count, int m, int n, int k)
    {
        if (c.DType == DType.Float32)
        {
            fixed (float* pa = a.Tensor.Array<float>(), pb = b.Tensor.Array<float>(), pc = c.Array<float>())
                Gemm.SgemmBatched(count, a.Trans, b.Trans, m, n, k, 1f, pa + a.Tensor.Offset, a.Ld, a.BatchStride,
                    pb + b.Tensor.Offset, b.Ld, b.BatchStride, 0f, pc, Math.Max(n, 1), (long)m * n);
        }
        else
        {
            fixed (double* pa = a.Tensor.Array<double>(), pb = b.Tensor.Array<double>(), pc = c.Array<double>())
                Gemm.DgemmBatched(count, a.Trans, b.Trans, m, n, k, 1.0, pa + a.Tensor.Offset, a.Ld, a.BatchStride,
                    pb + b.Tensor.Offset, b.Ld, b.BatchStride, 0.0, pc, Math.Max(n, 1), (long)m * n);
        }
        KeepAlive(a.Tensor, b.Tensor, c);
    }

    /// <summary>dA = g B^T, dB = A^T g, each summed over the batch dims its input was broadcast along.</summary>
    private sealed class MatMulBackward : Node
    {
        private readonly int[] _aShape, _bShape;

        public MatMulBackward(Tensor a, Tensor b) : base(a, b)
        {
            _aShape = a.ShapeArray;
            _bShape = b.ShapeArray;
            SaveForBackward(NeedsGrad(1) ? a : null, NeedsGrad(0) ? b : null);
        }

        protected internal override Tensor?[] Backward(Tensor g) =>
        [
            NeedsGrad(0) ? Autograd.SumToShape(MatMulCore(g, Saved(1).Transpose(-2, -1), "matmul"), _aShape) : null,
            NeedsGrad(1) ? Autograd.SumToShape(MatMulCore(Saved(0).Transpose(-2, -1), g, "matmul"), _bShape) : null,
        ];
    }
}
