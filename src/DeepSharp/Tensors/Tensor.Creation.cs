namespace DeepSharp;

public sealed partial class Tensor
{
    // ---- from data ----

    /// <summary>A tensor holding a copy of <paramref name="data"/> (row-major) with the given shape (default: 1-D).</summary>
    public static Tensor From<T>(T[] data, params int[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape.Length == 0 ? [data.Length] : (int[])shape.Clone();
        int n = Shapes.Numel(shape, "From");
        if (n != data.Length)
            throw new ArgumentException($"From: shape {Shapes.Format(shape)} needs {n} elements but {data.Length} were given");
        var t = Empty(shape, DTypeExtensions.Of<T>());
        data.AsSpan().CopyTo(t.Span<T>());
        return t;
    }

    /// <summary>A float32 tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor From(float[] data, params int[] shape) => From<float>(data, shape);
    /// <summary>A float64 tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor From(double[] data, params int[] shape) => From<double>(data, shape);
    /// <summary>An int64 tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor From(long[] data, params int[] shape) => From<long>(data, shape);
    /// <summary>An int64 tensor holding <paramref name="data"/> widened to long, with the given shape (default: 1-D).</summary>
    public static Tensor From(int[] data, params int[] shape) => From<long>(System.Array.ConvertAll(data, x => (long)x), shape);
    /// <summary>A bool tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static Tensor From(bool[] data, params int[] shape) => From<bool>(data, shape);

    /// <summary>A float32 tensor of shape [rows, cols] copied from a 2-D array.</summary>
    public static Tensor From(float[,] data) => FromMulti<float>(data);
    /// <summary>A float32 tensor of rank 3 copied from a 3-D array (same shape).</summary>
    public static Tensor From(float[,,] data) => FromMulti<float>(data);
    /// <summary>A float32 tensor of rank 4 copied from a 4-D array (same shape).</summary>
    public static Tensor From(float[,,,] data) => FromMulti<float>(data);
    /// <summary>A float64 tensor of shape [rows, cols] copied from a 2-D array.</summary>
    public static Tensor From(double[,] data) => FromMulti<double>(data);
    /// <summary>A float64 tensor of rank 3 copied from a 3-D array (same shape).</summary>
    public static Tensor From(double[,,] data) => FromMulti<double>(data);
    /// <summary>An int64 tensor of shape [rows, cols] copied from a 2-D array.</summary>
    public static Tensor From(long[,] data) => FromMulti<long>(data);

    private static Tensor FromMulti<T>(Array data) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = new int[data.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = data.GetLength(i);
        var t = Empty(shape, DTypeExtensions.Of<T>());
        var dst = t.Span<T>();
        int k = 0;
        foreach (T v in data) dst[k++] = v; // multi-dim arrays enumerate in row-major order
        return t;
    }

    /// <summary>A rank-0 tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Full(Shapes.Scalar, value, dtype, requiresGrad);

    // ---- constant fills ----

    /// <summary>A float32 tensor of zeros (torch.zeros).</summary>
    public static Tensor Zeros(params int[] shape) => Zeros(shape, DType.Float32);

    /// <summary>A tensor of zeros of the given dtype, optionally a leaf that requires grad.</summary>
    public static Tensor Zeros(int[] shape, DType dtype, bool requiresGrad = false)
    {
        var t = Empty((int[])shape.Clone(), dtype, zeroed: true);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>A float32 tensor of ones (torch.ones).</summary>
    public static Tensor Ones(params int[] shape) => Full(shape, 1.0, DType.Float32);

    /// <summary>A tensor of ones of the given dtype, optionally a leaf that requires grad.</summary>
    public static Tensor Ones(int[] shape, DType dtype, bool requiresGrad = false) => Full(shape, 1.0, dtype, requiresGrad);

    /// <summary>A tensor with every element set to <paramref name="value"/> (torch.full).</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        var t = Empty((int[])shape.Clone(), dtype);
        t.FillRaw(value);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Zeros with the shape and dtype of <paramref name="t"/> (not requiring grad).</summary>
    public static Tensor ZerosLike(Tensor t) => Zeros(t.ShapeArray, t.DType);
    /// <summary>Ones with the shape and dtype of <paramref name="t"/> (not requiring grad).</summary>
    public static Tensor OnesLike(Tensor t) => Ones(t.ShapeArray, t.DType);
    /// <summary><paramref name="value"/> everywhere, with the shape and dtype of <paramref name="t"/> (not requiring grad).</summary>
    public static Tensor FullLike(Tensor t, double value) => Full(t.ShapeArray, value, t.DType);

    /// <summary>Fills every element of a contiguous tensor (no version bump, no autograd checks).</summary>
    internal void FillRaw(double value)
    {
        switch (DType)
        {
            case DType.Float32: Span<float>().Fill((float)value); break;
            case DType.Float64: Span<double>().Fill(value); break;
            case DType.Int64: Span<long>().Fill(checked((long)value)); break;
            default: Span<bool>().Fill(value != 0); break;
        }
    }

    /// <summary>Identity matrix of n rows and m (default n) columns.</summary>
    public static Tensor Eye(int n, int? m = null, DType dtype = DType.Float32)
    {
        int cols = m ?? n;
        var t = Zeros([n, cols], dtype);
        for (int i = 0; i < Math.Min(n, cols); i++) t.SetRaw(i * cols + i, 1.0);
        return t;
    }

    internal void SetRaw(int storageIndex, double value)
    {
        switch (DType)
        {
            case DType.Float32: Array<float>()[storageIndex] = (float)value; break;
            case DType.Float64: Array<double>()[storageIndex] = value; break;
            case DType.Int64: Array<long>()[storageIndex] = (long)value; break;
            default: Array<bool>()[storageIndex] = value != 0; break;
        }
    }

    /// <summary>Values start, start+step, ... below end (int64 when all arguments are integral and no dtype is given).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType? dtype = null)
    {
        if (step == 0) throw new ArgumentException("arange: step must be nonzero");
        if (double.IsNaN(start) || double.IsNaN(end) || double.IsInfinity(start) || double.IsInfinity(end))
            throw new ArgumentException($"arange: start and end must be finite, got {start} and {end}");
        double count = Math.Ceiling((end - start) / step);
        if (count > int.MaxValue) throw new ArgumentException($"arange: {count} elements is too many");
        int n = Math.Max(0, (int)count);
        var dt = dtype ?? (IsIntegral(start) && IsIntegral(end) && IsIntegral(step) ? DType.Int64 : DType.Float32);
        var t = Empty([n], dt);
        for (int i = 0; i < n; i++) t.SetRaw(i, start + i * step);
        return t;
    }

    /// <summary>Values 0, 1, ... below <paramref name="end"/>; int64 when end is integral, else float32.</summary>
    public static Tensor Arange(double end) => Arange(0, end);

    private static bool IsIntegral(double v) => v == Math.Floor(v);

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, int steps, DType dtype = DType.Float32)
    {
        if (steps < 0) throw new ArgumentException($"linspace: number of steps must be non-negative, got {steps}");
        var t = Empty([steps], dtype);
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        int half = steps / 2;
        // Fill from both ends, as PyTorch does, so the last value is exactly `end`.
        for (int i = 0; i < steps; i++)
            t.SetRaw(i, i < half ? start + step * i : end - step * (steps - 1 - i));
        return t;
    }

    // ---- random ----

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(int[] shape, Generator? generator = null, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Uniform(shape, 0, 1, generator, dtype, requiresGrad);

    /// <summary>Float32 samples uniform in [0, 1) from the default generator (torch.rand).</summary>
    public static Tensor Rand(params int[] shape) => Rand(shape, null);

    /// <summary>Samples uniform in [<paramref name="low"/>, <paramref name="high"/>) from <paramref name="generator"/> (default: <see cref="Generator.Default"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not float32 or float64.</exception>
    public static Tensor Uniform(int[] shape, double low, double high, Generator? generator = null, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        var t = Empty((int[])shape.Clone(), RequireFloat(dtype, "rand"));
        var g = generator ?? Generator.Default;
        if (dtype == DType.Float32) g.FillUniform(t.Span<float>(), low, high);
        else g.FillUniform(t.Span<double>(), low, high);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>Standard normal samples.</summary>
    public static Tensor Randn(int[] shape, Generator? generator = null, DType dtype = DType.Float32, bool requiresGrad = false) =>
        Normal(shape, 0, 1, generator, dtype, requiresGrad);

    /// <summary>Float32 standard normal samples from the default generator (torch.randn).</summary>
    public static Tensor Randn(params int[] shape) => Randn(shape, null);

    /// <summary>Normal samples with the given mean and standard deviation from <paramref name="generator"/> (default: <see cref="Generator.Default"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not float32 or float64.</exception>
    public static Tensor Normal(int[] shape, double mean, double std, Generator? generator = null, DType dtype = DType.Float32, bool requiresGrad = false)
    {
        var t = Empty((int[])shape.Clone(), RequireFloat(dtype, "randn"));
        var g = generator ?? Generator.Default;
        if (dtype == DType.Float32) g.FillNormal(t.Span<float>(), mean, std);
        else g.FillNormal(t.Span<double>(), mean, std);
        t.RequiresGrad = requiresGrad;
        return t;
    }

    /// <summary>int64 samples uniform in [low, high).</summary>
    public static Tensor Randint(long low, long high, int[] shape, Generator? generator = null)
    {
        var t = Empty((int[])shape.Clone(), DType.Int64);
        (generator ?? Generator.Default).FillInt(t.Span<long>(), low, high);
        return t;
    }

    /// <summary>A random permutation of 0..n-1 as int64.</summary>
    public static Tensor Randperm(int n, Generator? generator = null) =>
        From((generator ?? Generator.Default).Permutation(n));

    private static DType RequireFloat(DType dtype, string op) =>
        dtype.IsFloatingPoint() ? dtype : throw new ArgumentException($"{op}: dtype must be float32 or float64, got {dtype.Name()}");
}
