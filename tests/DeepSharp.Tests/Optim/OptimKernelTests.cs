using System.Numerics;
using DeepSharp.Kernels.Optim;

namespace DeepSharp.Tests.Optim;

/// <summary>
/// The fused update kernels against scalar references written as PyTorch's op sequence in double,
/// at every vector width this machine runs, for every length 0..67 (whole vectors of every width and
/// every tail) and 300, float32 and float64, every flag combination; and the vector paths against the
/// one-element path bit for bit.
/// </summary>
public sealed class OptimKernelTests
{
    private const int MaxLength = 300;

    // Stream initialisers: parameters and gradients ~ N(0,1); averages of squares are positive.
    private static readonly Func<Random, double> Normal = r => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
    private static readonly Func<Random, double> Positive = r => 0.5 + r.NextDouble();
    private static readonly Func<Random, double> Small = r => 0.2 * r.NextDouble() - 0.1;

    /// <summary>A kernel over streams [param, grad, state...] and its double reference for one element.</summary>
    private delegate void Kernel<T>(Streams<T> s) where T : unmanaged;

    /// <summary>The same window [start, start + length) of every stream.</summary>
    private sealed class Streams<T>(T[][] arrays, int start, int length)
    {
        public Span<T> this[int k] => arrays[k].AsSpan(start, length);
    }

    private delegate void Reference(double[] e);

