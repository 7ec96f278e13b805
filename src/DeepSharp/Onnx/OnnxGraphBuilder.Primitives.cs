namespace DeepSharp.Onnx;

// Tensor operations between layer calls (residual adds, flatten, concatenation, ...), for the forwards of
// IOnnxExportable modules. Each emits the ONNX node and computes its sample with the matching DeepSharp op.
public sealed partial class OnnxGraphBuilder
{
    /// <summary>Elementwise <paramref name="a"/> + <paramref name="b"/> with broadcasting (ONNX Add).</summary>
    public OnnxValue Add(OnnxValue a, OnnxValue b) => Node("Add", [a, b], a.Sample + b.Sample);

    /// <summary>Elementwise <paramref name="a"/> - <paramref name="b"/> with broadcasting (ONNX Sub).</summary>
    public OnnxValue Sub(OnnxValue a, OnnxValue b) => Node("Sub", [a, b], a.Sample - b.Sample);

    /// <summary>Elementwise <paramref name="a"/> * <paramref name="b"/> with broadcasting (ONNX Mul).</summary>
    public OnnxValue Mul(OnnxValue a, OnnxValue b) => Node("Mul", [a, b], a.Sample * b.Sample);

    /// <summary>Elementwise <paramref name="a"/> / <paramref name="b"/> with broadcasting (ONNX Div).</summary>
    public OnnxValue Div(OnnxValue a, OnnxValue b) => Node("Div", [a, b], a.Sample / b.Sample);

    /// <summary>max(x, 0) elementwise (ONNX Relu).</summary>
    public OnnxValue Relu(OnnxValue x) => Node("Relu", [x], x.Sample.Relu());

    /// <summary>1 / (1 + e^(-x)) elementwise (ONNX Sigmoid).</summary>
    public OnnxValue Sigmoid(OnnxValue x) => Node("Sigmoid", [x], x.Sample.Sigmoid());

    /// <summary>tanh(x) elementwise (ONNX Tanh).</summary>
    public OnnxValue Tanh(OnnxValue x) => Node("Tanh", [x], x.Sample.Tanh());

    /// <summary>Softmax along <paramref name="dim"/> (ONNX Softmax with axis = dim).</summary>
    public OnnxValue Softmax(OnnxValue x, int dim) => Node("Softmax", [x], x.Sample.Softmax(dim), OnnxAttribute.Int("axis", dim));

    /// <summary>Log-softmax along <paramref name="dim"/> (ONNX LogSoftmax with axis = dim).</summary>
    public OnnxValue LogSoftmax(OnnxValue x, int dim) => Node("LogSoftmax", [x], x.Sample.LogSoftmax(dim), OnnxAttribute.Int("axis", dim));

    /// <summary>Concatenation along <paramref name="dim"/> (Tensor.Cat).</summary>
    public OnnxValue Concat(IReadOnlyList<OnnxValue> values, int dim) =>
        Node("Concat", values, Tensor.Cat(values.Select(v => v.Sample).ToArray(), dim), OnnxAttribute.Int("axis", dim));

    /// <summary>
    /// Tensor.Flatten(startDim, endDim). Dimensions before startDim are copied from the input at run time (Reshape's 0),
    /// so a batch dimension in front stays dynamic. (ONNX Flatten always gives 2-D, so only the [N, rest] case uses it.)
    /// </summary>
    public OnnxValue Flatten(OnnxValue x, int startDim = 0, int endDim = -1)
    {
        int rank = x.Rank;
        int start = startDim < 0 ? startDim + rank : startDim, end = endDim < 0 ? endDim + rank : endDim;
        var sample = x.Sample.Flatten(startDim, endDim);
        if (rank == 0 || start >= end) return ReshapeLike(x, sample, start);
        if (start == 1 && end == rank - 1) return Node("Flatten", [x], sample, OnnxAttribute.Int("axis", start));
        return ReshapeLike(x, sample, start);
    }

    /// <summary>Reshape to <paramref name="shape"/> with ONNX's conventions: 0 copies the input's size at that index, -1 is inferred.</summary>
    public OnnxValue Reshape(OnnxValue x, params long[] shape)
    {
        var target = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++) target[i] = shape[i] == 0 ? x.Shape[i] : (int)shape[i];
        return Node("Reshape", [x, Ints("shape", shape)], x.Sample.Reshape(target));
    }

    /// <summary>Reshape to the shape of <paramref name="sample"/>, the first <paramref name="copied"/> sizes taken from the input at run time.</summary>
    private OnnxValue ReshapeLike(OnnxValue x, Tensor sample, int copied)
    {
        var shape = new long[sample.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = i < copied ? 0 : sample.ShapeArray[i];
        if (copied < shape.Length && copied == 0 && shape.Length > 0) shape[0] = -1; // the batch dimension was merged: infer it
        else if (copied < shape.Length) shape[copied] = -1;
        return Node("Reshape", [x, Ints("shape", shape)], sample);
    }

    /// <summary>Permutes the dimensions as Tensor.Permute(<paramref name="perm"/>) (ONNX Transpose).</summary>
    public OnnxValue Transpose(OnnxValue x, params int[] perm) =>
        Node("Transpose", [x], x.Sample.Permute(perm), OnnxAttribute.Ints("perm", perm.Select(p => (long)p).ToArray()));

    /// <summary>Tensor.Select(dim, index): Gather with a scalar index, which removes the dimension.</summary>
    public OnnxValue Select(OnnxValue x, int dim, int index) =>
        Node("Gather", [x, Constant(Tensor.Scalar(index, DType.Int64), "index")], x.Sample.Select(dim, index), OnnxAttribute.Int("axis", dim));

    /// <summary>Inserts a dimension of size 1 at <paramref name="dim"/> (ONNX Unsqueeze).</summary>
    public OnnxValue Unsqueeze(OnnxValue x, int dim) => Node("Unsqueeze", [x, Ints("axes", dim)], x.Sample.Unsqueeze(dim));

    /// <summary>Removes dimension <paramref name="dim"/> of size 1 (ONNX Squeeze).</summary>
    public OnnxValue Squeeze(OnnxValue x, int dim) => Node("Squeeze", [x, Ints("axes", dim)], x.Sample.Squeeze(dim));

    /// <summary>Matrix product with batch broadcasting, as Tensor.MatMul (ONNX MatMul).</summary>
    public OnnxValue MatMul(OnnxValue a, OnnxValue b) => Node("MatMul", [a, b], a.Sample.MatMul(b.Sample));

    /// <summary>Splits <paramref name="x"/> along <paramref name="dim"/> into pieces of the given sizes.</summary>
    public OnnxValue[] Split(OnnxValue x, int dim, params int[] sizes) =>
        Node("Split", [x, Ints("split", sizes.Select(s => (long)s).ToArray())], x.Sample.Split(sizes, dim), OnnxAttribute.Int("axis", dim));
}
