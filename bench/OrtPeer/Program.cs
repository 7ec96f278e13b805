using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// Usage: OrtPeer [--threads N] [--models DIR] [NAME ...]
// Times the inference workloads of DeepSharp's bench (NAME_infer_bB_us, B = 1 and 64) with ONNX Runtime: N intra-op
// threads, one inter-op thread, all graph optimisations, input and output bound once (IOBinding), and the same timing
// as DeepSharp's bench: warm-up for a second, then the best of five rounds of ~0.25 s of the mean latency. Prints one JSON object.

int threads = 1;
string models = Path.Combine(AppContext.BaseDirectory, "onnx");
var names = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--threads" && i + 1 < args.Length) threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--models" && i + 1 < args.Length) models = args[++i];
    else names.Add(args[i]);
}

(string Model, int[] Sample)[] workloads = [("mlp", [784]), ("lenet", [1, 28, 28]), ("resnet20", [1, 28, 28])];
var json = new StringBuilder("{");
foreach (var (model, sample) in workloads)
{
    foreach (int batch in new[] { 1, 64 })
    {
        string key = $"{model}_infer_b{batch}_us";
        if (names.Count > 0 && !names.Contains(key)) continue;
        string path = Path.Combine(models, model + ".onnx");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"{path} not found: run scripts/export_bench_onnx.py first");
            return 2;
        }
        double us = Measure(path, batch, sample, threads);
        Console.Error.WriteLine($"{key} ... {us.ToString("F2", CultureInfo.InvariantCulture)}");
        json.Append(CultureInfo.InvariantCulture, $"\"{key}\": {us:F2}, ");
    }
}
json.Append(CultureInfo.InvariantCulture, $"\"threads\": {threads}, \"onnxruntime\": \"{OrtEnv.Instance().GetVersionString()}\"}}");
Console.WriteLine(json.ToString());
return 0;

static double Measure(string path, int batch, int[] sample, int threads)
{
    using var options = new SessionOptions
    {
        IntraOpNumThreads = threads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };
    using var session = new InferenceSession(path, options);
    long[] inputShape = [batch, .. sample.Select(d => (long)d)];
    var data = new float[inputShape.Aggregate(1L, (a, b) => a * b)];
    var random = new Random(3);
    for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
    var output = new float[batch * 10];
    using var input = OrtValue.CreateTensorValueFromMemory(data, inputShape);
    using var result = OrtValue.CreateTensorValueFromMemory(output, [batch, 10]);
    using var binding = session.CreateIoBinding();
    binding.BindInput(session.InputNames[0], input);
    binding.BindOutput(session.OutputNames[0], result);
    using var run = new RunOptions();
    var warm = Stopwatch.StartNew();
    int calls = 0;
    for (; warm.Elapsed.TotalSeconds < 1 || calls < 3; calls++) session.RunWithBinding(run, binding);
    int reps = (int)Math.Clamp(0.25 / (warm.Elapsed.TotalSeconds / calls), 3, 5000);
    double best = double.MaxValue;
    for (int round = 0; round < 5; round++)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < reps; i++) session.RunWithBinding(run, binding);
        best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / reps);
    }
    return best;
}
