using System.Net;
using System.Net.Sockets;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Cli;

public sealed class DashboardCliTests
{
    private static CliResult Train(TempDir dir, params string[] extra)
    {
        var csv = CliProcess.WriteTinyCsv(dir.Path);
        return CliProcess.Run(dir.Path, ["train", "--model", "mlp", "--data", "csv:" + csv, "--batch-size", "16", "--epochs", "1", "--out", dir.File("run"), .. extra]);
    }

    [Fact]
    public void TrainWithDashboardServesOnLoopbackAndEndsWithTheRunInAScript()
    {
        using var dir = new TempDir();
        var r = Train(dir, "--dashboard", "0");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"dashboard: http://127\.0\.0\.1:\d+/", r.Stdout);
        Assert.DoesNotContain("stays open", r.Stdout, StringComparison.Ordinal); // not a terminal: no waiting for Enter
    }

    [Fact]
    public void ABadBindAddressOrABindWithoutDashboardIsAOneLineError()
    {
        using var dir = new TempDir();
        var bad = Train(dir, "--dashboard", "0", "--dashboard-bind", "nowhere");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--dashboard-bind: 'nowhere' is not an IP address", bad.Stderr, StringComparison.Ordinal);
        var alone = Train(dir, "--dashboard-bind", "0.0.0.0");
        Assert.NotEqual(0, alone.ExitCode);
        Assert.Contains("--dashboard-bind applies to --dashboard", alone.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.File("run")));
    }

    [Fact]
    public void APortInUseIsAClearError()
    {
        using var dir = new TempDir();
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var r = Train(dir, "--dashboard", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"--dashboard: cannot listen on 127.0.0.1:{port}", r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }
}
