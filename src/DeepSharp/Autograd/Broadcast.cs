namespace DeepSharp;

public static partial class Autograd
{
    /// <summary>
    /// Reduces a gradient computed in the broadcast output shape back to an input's shape: sums
    /// over the leading dims the input lacked and over dims where it had size 1. Every
    /// broadcasting op's backward goes through here.
    /// </summary>
    internal static Tensor SumToShape(Tensor grad, int[] shape)
    {
        var gs = grad.ShapeArray;
        if (gs.AsSpan().SequenceEqual(shape)) return grad;
        int lead = gs.Length - shape.Length;
        Span<int> dims = stackalloc int[gs.Length];
        int count = 0;
        for (int i = 0; i < gs.Length; i++)
            if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) dims[count++] = i;
        var reduced = count == 0 ? grad : grad.Sum(dims[..count].ToArray(), keepDim: true);
        return reduced.Reshape(shape);
    }
}
