using System.Globalization;
using System.Text;

namespace DeepSharp.Tests.Fuzzing;

/// <summary>One reader under test: seed inputs, how to mutate them, how to parse, and what must hold afterwards.</summary>
internal sealed class FuzzTarget
{
    public required string Name { get; init; }

    public required IReadOnlyList<byte[]> Seeds { get; init; }

    /// <summary>Parses one input; throws whatever the reader throws.</summary>
    public required Action<byte[]> Parse { get; init; }

    /// <summary>Format-aware mutation (fix checksums, re-compress, edit structure); null: byte mutations only.</summary>
    public Func<Mutator, byte[], byte[], byte[]>? Mutate { get; init; }

    /// <summary>Called before each parse; returns a check to run after a failed parse (null when nothing to check).</summary>
    public Func<Func<string?>>? BeforeParse { get; init; }

    /// <summary>The one exception type the reader documents for malformed input.</summary>
    public Type Expected { get; init; } = typeof(InvalidDataException);
}

internal sealed record FuzzFailure(string Reason, byte[] Input);

/// <summary>What a campaign saw: exception types and counts, the largest allocation, failures.</summary>
internal sealed class FuzzReport(string target, int iterations)
{
    public string Target { get; } = target;

    public int Iterations { get; } = iterations;

    public int Accepted { get; set; }

    public SortedDictionary<string, int> Exceptions { get; } = new(StringComparer.Ordinal);

    public long MaxAllocated { get; set; }

    public int MaxAllocatedInputBytes { get; set; }

    public List<FuzzFailure> Failures { get; } = [];

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Target}: {Iterations} inputs, {Accepted} accepted, ");
        sb.Append(string.Join(", ", Exceptions.Select(kv => $"{kv.Key} x{kv.Value}")));
        sb.Append(CultureInfo.InvariantCulture, $"; max allocation {MaxAllocated / 1024.0 / 1024.0:F2} MiB (input of {MaxAllocatedInputBytes} bytes); {Failures.Count} failures");
        foreach (var f in Failures.Take(5)) sb.Append(CultureInfo.InvariantCulture, $"\n  {f.Reason} [{f.Input.Length} bytes: {Convert.ToBase64String(f.Input.AsSpan(0, Math.Min(f.Input.Length, 300)))}]");
        return sb.ToString();
    }
}

/// <summary>
/// Runs a seeded mutation campaign against one reader. Each input is a mutation of a seed (or the
/// seed itself, every 50th), parsed with the allocated bytes of the thread measured around the call.
/// A failure is: an exception of another type than the documented one, an input under 1 MiB that
/// made the reader allocate more than 64 MiB, or a failed load that changed state (checkpoints).
/// </summary>
internal static class FuzzCampaign
{
    public const long AllocationLimit = 64L << 20;
    public const int SmallInput = 1 << 20;

    /// <summary>Iterations per reader: DEEPSHARP_FUZZ_ITERATIONS, or <paramref name="fallback"/> for the normal test run.</summary>
    public static int Iterations(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_FUZZ_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : fallback;

    /// <summary>The campaign seed: DEEPSHARP_FUZZ_SEED, or a fixed one so CI runs the same inputs every time.</summary>
    public static ulong Seed() =>
        ulong.TryParse(Environment.GetEnvironmentVariable("DEEPSHARP_FUZZ_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out ulong s) ? s : 20251202;

    public static FuzzReport Run(FuzzTarget target, int iterations, ulong seed)
    {
        var report = new FuzzReport(target.Name, iterations);
        var mutator = new Mutator(seed ^ (ulong)StableHash(target.Name));
        for (int i = 0; i < iterations; i++)
        {
            var a = mutator.Pick(target.Seeds);
            var b = mutator.Pick(target.Seeds);
            byte[] input = i % 50 == 0 ? a
                : target.Mutate is not null && mutator.Chance(0.6) ? target.Mutate(mutator, a, b)
                : mutator.Mutate(a, b);
            RunOne(target, input, report);
        }
        return report;
    }

    /// <summary>Parses one input and records what happened (also used to replay the corpus).</summary>
    public static void RunOne(FuzzTarget target, byte[] input, FuzzReport report)
    {
        var check = target.BeforeParse?.Invoke();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = null;
        try { target.Parse(input); }
        catch (Exception e) { error = e; }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > report.MaxAllocated)
        {
            report.MaxAllocated = allocated;
            report.MaxAllocatedInputBytes = input.Length;
        }
        if (input.Length < SmallInput && allocated > AllocationLimit)
            report.Failures.Add(new FuzzFailure($"allocated {allocated} bytes for a {input.Length}-byte input", input));
        if (error is null)
        {
            report.Accepted++;
            return;
        }
        string name = error.GetType().Name;
        report.Exceptions[name] = report.Exceptions.GetValueOrDefault(name) + 1;
        if (error.GetType() != target.Expected)
            report.Failures.Add(new FuzzFailure($"{name}: {error.Message}\n{error.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}", input));
        else if (check?.Invoke() is string changed)
            report.Failures.Add(new FuzzFailure($"partial load: {changed} after {name}: {error.Message}", input));
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s) h = h * 31 + c;
        return h;
    }
}
