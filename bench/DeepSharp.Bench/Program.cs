using System.Diagnostics;
using System.Globalization;
using System.Text;
using DeepSharp.Bench.Workloads;
using DeepSharp.Kernels;

// Usage: DeepSharp.Bench [--threads N] [NAME ...]
// Runs the named workloads (all when none is named), logs progress to stderr and prints one JSON object,
// {"name": value, ..., "threads": N}, as the last line of stdout.

// Every workload, in run order. Add new workload files here.
IWorkload[] all =
[
    .. GemmWorkloads.Create(),
    .. TensorWorkloads.Create(),
    .. TrainingWorkloads.Create(),
    .. InferenceWorkloads.Create(),
    .. SequenceWorkloads.Create(),
    .. GptWorkloads.Create(),
    .. InsightWorkloads.Create(),
    .. TransformerWorkloads.Create(),
];

var names = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--threads" && i + 1 < args.Length && int.TryParse(args[i + 1], out int t) && t >= 1)
    {
        WorkerPool.Threads = t;
        i++;
    }
    else if (args[i] is "--help" or "-h")
    {
        Console.Error.WriteLine("usage: DeepSharp.Bench [--threads N] [NAME ...]\nworkloads:");
        foreach (IWorkload w in all)
            Console.Error.WriteLine("  " + w.Name);
        return 0;
    }
    else if (args[i].StartsWith('-'))
    {
        Console.Error.WriteLine($"unknown option '{args[i]}' (expected --threads N)");
        return 2;
    }
    else
    {
        names.Add(args[i]);
    }
}

var byName = all.ToDictionary(w => w.Name);
string[] unknown = names.Where(n => !byName.ContainsKey(n)).ToArray();
if (unknown.Length > 0)
{
    Console.Error.WriteLine($"unknown workload(s): {string.Join(", ", unknown)}; known: {string.Join(", ", byName.Keys)}");
    return 2;
}
IWorkload[] selected = names.Count == 0 ? all : names.Select(n => byName[n]).ToArray();

var json = new StringBuilder("{");
foreach (IWorkload w in selected)
{
    Console.Error.Write($"{w.Name} ... ");
    long start = Stopwatch.GetTimestamp();
    double value = w.Measure();
    Console.Error.WriteLine($"{value.ToString("F2", CultureInfo.InvariantCulture)} ({Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s)");
    json.Append(CultureInfo.InvariantCulture, $"\"{w.Name}\": {value:F2}, ");
}
json.Append(CultureInfo.InvariantCulture, $"\"threads\": {WorkerPool.Threads}, \"cpu\": \"{CpuInfo.Model.Replace("\"", "'", StringComparison.Ordinal)}\", \"vectors\": \"{CpuInfo.VectorIsa}\"}}");
Console.WriteLine(json.ToString());
return 0;
