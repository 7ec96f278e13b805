using System.Diagnostics;
using System.Text.RegularExpressions;
using DeepSharp.Data;
using DeepSharp.Insight;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Insight;

/// <summary>
/// Opens the report in headless Chromium (Debian package "chromium"; CI installs it): the page must
/// render every section without console errors, with all images decoded, and a screenshot must be saved.
/// Set DEEPSHARP_CHROMIUM to use another browser binary.
/// </summary>
[Collection("WorkerPool")]
public sealed partial class ChromiumTests
{
    [GeneratedRegex("<div id=\"render-marker\"([^>]*)>(.*?)</div>")]
    private static partial Regex MarkerPattern();

    private static string Attribute(string attributes, string name) =>
        Regex.Match(attributes, $"{name}=\"([^\"]*)\"") is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"no {name} in {attributes}");

    internal static string Browser()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("DEEPSHARP_CHROMIUM") is { Length: > 0 } configured) candidates.Add(configured);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome" })
                candidates.Add(Path.Combine(dir, name));
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("headless Chromium is required for the report test: apt-get install -y chromium (or set DEEPSHARP_CHROMIUM)");
    }

    private static (int Exit, string Stdout, string Stderr) Run(string browser, string profile, params string[] args)
    {
        var psi = new ProcessStartInfo(browser) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", $"--user-data-dir={profile}" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{browser} did not finish within 120 s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void TheReportRendersInHeadlessChromiumWithoutConsoleErrors()
    {
        string browser = Browser();
        using var dir = new TempDir();
        var report = RunReport.Write(dir.Path, ReportFixture.Data);
        var url = new Uri(report).AbsoluteUri;

        // One run does both: the screenshot, and the DOM after load with the console on stderr, where the
        // inline script has reported what rendered (Chromium's start-up dominates, so one run, not two).
        var shot = dir.File("report.png");
        var (exit, dom, log) = Run(browser, dir.File("profile"), "--enable-logging=stderr", "--v=0", $"--screenshot={shot}",
            "--window-size=1280,4000", "--hide-scrollbars", "--dump-dom", url);

        Assert.True(File.Exists(shot), $"no screenshot (exit {exit}): {log}");
        var png = Image.Decode(File.ReadAllBytes(shot));
        Assert.Equal((1280, 4000), (png.Width, png.Height));
        Assert.True(png.Pixels.Distinct().Count() > 50, "the screenshot is blank");

        var marker = MarkerPattern().Match(dom);
        Assert.True(marker.Success, $"render marker not found in the DOM; stderr: {log}");
        string attributes = marker.Groups[1].Value;
        Assert.Contains("hidden", attributes, StringComparison.Ordinal);
        Assert.Equal("", marker.Groups[2].Value); // nothing visible: no debug line on the page
        Assert.Equal(RunReport.SectionIds, Attribute(attributes, "data-rendered").Split(','));
        Assert.True(int.Parse(Attribute(attributes, "data-images"), System.Globalization.CultureInfo.InvariantCulture) >= 15);
        Assert.Equal("0", Attribute(attributes, "data-broken"));
        var console = log.Split('\n').Where(l => l.Contains("CONSOLE", StringComparison.Ordinal)).ToList();
        Assert.Contains(console, l => l.Contains("deepsharp-report rendered:", StringComparison.Ordinal));
        Assert.DoesNotContain(console, l => l.Contains("Uncaught", StringComparison.Ordinal) || l.Contains(":ERROR:CONSOLE", StringComparison.Ordinal)
            || l.Contains("Error", StringComparison.Ordinal));
    }
}
