using System.CommandLine;
using System.Diagnostics;

namespace DeepSharp.Cli.Commands;

/// <summary>
/// <c>deepsharp selfcheck</c>: checks this build on this machine in a few seconds. Prints what the CPU offers
/// and which kernels run, compares float32 matrix products of every transpose form and odd shape with a
/// float64 reference, and checks the gradients of matmul, convolution and an LSTM against central
/// differences. Exits 1 on any wrong result: the smoke test of a NativeAOT build (whose default instruction
/// set differs from the JIT's) and a quick answer to "does it compute correctly here?".
/// </summary>
internal static class SelfCheckCommand
{
    public static Command Create()
    {
        var mpi = new Option<bool>("--mpi") { Description = "check MPI's collectives across the processes of an MPI job instead (mpirun -np 2 deepsharp selfcheck --mpi)" };
        var command = new Command("selfcheck", "Check that the kernels and gradients compute correctly on this machine (a few seconds)") { mpi };
        command.SetAction(p => p.GetValue(mpi) ? MpiCheck.Run() : Run());
        return command;
    }

    private static int Run()
    {
        Console.WriteLine($"cpu      {Compute.CpuModel}");
        Console.WriteLine($"vectors  {Compute.InstructionSet}; kernels run at {(Compute.VectorBits == 0 ? "scalar width" : $"{Compute.VectorBits} bits")}");
        Console.WriteLine($"caches   L1d {Compute.Caches.L1DataBytes >> 10} KiB, L2 {Compute.Caches.L2Bytes >> 10} KiB, L3 {Compute.Caches.L3Bytes >> 20} MiB{(Compute.Caches.FromOperatingSystem ? "" : " (assumed: the OS did not say)")}");
        Console.WriteLine($"threads  {Compute.Threads}; runtime {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}" +
            $"{(System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "" : " (NativeAOT)")}");
        int failures = 0;
        failures += Check("float32 GEMM, 4 transpose forms x odd shapes, vs float64", CheckGemm);
        failures += Check("gradient of matmul (A^T B, A B^T, broadcast batch)", () => GradCheck(g =>
        {
            var a = Tensor.Randn([13, 5], g, DType.Float64, requiresGrad: true);
            var b = Tensor.Randn([13, 7], g, DType.Float64, requiresGrad: true);
            var c = Tensor.Randn([3, 7, 4], g, DType.Float64, requiresGrad: true);
            return ([a, b, c], t => t[0].T().MatMul(t[1]).MatMul(t[2]).Tanh().Sum());
        }));
        failures += Check("gradient of conv2d (stride 2, padding, groups)", () => GradCheck(g =>
        {
            var x = Tensor.Randn([2, 4, 7, 6], g, DType.Float64, requiresGrad: true);
            var w = Tensor.Randn([6, 2, 3, 3], g, DType.Float64, requiresGrad: true);
            var b = Tensor.Randn([6], g, DType.Float64, requiresGrad: true);
            return ([x, w, b], t => Tensor.Conv2d(t[0], t[1], t[2], stride: (2, 1), padding: (1, 1), groups: 2));
        }));
        failures += Check("gradient of an LSTM (2 layers, 5 steps)", () => GradCheck(g =>
        {
            var lstm = new DeepSharp.NN.Lstm(3, 4, numLayers: 2, dtype: DType.Float64, generator: g);
            var x = Tensor.Randn([5, 2, 3], g, DType.Float64, requiresGrad: true);
            return ([x, .. lstm.Parameters()], t => lstm.Forward(t[0]).Output);
        }));
        Console.WriteLine(failures == 0 ? "selfcheck passed" : $"selfcheck FAILED: {failures} check(s) wrong on this machine");
        return failures == 0 ? 0 : 1;
    }

    private static int Check(string name, Func<string?> check)
    {
        var clock = Stopwatch.StartNew();
        string? error;
        try
        {
            error = check();
        }
        catch (GradCheckException ex)
        {
            error = ex.Message;
        }
        Console.WriteLine($"{(error is null ? "ok  " : "FAIL")}  {name} ({clock.ElapsedMilliseconds} ms){(error is null ? "" : ": " + error)}");
        return error is null ? 0 : 1;
    }

    private static string? GradCheck(Func<Generator, (Tensor[] Inputs, Func<Tensor[], Tensor> F)> build)
    {
        var (inputs, f) = build(new Generator(7));
        DeepSharp.Autograd.GradCheck(f, inputs);
        return null;
    }

    private static string? CheckGemm()
    {
        var rng = new Random(3);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 7), (17, 2, 70), (2, 33, 65), (67, 13, 31), (40, 9, 100), (45, 70, 67), (130, 97, 260) })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            float[] a = RandomMatrix(rng, m * k), b = RandomMatrix(rng, k * n);
            // Transposed operands are views, which MatMul hands to the GEMM as transpose flags.
            var left = ta ? Tensor.From(a, k, m).T() : Tensor.From(a, m, k);
            var right = tb ? Tensor.From(b, n, k).T() : Tensor.From(b, k, n);
            float[] c = left.MatMul(right).ToArray<float>();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0, bound = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double term = (double)a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
                        sum += term;
                        bound += Math.Abs(term);
                    }
                    double tolerance = 1e-6 * (4 * Math.Sqrt(k) + 8) * bound + 1e-30;
                    if (!(Math.Abs(c[i * n + j] - sum) <= tolerance))
                        return $"{m}x{n}x{k} transA={ta} transB={tb}: C[{i},{j}] = {c[i * n + j]}, expected {sum}";
                }
        }
        return null;
    }

    private static float[] RandomMatrix(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
