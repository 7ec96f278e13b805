namespace DeepSharp;

/// <summary>How <see cref="Tensor.Gelu(GeluApproximation)"/> computes the normal CDF Phi(x) in x Phi(x) (PyTorch's approximate argument).</summary>
public enum GeluApproximation
{
    /// <summary>The exact CDF, 0.5 (1 + erf(x / sqrt 2)) (approximate="none").</summary>
    None,
    /// <summary>The tanh approximation 0.5 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate="tanh"; GPT-2's GELU).</summary>
    Tanh,
}

/// <summary>Conversions between <see cref="GeluApproximation"/> and PyTorch's and ONNX's strings, for file formats.</summary>
internal static class GeluApproximationNames
{
    /// <summary>"none" or "tanh", as PyTorch and ONNX write it.</summary>
    public static string ToName(this GeluApproximation approximate) => approximate switch
    {
        GeluApproximation.None => "none",
        GeluApproximation.Tanh => "tanh",
        _ => throw Unknown("gelu", approximate),
    };

    /// <summary>Parses PyTorch's and ONNX's "none" or "tanh".</summary>
    public static GeluApproximation Parse(string name, string where) => name switch
    {
        "none" => GeluApproximation.None,
        "tanh" => GeluApproximation.Tanh,
        _ => throw new ArgumentException($"{where}: approximate must be \"none\" or \"tanh\", got \"{name}\""),
    };

    /// <summary>The error for an enum value outside the defined ones (a cast from an int).</summary>
    public static ArgumentOutOfRangeException Unknown(string op, GeluApproximation approximate) =>
        new(nameof(approximate), approximate, $"{op}: approximate must be GeluApproximation.None or GeluApproximation.Tanh");
}
