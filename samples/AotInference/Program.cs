// AotInference: serve a trained model from a native executable (NativeAOT: no .NET runtime to install, fast start).
// The first run trains a small classifier of 2-D points (three interleaved spirals) and saves its weights as
// safetensors; later runs load them. Either way the model is then planned once with InferenceModel (batch norm folded
// into the linear weights, ReLU fused, buffers allocated once) and classifies a batch of new points.
//
//   dotnet publish -c Release -r linux-x64 -p:PublishAot=true -o out && ./out/AotInference
//   ./out/AotInference --weights spirals.safetensors    where the weights are kept (default: that name in the current folder)
//   ./out/AotInference --quick                          fewer training epochs on the first run (CI)
using System.Diagnostics;
using DeepSharp;
using DeepSharp.Data;
using DeepSharp.Inference;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using DeepSharp.Training;

bool quick = args.Contains("--quick");
string weights = Array.IndexOf(args, "--weights") is var w and >= 0 && w + 1 < args.Length ? args[w + 1] : "spirals.safetensors";
var clock = Stopwatch.StartNew();

// The network must be built the same way for training and for loading: the weights file holds only the tensors.
var model = new Sequential(
    new Linear(2, 64), new BatchNorm1d(64), new Relu(),
    new Linear(64, 64), new BatchNorm1d(64), new Relu(),
    new Linear(64, 3));

if (File.Exists(weights))
{
    model.LoadStateDict(SafeTensors.Load(weights).Tensors);   // strict: every parameter and buffer must be there
    Console.WriteLine($"loaded {weights} ({model.ParameterCount:N0} parameters) in {clock.ElapsedMilliseconds} ms");
}
else
{
    var (points, labels) = Spirals(3000, seed: 1);
    var trainer = new Trainer(model, (logits, target) => Functional.CrossEntropy(logits, target),
        new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2)));
    var history = trainer.Fit(new DataLoader(new TensorDataset(points, labels), batchSize: 64, shuffle: true, generator: new Generator(2)),
        epochs: quick ? 15 : 40);
    var last = history.Epochs[^1];
    Console.WriteLine($"trained {history.Epochs.Count} epochs in {history.WallSeconds:F1} s: loss {last["loss"]:F4}, training accuracy {last["accuracy"]:P1}");
    SafeTensors.Save(weights, model.StateDict(), new Dictionary<string, string> { ["model"] = "spirals-mlp" });
    Console.WriteLine($"saved {weights}");
}

// Plan once for batches of up to 1000 points. Prepare needs eval mode (batch norm uses its running statistics).
model.Eval();
var plan = InferenceModel.Prepare(model, 1000, 2);
Console.WriteLine($"plan: {string.Join(" -> ", plan.Steps)}");

// New points the model never saw, classified by the plan, and compared with the ordinary (eager) forward pass.
var (testPoints, testLabels) = Spirals(1000, seed: 99);
var timer = Stopwatch.StartNew();
var logits = plan.Run(testPoints);
double planMs = timer.Elapsed.TotalMilliseconds;
Tensor eager;
using (Autograd.NoGrad()) eager = model.Forward(testPoints);
double difference = logits.Sub(eager).Abs().Max().Item<float>();
var predicted = logits.Argmax(1).ToArray<long>();
var truth = testLabels.ToArray<long>();
double accuracy = predicted.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;
Console.WriteLine($"1000 new points in {planMs:F2} ms: accuracy {accuracy:P1}; largest difference from the eager model {difference:E1}");
Console.WriteLine($"total {clock.ElapsedMilliseconds} ms since start");

if (accuracy < 0.9 || difference > 1e-3)
{
    Console.Error.WriteLine($"FAIL: accuracy {accuracy:P1} (expected at least 90 %) or difference {difference:E1} (expected at most 1e-3)");
    return 1;
}
return 0;

// n points on three spiral arms (one class per arm) with a little noise: inputs [n, 2], int64 labels [n].
static (Tensor Points, Tensor Labels) Spirals(int n, int seed)
{
    var random = new Random(seed);
    var points = new float[n * 2];
    var labels = new long[n];
    for (int i = 0; i < n; i++)
    {
        int arm = i % 3;
        double r = random.NextDouble();                               // distance from the centre, 0..1
        double angle = arm * 2 * Math.PI / 3 + r * 4 + random.NextDouble() * 0.3;
        points[2 * i] = (float)(r * Math.Cos(angle));
        points[2 * i + 1] = (float)(r * Math.Sin(angle));
        labels[i] = arm;
    }
    return (Tensor.From(points, n, 2), Tensor.From(labels, n));
}
