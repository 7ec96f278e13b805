using System.Text;

namespace DeepSharp;

public static partial class Autograd
{
    /// <summary>
    /// Compares autograd's gradients with central differences, (f(x+eps) - f(x-eps)) / 2eps, for every
    /// element of every input that requires grad. Inputs should be float64 (float32 is too coarse for
    /// finite differences). The output may be any shape: each element is checked through a random
    /// projection g.f(x) so a single backward covers all outputs. Returns true or throws
    /// <see cref="GradCheckException"/> naming the input, the element, the analytic and the numeric value.
    /// </summary>
    public static bool GradCheck(Func<Tensor[], Tensor> func, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, ulong seed = 0)
    {
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i].RequiresGrad && inputs[i].DType != DType.Float64)
                throw new ArgumentException($"GradCheck: input {i} is {inputs[i].DType.Name()}; use float64 inputs for finite differences");
        var output = func(inputs);
        if (!output.IsFloatingPoint) throw new ArgumentException("GradCheck: the function must return a floating-point tensor");
        var projection = Tensor.Randn(output.ShapeArray, new Generator(seed), output.DType);
        var checkedInputs = inputs.Where(t => t.RequiresGrad).ToArray();
        if (checkedInputs.Length == 0) throw new ArgumentException("GradCheck: no input requires grad");
        if (!output.RequiresGrad)
            throw new GradCheckException("GradCheck: the output does not depend on any input that requires grad (no GradFn)");
        var analytic = Grad(output, checkedInputs, projection);

        for (int n = 0; n < checkedInputs.Length; n++)
        {
            var x = checkedInputs[n];
            int inputIndex = Array.IndexOf(inputs, x);
            var data = x.Array<double>();
            var positions = x.StorageIndices().ToArray();
            var analyticData = analytic[n].ContiguousData(); // kept alive below: the loop allocates while reading it
            var a = analyticData.ReadSpan<double>();
            for (int e = 0; e < positions.Length; e++)
            {
                int p = positions[e];
                double orig = data[p];
                double fPlus, fMinus;
                using (NoGrad())
                {
                    data[p] = orig + eps;
                    fPlus = Project(func(inputs), projection);
                    data[p] = orig - eps;
                    fMinus = Project(func(inputs), projection);
                    data[p] = orig;
                }
                double numeric = (fPlus - fMinus) / (2 * eps);
                double got = a[e];
                if (!(Math.Abs(got - numeric) <= atol + rtol * Math.Abs(numeric)))
                    throw new GradCheckException(
                        $"GradCheck: gradient mismatch for input {inputIndex} ({x.Describe()}) at element {e} {FormatIndex(x.ShapeArray, e)}: " +
                        $"analytic {got:R}, numeric {numeric:R} (|diff| {Math.Abs(got - numeric):G3} > atol {atol} + rtol {rtol} * |numeric|)");
            }
            Tensor.KeepAlive(analyticData);
        }
        return true;
    }

    private static double Project(Tensor output, Tensor projection)
    {
        var oc = output.ContiguousData();
        var o = oc.ReadSpan<double>();
        var p = projection.ReadSpan<double>();
        double s = 0;
        for (int i = 0; i < o.Length; i++) s += o[i] * p[i];
        Tensor.KeepAlive(output, oc);
        return s;
    }

    private static string FormatIndex(int[] shape, int flat)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 0) continue;
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        var sb = new StringBuilder("[");
        sb.Append(string.Join(", ", idx));
        return sb.Append(']').ToString();
    }
}

/// <summary>Thrown by <see cref="Autograd.GradCheck"/> when analytic and numeric gradients disagree.</summary>
public sealed class GradCheckException(string message) : Exception(message);
