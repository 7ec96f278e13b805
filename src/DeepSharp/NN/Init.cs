namespace DeepSharp.NN;

/// <summary>Which fan Kaiming initialisation preserves: fan_in keeps forward activations' variance, fan_out the gradients'.</summary>
public enum FanMode
{
    /// <summary>Scale by the number of inputs of a unit (mode="fan_in").</summary>
    FanIn,
    /// <summary>Scale by the number of outputs of a unit (mode="fan_out").</summary>
    FanOut,
}

/// <summary>
/// The nonlinearity that follows a layer, for <see cref="Init.CalculateGain(Nonlinearity, double?)"/> and the Kaiming
/// initialisers (torch.nn.init's nonlinearity strings).
/// </summary>
public enum Nonlinearity
{
    /// <summary>No nonlinearity ("linear"): gain 1.</summary>
    Linear,
    /// <summary>The identity ("identity"): gain 1.</summary>
    Identity,
    /// <summary>A 1-D convolution with nothing after it ("conv1d"): gain 1.</summary>
    Conv1d,
    /// <summary>A 2-D convolution with nothing after it ("conv2d"): gain 1.</summary>
    Conv2d,
    /// <summary>A 3-D convolution with nothing after it ("conv3d"): gain 1.</summary>
    Conv3d,
    /// <summary>A transposed 1-D convolution ("conv_transpose1d"): gain 1.</summary>
    ConvTranspose1d,
    /// <summary>A transposed 2-D convolution ("conv_transpose2d"): gain 1.</summary>
    ConvTranspose2d,
    /// <summary>A transposed 3-D convolution ("conv_transpose3d"): gain 1.</summary>
    ConvTranspose3d,
    /// <summary>Sigmoid ("sigmoid"): gain 1.</summary>
    Sigmoid,
    /// <summary>Tanh ("tanh"): gain 5/3.</summary>
    Tanh,
    /// <summary>ReLU ("relu"): gain sqrt(2).</summary>
    Relu,
    /// <summary>Leaky ReLU ("leaky_relu"): gain sqrt(2 / (1 + slope^2)); the Kaiming initialisers' default.</summary>
    LeakyRelu,
    /// <summary>SELU ("selu"): gain 3/4.</summary>
    Selu,
}

/// <summary>
/// Weight initialisation as torch.nn.init: each function fills a tensor in place (under NoGrad, so
/// parameters can be filled directly), draws from the given <see cref="Generator"/> (default
/// Generator.Default) and returns the tensor. Zero-element tensors are left alone.
/// </summary>
public static class Init
{
    /// <summary>Fills with zeros (init.zeros_).</summary>
    public static Tensor Zeros(Tensor tensor) => Constant(tensor, 0);

    /// <summary>Fills with ones (init.ones_).</summary>
    public static Tensor Ones(Tensor tensor) => Constant(tensor, 1);

    /// <summary>Fills with <paramref name="value"/> (init.constant_).</summary>
    public static Tensor Constant(Tensor tensor, double value)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using (Autograd.NoGrad()) tensor.Fill(value);
        return tensor;
    }

    /// <summary>U(a, b).</summary>
    public static Tensor Uniform(Tensor tensor, double a = 0, double b = 1, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!(a <= b)) throw new ArgumentException($"init.uniform_: expected a <= b, got a={a}, b={b}");
        return Fill(tensor, Tensor.Uniform(tensor.ShapeArray, a, b, generator, FloatType(tensor, "uniform_")));
    }

    /// <summary>N(mean, std^2).</summary>
    public static Tensor Normal(Tensor tensor, double mean = 0, double std = 1, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!(std >= 0)) throw new ArgumentException($"init.normal_: std must be non-negative, got {std}");
        return Fill(tensor, Tensor.Normal(tensor.ShapeArray, mean, std, generator, FloatType(tensor, "normal_")));
    }

    /// <summary>Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).</summary>
    public static Tensor XavierUniform(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        double bound = Math.Sqrt(3.0) * gain * Math.Sqrt(2.0 / (fanIn + fanOut));
        return Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor tensor, double gain = 1, Generator? generator = null)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        return Normal(tensor, 0, gain * Math.Sqrt(2.0 / (fanIn + fanOut)), generator);
    }

    /// <summary>
    /// He uniform: U(-b, b) with b = sqrt(3) * gain / sqrt(fan), gain = CalculateGain(nonlinearity, a).
    /// The defaults (a = 0, fan_in, leaky_relu) are torch's; Linear uses a = sqrt(5), which gives b = 1/sqrt(fan_in).
    /// </summary>
    public static Tensor KaimingUniform(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Numel == 0) return tensor;
        double bound = Math.Sqrt(3.0) * CalculateGain(nonlinearity, a) / Math.Sqrt(CorrectFan(tensor, mode));
        return Uniform(tensor, -bound, bound, generator);
    }

    /// <summary>He normal: N(0, std^2) with std = gain / sqrt(fan).</summary>
    public static Tensor KaimingNormal(Tensor tensor, double a = 0, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Numel == 0) return tensor;
        return Normal(tensor, 0, CalculateGain(nonlinearity, a) / Math.Sqrt(CorrectFan(tensor, mode)), generator);
    }

    /// <summary>
    /// torch.nn.init.calculate_gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    /// sqrt(2 / (1 + slope^2)) for leaky_relu (slope = <paramref name="param"/>, default 0.01), 3/4 for selu.
    /// </summary>
    public static double CalculateGain(Nonlinearity nonlinearity, double? param = null) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Identity or Nonlinearity.Conv1d or Nonlinearity.Conv2d or Nonlinearity.Conv3d
            or Nonlinearity.ConvTranspose1d or Nonlinearity.ConvTranspose2d or Nonlinearity.ConvTranspose3d or Nonlinearity.Sigmoid => 1,
        Nonlinearity.Tanh => 5.0 / 3,
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + Math.Pow(param ?? 0.01, 2))),
        Nonlinearity.Selu => 3.0 / 4,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "init.calculate_gain: unsupported nonlinearity; expected a value of the Nonlinearity enum"),
    };

    /// <summary>
    /// (fan_in, fan_out) of a weight as torch: a [out, in] matrix gives (in, out); a conv weight
    /// [out, in, k1, k2, ...] multiplies both by the receptive field k1*k2*...
    /// </summary>
    public static (int FanIn, int FanOut) CalculateFanInAndFanOut(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank < 2)
            throw new ArgumentException($"init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {Shapes.Format(tensor.ShapeArray)})");
        int receptive = 1;
        for (int i = 2; i < tensor.Rank; i++) receptive *= tensor.ShapeArray[i];
        return (tensor.ShapeArray[1] * receptive, tensor.ShapeArray[0] * receptive);
    }

    private static int CorrectFan(Tensor tensor, FanMode mode)
    {
        var (fanIn, fanOut) = CalculateFanInAndFanOut(tensor);
        return mode == FanMode.FanIn ? fanIn : fanOut;
    }

    private static DType FloatType(Tensor tensor, string op) => tensor.IsFloatingPoint ? tensor.DType
        : throw new ArgumentException($"init.{op}: expected a floating-point tensor, got {tensor.DType.Name()} {Shapes.Format(tensor.ShapeArray)}");

    private static Tensor Fill(Tensor tensor, Tensor values)
    {
        if (tensor.Numel == 0) return tensor;
        using (Autograd.NoGrad()) tensor.CopyFrom(values);
        return tensor;
    }
}
