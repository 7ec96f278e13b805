namespace DeepSharp.Tests.Fuzzing;

/// <summary>
/// A bounded mutation-fuzzing campaign per reader in every test run (a few seconds each), and the
/// corpus of inputs that crashed earlier versions replayed as regression cases. For a long campaign:
/// <c>DEEPSHARP_FUZZ_ITERATIONS=100000 dotnet test tests/DeepSharp.Tests -c Release --filter FullyQualifiedName~Fuzzing</c>
/// (<c>DEEPSHARP_FUZZ_SEED</c> picks other inputs; <c>DEEPSHARP_FUZZ_REPORT</c> names a file to append the figures to).
/// </summary>
public sealed class FuzzTests
{
    public static TheoryData<string> Targets() => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void ReadersRejectMutatedInputsCleanly(string name)
    {
        var target = FuzzTargets.Create(name);
        var report = FuzzCampaign.Run(target, FuzzCampaign.Iterations(name == "checkpoint" ? 2000 : 5000), FuzzCampaign.Seed());
        if (Environment.GetEnvironmentVariable("DEEPSHARP_FUZZ_REPORT") is { Length: > 0 } file)
            File.AppendAllText(file, report + Environment.NewLine);
        if (Environment.GetEnvironmentVariable("DEEPSHARP_FUZZ_SAVE") is { Length: > 0 } corpus)
            SaveFailures(report, Path.Combine(corpus, name));
        Assert.True(report.Failures.Count == 0, report.ToString());
        // The campaign exercised the reader: both accepted inputs and rejected ones.
        Assert.True(report.Accepted > 0 && report.Exceptions.GetValueOrDefault(nameof(InvalidDataException)) > 0, report.ToString());
    }

    /// <summary>Writes failing inputs (a few per kind of failure, small ones first) for tests/fixtures/fuzz/&lt;reader&gt;/.</summary>
    private static void SaveFailures(FuzzReport report, string dir)
    {
        foreach (var group in report.Failures.GroupBy(f => f.Reason.Split('\n').Last() + f.Reason.Split(':')[0]))
        {
            foreach (var (failure, i) in group.OrderBy(f => f.Input.Length).Take(3).Select((f, i) => (f, i)))
            {
                if (failure.Input.Length > 8192) continue;
                Directory.CreateDirectory(dir);
                string kind = new string(failure.Reason.TakeWhile(char.IsLetterOrDigit).ToArray());
                string hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(failure.Input))[..12].ToLowerInvariant();
                File.WriteAllBytes(Path.Combine(dir, $"{kind}-{hash}.bin"), failure.Input);
            }
        }
    }

    public static TheoryData<string, string> CorpusFiles()
    {
        var data = new TheoryData<string, string>();
        string root = Path.Combine(AppContext.BaseDirectory, "fixtures", "fuzz");
        foreach (var name in FuzzTargets.Names)
        {
            string dir = Path.Combine(root, name);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal)) data.Add(name, Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void CorpusOfPastCrashesIsHandled(string name, string file)
    {
        var target = FuzzTargets.Create(name);
        var report = new FuzzReport(name, 1);
        FuzzCampaign.RunOne(target, File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "fuzz", name, file)), report);
        Assert.True(report.Failures.Count == 0, report.ToString());
        if (file.StartsWith("reject-", StringComparison.Ordinal)) Assert.True(report.Accepted == 0, $"{file} was accepted");
    }

    [Fact]
    public void TheCorpusHasCasesForEveryReaderThatCrashedBefore()
    {
        var names = CorpusFiles().Select(row => row.Data.Item1).Distinct().ToList();
        Assert.Equal(["checkpoint", "idx-gzip", "image", "pgm", "png", "safetensors", "vocabulary"], names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void MutationsAreDeterministicForASeed()
    {
        var seedInput = "P2 3 1 255 0 1 2"u8.ToArray();
        var a = new Mutator(42);
        var b = new Mutator(42);
        for (int i = 0; i < 200; i++) Assert.Equal(a.Mutate(seedInput, seedInput), b.Mutate(seedInput, seedInput));
    }
}
