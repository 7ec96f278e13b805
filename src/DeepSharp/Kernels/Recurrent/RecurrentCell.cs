namespace DeepSharp.Kernels;

/// <summary>The recurrent cell types, with PyTorch's gate order.</summary>
internal enum RecurrentCell
{
    /// <summary>h' = tanh(W_ih x + b_ih + W_hh h + b_hh).</summary>
    RnnTanh,

    /// <summary>h' = relu(W_ih x + b_ih + W_hh h + b_hh).</summary>
    RnnRelu,

    /// <summary>Gates i, f, g, o: c' = f c + i g, h' = o tanh(c').</summary>
    Lstm,

    /// <summary>Gates r, z, n: n = tanh(x_n + r (W_hn h + b_hn)), h' = (1 - z) n + z h.</summary>
    Gru,
}

internal static class RecurrentCellExtensions
{
    /// <summary>Rows of W_ih per hidden unit: 1, 4 or 3.</summary>
    public static int Gates(this RecurrentCell cell) => cell switch
    {
        RecurrentCell.Lstm => 4,
        RecurrentCell.Gru => 3,
        _ => 1,
    };
}
