using DeepSharp.NN;
using DeepSharp.Optim;
using Spectre.Console;

namespace DeepSharp.Cli.Examples;

/// <summary>
/// Linear regression y = w.x + b on noisy synthetic data: full-batch gradient descent on the mean
/// squared error converges to the closed-form least-squares solution of the normal equations.
/// </summary>
internal static class LinearRegression
{
    public static int Run(int seed)
    {
        const int n = 200;
        var g = new Generator((ulong)seed);
        var x = Tensor.Randn([n, 2], g, DType.Float64);
        var trueW = Tensor.From([3.0, -2.0], 2, 1);
        var y = x.MatMul(trueW) + 0.5 + Tensor.Normal([n, 1], 0, 0.1, g, DType.Float64);

        var model = new Linear(2, 1, dtype: DType.Float64, generator: g);
        var optimizer = new Sgd(model.Parameters(), new SgdOptions(Lr: 0.1));
        double loss = 0;
        for (int step = 0; step < 500; step++)
        {
            optimizer.ZeroGrad();
            var l = Functional.MseLoss(model.Call(x), y);
            l.Backward();
            optimizer.Step();
            loss = l.ToDouble();
        }

        // Closed form: minimise ||A theta - y||^2 with A = [x, 1]: theta = (A^T A)^-1 A^T y.
        var a = Tensor.Cat([x, Tensor.Ones([n, 1], DType.Float64)], 1);
        var theta = Solve(a.T().MatMul(a), a.T().MatMul(y));

        var gd = model.Weight.ToDoubleArray().Append(model.Bias!.ToDouble()).ToArray();
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]linear regression: y = 3 x1 - 2 x2 + 0.5 + noise[/]");
        table.AddColumn("parameter");
        table.AddColumn(new TableColumn("gradient descent (500 steps)").RightAligned());
        table.AddColumn(new TableColumn("closed form (normal equations)").RightAligned());
        table.AddColumn(new TableColumn("difference").RightAligned());
        string[] names = ["w1", "w2", "b"];
        double maxDiff = 0;
        for (int i = 0; i < 3; i++)
        {
            double d = Math.Abs(gd[i] - theta[i]);
            maxDiff = Math.Max(maxDiff, d);
            table.AddRow(names[i], $"{gd[i]:F6}", $"{theta[i]:F6}", $"{d:E1}");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"final MSE {loss:F6}; largest difference {maxDiff:E2} -> gradient descent [green]converged to the least-squares solution[/]");
        return maxDiff < 1e-4 ? 0 : 1;
    }

    /// <summary>Gaussian elimination with partial pivoting for the small normal-equation system.</summary>
    private static double[] Solve(Tensor m, Tensor rhs)
    {
        int n = m.Size(0);
        var a = m.ToDoubleArray();
        var b = rhs.ToDoubleArray();
        for (int col = 0; col < n; col++)
        {
            int pivot = Enumerable.Range(col, n - col).MaxBy(r => Math.Abs(a[r * n + col]));
            for (int k = 0; k < n; k++) (a[col * n + k], a[pivot * n + k]) = (a[pivot * n + k], a[col * n + k]);
            (b[col], b[pivot]) = (b[pivot], b[col]);
            for (int r = col + 1; r < n; r++)
            {
                double f = a[r * n + col] / a[col * n + col];
                for (int k = col; k < n; k++) a[r * n + k] -= f * a[col * n + k];
                b[r] -= f * b[col];
            }
        }
        var xs = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double s = b[r];
            for (int k = r + 1; k < n; k++) s -= a[r * n + k] * xs[k];
            xs[r] = s / a[r * n + r];
        }
        return xs;
    }
}
