using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DeepSharp.Tests.Dashboard;

/// <summary>
/// One page of headless Chromium driven over the DevTools protocol (JSON over a WebSocket): navigate, evaluate
/// JavaScript, take screenshots, and collect every console error, uncaught exception and failed load as it happens.
/// </summary>
internal sealed partial class DevToolsPage : IDisposable
{
    private readonly Process _browser;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonNode?>> _calls = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiver;
    private int _nextId;

    private DevToolsPage(Process browser) => _browser = browser;

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex ListeningPattern();

    /// <summary>Console errors, uncaught exceptions and failed loads seen so far.</summary>
    public IReadOnlyList<string> Errors => [.. _errors];

    public static async Task<DevToolsPage> OpenAsync(string browser, string profile, int width = 1400, int height = 1100)
    {
        var psi = new ProcessStartInfo(browser) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars", $"--window-size={width},{height}", "--remote-debugging-port=0",
                     $"--user-data-dir={profile}", "about:blank" })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var page = new DevToolsPage(process);
        try
        {
            _ = process.StandardOutput.ReadToEndAsync();
            var stderr = new StringBuilder();
            string? browserSocket = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (browserSocket is null)
            {
                var line = await process.StandardError.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException($"{browser} exited before DevTools listened: {stderr}");
                stderr.AppendLine(line);
                if (ListeningPattern().Match(line) is { Success: true } m) browserSocket = m.Groups[1].Value;
            }
            _ = Task.Run(async () => { while (await process.StandardError.ReadLineAsync() is not null) { } }); // keep the pipe drained
            var port = new Uri(browserSocket).Port;
            using var http = new HttpClient();
            var targets = JsonNode.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/json/list")))!.AsArray();
            var pageSocket = targets.First(t => Text(t?["type"]) == "page")!["webSocketDebuggerUrl"]!.GetValue<string>();
            await page._socket.ConnectAsync(new Uri(pageSocket), timeout.Token);
            page._receiver = Task.Run(page.ReceiveAsync);
            await page.SendAsync("Runtime.enable");
            await page.SendAsync("Log.enable");
            await page.SendAsync("Page.enable");
            return page;
        }
        catch
        {
            page.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="url"/> and waits until its document has loaded.</summary>
    public async Task NavigateAsync(Uri url)
    {
        await SendAsync("Page.navigate", new JsonObject { ["url"] = url.AbsoluteUri });
        await WaitUntilAsync($"location.href === {JsonValue.Create(url.AbsoluteUri).ToJsonString()} && document.readyState === 'complete'", TimeSpan.FromSeconds(60));
    }

    /// <summary>Evaluates an expression in the page; its value as a string (String(value)).</summary>
    public async Task<string> EvalAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = $"String({expression})", ["returnByValue"] = true });
        if (result?["exceptionDetails"] is { } error) throw new InvalidOperationException($"evaluating {expression}: {error.ToJsonString()}");
        return result?["result"]?["value"]?.GetValue<string>() ?? "";
    }

    /// <summary>Waits until <paramref name="condition"/> is true in the page (an expression that throws counts as false), checking every 100 ms.</summary>
    public async Task WaitUntilAsync(string condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (await EvalAsync($"(() => {{ try {{ return {condition}; }} catch {{ return false; }} }})()") != "true")
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"the page did not reach '{condition}' within {timeout.TotalSeconds} s; errors: {string.Join(" | ", Errors)}");
            await Task.Delay(100);
        }
    }

    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        return Convert.FromBase64String(result!["data"]!.GetValue<string>());
    }

    private async Task<JsonNode?> SendAsync(string method, JsonObject? parameters = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        var call = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _calls[id] = call;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, _stop.Token);
        return await call.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[1 << 16];
        var text = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var r = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (r.MessageType == WebSocketMessageType.Close) break;
                text.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage) continue;
                var node = JsonNode.Parse(text.ToArray());
                text.SetLength(0);
                if (node?["id"] is { } id)
                {
                    if (_calls.TryRemove(id.GetValue<int>(), out var call))
                    {
                        if (node["error"] is { } error) call.SetException(new InvalidOperationException(error.ToJsonString()));
                        else call.SetResult(node["result"]);
                    }
                    continue;
                }
                var p = node?["params"];
                switch (Text(node?["method"]))
                {
                    case "Runtime.consoleAPICalled" when Text(p?["type"]) is "error" or "assert":
                        _errors.Enqueue("console: " + p!["args"]?.ToJsonString());
                        break;
                    case "Runtime.exceptionThrown":
                        _errors.Enqueue("exception: " + p?["exceptionDetails"]?.ToJsonString());
                        break;
                    case "Log.entryAdded" when Text(p?["entry"]?["level"]) == "error":
                        _errors.Enqueue("log: " + p!["entry"]!["text"] + " " + p["entry"]!["url"]);
                        break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or JsonException)
        {
            // The browser went away or the page is closing.
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    public void Dispose()
    {
        _stop.Cancel();
        try { _receiver?.Wait(2000); }
        catch (AggregateException) { }
        _socket.Dispose();
        try
        {
            if (!_browser.HasExited) _browser.Kill(entireProcessTree: true);
            _browser.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { }
        _browser.Dispose();
        _stop.Dispose();
    }
}