    [Fact]
    public void Adam()
    {
        foreach (bool decoupled in new[] { false, true })
            foreach (bool amsgrad in new[] { false, true })
                foreach (bool maximize in new[] { false, true })
                    foreach (double wd in new[] { 0.0, 0.1 })
                    {
                        const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, step = 3;
                        void K<T>(Streams<T> s) where T : unmanaged, IFloatingPointIeee754<T> =>
                            AdamKernel.Step(s[0], s[1], s[2], s[3], amsgrad ? s[4] : default, step, lr, b1, b2, eps, wd, decoupled, amsgrad, maximize);
                        void R(double[] e)
                        {
                            double g = maximize ? -e[1] : e[1];
                            if (!decoupled) g += wd * e[0];
                            else e[0] *= 1 - lr * wd;
                            e[2] = e[2] * b1 + (1 - b1) * g;
                            e[3] = e[3] * b2 + (1 - b2) * g * g;
                            double v = e[3];
                            if (amsgrad) v = e[4] = Math.Max(e[4], e[3]);
                            double denom = Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(b2, step)) + eps;
                            e[0] -= lr / (1 - Math.Pow(b1, step)) * e[2] / denom;
                        }
                        Check($"adam decoupled={decoupled} amsgrad={amsgrad} maximize={maximize} wd={wd}", K<float>, K<double>, R, Normal, Normal, Normal, Positive, Positive);
                    }
    }

    [Fact]
    public void Sgd()
    {
        foreach (double momentum in new[] { 0.0, 0.9 })
            foreach (bool nesterov in new[] { false, true })
                foreach (double dampening in new[] { 0.0, 0.3 })
                    foreach (bool first in new[] { false, true })
                        foreach (bool maximize in new[] { false, true })
                            foreach (double wd in new[] { 0.0, 0.1 })
                            {
                                if (nesterov && (momentum == 0 || dampening != 0)) continue;
                                const double lr = 0.05;
                                void K<T>(Streams<T> s) where T : unmanaged, IFloatingPointIeee754<T> =>
                                    SgdKernel.Step(s[0], s[1], momentum != 0 ? s[2] : default, lr, momentum, dampening, wd, nesterov, maximize, first);
                                void R(double[] e)
                                {
                                    double d = maximize ? -e[1] : e[1];
                                    d += wd * e[0];
                                    if (momentum != 0)
                                    {
                                        e[2] = first ? d : e[2] * momentum + (1 - dampening) * d;
                                        d = nesterov ? d + momentum * e[2] : e[2];
                                    }
                                    e[0] -= lr * d;
                                }
                                Check($"sgd momentum={momentum} nesterov={nesterov} dampening={dampening} first={first} maximize={maximize} wd={wd}",
                                    K<float>, K<double>, R, Normal, Normal, Normal);
                            }
    }

    [Fact]
    public void Adagrad()
    {
        foreach (bool maximize in new[] { false, true })
            foreach (double wd in new[] { 0.0, 0.1 })
                foreach (double lrDecay in new[] { 0.0, 0.05 })
                {
                    const double lr = 0.1, eps = 1e-10, step = 4;
                    void K<T>(Streams<T> s) where T : unmanaged, IFloatingPointIeee754<T> =>
                        AdagradKernel.Step(s[0], s[1], s[2], step, lr, lrDecay, wd, eps, maximize);
                    void R(double[] e)
                    {
                        double g = (maximize ? -e[1] : e[1]) + wd * e[0];
                        e[2] += g * g;
                        e[0] -= lr / (1 + (step - 1) * lrDecay) * g / (Math.Sqrt(e[2]) + eps);
                    }
                    Check($"adagrad maximize={maximize} wd={wd} lrDecay={lrDecay}", K<float>, K<double>, R, Normal, Normal, Positive);
                }
    }

    [Fact]
    public void RmsProp()
    {
        foreach (bool centered in new[] { false, true })
            foreach (double momentum in new[] { 0.0, 0.5 })
                foreach (bool maximize in new[] { false, true })
                    foreach (double wd in new[] { 0.0, 0.1 })
                    {
                        const double lr = 0.01, alpha = 0.9, eps = 1e-6;
                        void K<T>(Streams<T> s) where T : unmanaged, IFloatingPointIeee754<T> =>
                            RmsPropKernel.Step(s[0], s[1], s[2], centered ? s[3] : default, momentum > 0 ? s[4] : default, lr, alpha, eps, wd, momentum, centered, maximize);
                        void R(double[] e)
                        {
                            double g = (maximize ? -e[1] : e[1]) + wd * e[0];
                            e[2] = e[2] * alpha + (1 - alpha) * g * g;
                            double avg;
                            if (centered)
                            {
                                e[3] = e[3] * alpha + (1 - alpha) * g;
                                avg = Math.Sqrt(e[2] - e[3] * e[3]) + eps;
                            }
                            else
                            {
                                avg = Math.Sqrt(e[2]) + eps;
                            }
                            if (momentum > 0)
                            {
                                e[4] = e[4] * momentum + g / avg;
                                e[0] -= lr * e[4];
                            }
                            else
                            {
                                e[0] -= lr * g / avg;
                            }
                        }
                        Check($"rmsprop centered={centered} momentum={momentum} maximize={maximize} wd={wd}", K<float>, K<double>, R, Normal, Normal, Positive, Small, Normal);
                    }
    }

    [Fact]
    public void Adadelta()
    {
        foreach (bool maximize in new[] { false, true })
            foreach (double wd in new[] { 0.0, 0.1 })
            {
                const double lr = 1.0, rho = 0.9, eps = 1e-6;
                void K<T>(Streams<T> s) where T : unmanaged, IFloatingPointIeee754<T> =>
                    AdadeltaKernel.Step(s[0], s[1], s[2], s[3], lr, rho, eps, wd, maximize);
                void R(double[] e)
                {
                    double g = (maximize ? -e[1] : e[1]) + wd * e[0];
                    e[2] = e[2] * rho + (1 - rho) * g * g;
                    double delta = Math.Sqrt(e[3] + eps) / Math.Sqrt(e[2] + eps) * g;
                    e[3] = e[3] * rho + (1 - rho) * delta * delta;
                    e[0] -= lr * delta;
                }
                Check($"adadelta maximize={maximize} wd={wd}", K<float>, K<double>, R, Normal, Normal, Positive, Positive);
            }
    }

    // Decaying state that would become subnormal is stored as zero at every width (a subnormal multiply costs
    // about 100x on Intel cores, and SGD momentum or Adam's moments of a parameter with zero gradient pass
    // through that range); normal values are untouched.
    [Fact]
    public void SubnormalOptimizerStateIsFlushedToZero() => DeepSharp.Tests.Kernels.KernelCases.AtEveryWidth(_ =>
    {
        const int n = 37;
        var p = Enumerable.Repeat(0.5f, n).ToArray();
        var g = new float[n];
        var buf = Enumerable.Range(0, n).Select(i => i % 2 == 0 ? 1.2e-38f : 1e-30f).ToArray();
        SgdKernel.Step<float>(p, g, buf, 0.1, 0.9, 0, 0, false, false, false);
        for (int i = 0; i < n; i++)
            Assert.Equal(i % 2 == 0 ? 0f : 0.9f * 1e-30f, buf[i]);
        var m = Enumerable.Repeat(1.1e-38f, n).ToArray();
        var v = Enumerable.Repeat(1e-39f, n).ToArray();
        AdamKernel.Step<float>(p, g, m, v, default, 2, 1e-3, 0.9, 0.999, 1e-8, 0, false, false, false);
        Assert.All(m, x => Assert.Equal(0f, x));
        Assert.All(v, x => Assert.Equal(0f, x));
        Assert.All(p, x => Assert.Equal(0.5f, x));
    });

    [Fact]
    public void ClipKernels() => DeepSharp.Tests.Kernels.KernelCases.ForEachWidthAndLength(n =>
    {
        var rng = new Random(n);
        var d = Enumerable.Range(0, n).Select(_ => Normal(rng) * 3).ToArray();
        var f = d.Select(v => (float)v).ToArray();
        Assert.Equal(f.Sum(v => (double)v * v), ClipKernel.SumOfSquares<float>(f), 1e-9);
        Assert.Equal(d.Sum(v => v * v), ClipKernel.SumOfSquares<double>(d), 1e-9);
        Assert.Equal(n == 0 ? 0 : f.Max(v => Math.Abs((double)v)), ClipKernel.MaxAbs<float>(f));
        Assert.Equal(n == 0 ? 0 : d.Max(Math.Abs), ClipKernel.MaxAbs<double>(d));
        Assert.Equal(d.Sum(v => Math.Pow(Math.Abs(v), 3)), ClipKernel.SumOfPowers<double>(d, 3), 1e-9);

        var scaled = f.ToArray();
        ClipKernel.Scale<float>(scaled, 0.25f);
        Assert.Equal(f.Select(v => v * 0.25f).ToArray(), scaled);
        var clamped = d.ToArray();
        ClipKernel.Clamp<double>(clamped, -1, 1.5);
        Assert.Equal(d.Select(v => Math.Clamp(v, -1, 1.5)).ToArray(), clamped);
        if (n > 0)
        {
            // NaN anywhere (also in a vector lane) propagates, as torch.max and clamp do.
            var withNaN = f.ToArray();
            withNaN[n / 2] = float.NaN;
            Assert.True(double.IsNaN(ClipKernel.MaxAbs<float>(withNaN)));
            ClipKernel.Clamp<float>(withNaN, -1, 1);
            Assert.True(float.IsNaN(withNaN[n / 2]));
        }
    });

    [Fact]
    public void LengthMismatchIsAnError()
    {
        Assert.Throws<ArgumentException>(() => AdamKernel.Step<float>(new float[4], new float[3], new float[4], new float[4], default, 1, 0.1, 0.9, 0.999, 1e-8, 0, false, false, false));
        Assert.Throws<ArgumentException>(() => SgdKernel.Step<float>(new float[4], new float[4], new float[2], 0.1, 0.9, 0, 0, false, false, false));
        Assert.Throws<ArgumentException>(() => AdamKernel.Step<float>(new float[4], new float[4], new float[4], new float[4], default, 1, 0.1, 0.9, 0.999, 1e-8, 0, false, true, false));
    }

    /// <summary>
    /// Runs the kernel over every length in float32 and float64 and compares with the reference;
    /// also runs it element by element (the one-element path) and requires identical bits.
    /// </summary>
    private static void Check(string name, Kernel<float> kernel32, Kernel<double> kernel64, Reference reference, params Func<Random, double>[] init)
    {
        DeepSharp.Tests.Kernels.KernelCases.AtEveryWidth(width =>
        {
            foreach (int n in DeepSharp.Tests.Kernels.KernelCases.Lengths)
            {
                var rng = new Random(n * 31 + name.Length);
                var streams = init.Select(f => Enumerable.Range(0, n).Select(_ => f(rng)).ToArray()).ToArray();
                Run($"{name} at {width} bits", n, streams, kernel32, reference, rtol: 2e-5, atol: 1e-6);
                Run($"{name} at {width} bits", n, streams, kernel64, reference, rtol: 1e-12, atol: 1e-14);
            }
        });
    }

    private static void Run<T>(string name, int n, double[][] streams, Kernel<T> kernel, Reference reference, double rtol, double atol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var data = streams.Select(s => s.Select(T.CreateTruncating).ToArray()).ToArray();
        var single = data.Select(s => s.ToArray()).ToArray();
        kernel(new Streams<T>(data, 0, n));
        bool bitwise = n == MaxLength; // once is enough to cover every lane of every width
        if (bitwise)
            for (int i = 0; i < n; i++) kernel(new Streams<T>(single, i, 1));

        var element = new double[streams.Length];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < streams.Length; k++) element[k] = double.CreateTruncating(T.CreateTruncating(streams[k][i]));
            reference(element);
            for (int k = 0; k < streams.Length; k++)
            {
                if (k == 1) continue; // the gradient is read-only
                double got = double.CreateTruncating(data[k][i]);
                if (!(Math.Abs(got - element[k]) <= atol + rtol * Math.Abs(element[k])))
                    Assert.Fail($"{name} {typeof(T).Name} n={n}: stream {k}[{i}] is {got:R}, reference {element[k]:R}");
                if (bitwise && !data[k][i].Equals(single[k][i]))
                    Assert.Fail($"{name} {typeof(T).Name} n={n}: stream {k}[{i}] differs between the vector and the scalar path");
            }
        }
    }
}
