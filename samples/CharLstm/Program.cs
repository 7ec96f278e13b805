// CharLstm: a character-level LSTM language model (Karpathy's char-rnn) trained on any text file, then asked to
// write more text in the same style, one character at a time.
//
//   dotnet run -c Release -- book.txt          your own text (UTF-8)
//   dotnet run -c Release                      the repository's data/tinyshakespeare/input.txt
//   dotnet run -c Release -- --quick           200 steps of a smaller model (CI); still checks the loss fell
//   options: --steps N, --prime TEXT
using System.Diagnostics;
using DeepSharp;
using DeepSharp.Data;
using DeepSharp.Data.Text;
using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Optim;

bool quick = args.Contains("--quick");
string? file = null;                                       // the one argument that is not an option or an option's value
for (int i = 0; i < args.Length; i++)
    if (args[i] is "--steps" or "--prime") i++;
    else if (!args[i].StartsWith("--", StringComparison.Ordinal)) file = args[i];
int steps = int.Parse(Option("--steps") ?? (quick ? "200" : "2000"));
string prime = Option("--prime") ?? "ROMEO:";

// TinyShakespeare.Load(null) finds data/tinyshakespeare/input.txt in the repository (or DEEPSHARP_DATA); a path is read as is.
string text = TinyShakespeare.Load(file);
var vocabulary = Vocabulary.FromCharacters(text);        // one id per distinct character
var (trainText, validationText) = TinyShakespeare.Split(text, validationFraction: 0.05);
long[] trainTokens = vocabulary.Encode(trainText), validationTokens = vocabulary.Encode(validationText);
Console.WriteLine($"{text.Length:N0} characters, {vocabulary.Count} distinct; {trainTokens.Length:N0} to train on, {validationTokens.Length:N0} to validate");

// Embedding(vocab, 64) -> LSTM(hidden) -> Linear(hidden, vocab): logits of the next character at every position.
int hidden = quick ? 128 : 256;
var generator = new Generator(seed: 1234);
var model = new CharRnn(new CharRnnConfig(vocabulary.Count, Cell: RecurrentCellType.Lstm, EmbeddingDim: 64, HiddenSize: hidden), generator: generator);
var optimizer = new Adam(model.Parameters(), new AdamOptions(Lr: 3e-3));
Console.WriteLine($"char-LSTM with {hidden} hidden units: {model.ParameterCount:N0} parameters");

// Truncated backpropagation through time: 32 parallel streams through the text, 64 characters per step. The LSTM's
// state at the end of one window is where the next window of the same stream starts (detached: gradients stop there).
var batches = new StreamBatches(trainTokens, batchSize: 32, sequenceLength: 64);
double initialValidation = ValidationLoss(), smoothed = double.NaN;
Console.WriteLine($"validation loss before training: {initialValidation:F3} nats/char (uniform guessing: {Math.Log(vocabulary.Count):F3})");
RecurrentState? state = null;
var watch = Stopwatch.StartNew();
model.Train();
for (int step = 0; step < steps; step++)
{
    int k = step % batches.Count;
    if (k == 0) state = null;                              // back at the start of the streams
    var (input, target) = batches[k];                      // [32, 64] character ids; target = input shifted by one
    var (logits, next) = model.Forward(input, state);      // logits [32, 64, vocab]
    var loss = Functional.CrossEntropy(logits.Reshape(-1, vocabulary.Count), target.Reshape(-1));
    optimizer.ZeroGrad();
    loss.Backward();
    GradClipping.ClipGradNorm(model.Parameters(), maxNorm: 5);   // recurrent nets occasionally produce huge gradients
    optimizer.Step();
    state = next.Detach();
    double value = loss.Item<float>();
    smoothed = double.IsNaN(smoothed) ? value : 0.95 * smoothed + 0.05 * value;
    if ((step + 1) % 100 == 0) Console.WriteLine($"step {step + 1,5}  loss {smoothed:F3}  ({watch.Elapsed.TotalSeconds:F0} s)");
}
double finalValidation = ValidationLoss();
Console.WriteLine($"validation loss after {steps} steps: {finalValidation:F3} nats/char ({watch.Elapsed.TotalSeconds:F1} s)");

// Generation: feed the prime through the LSTM, then repeatedly sample a character from the softmax of the logits
// (temperature 0.8: a little more conservative than the model's own distribution) and feed it back in.
Console.WriteLine("--- sample ---");
Console.WriteLine(Generate(prime, length: quick ? 200 : 600, temperature: 0.8));
Console.WriteLine("--------------");

// Something was learnt: well below the loss of guessing every character with equal probability.
if (!(finalValidation < initialValidation - 1.0))
{
    Console.Error.WriteLine($"FAIL: validation loss went from {initialValidation:F3} to {finalValidation:F3} only");
    return 1;
}
return 0;

// Mean cross-entropy on (up to 20 windows of) the held-out text, without gradients.
double ValidationLoss()
{
    using var noGrad = Autograd.NoGrad();
    model.Eval();
    var windows = new StreamBatches(validationTokens, batchSize: 8, sequenceLength: 64);
    double total = 0;
    int count = Math.Min(20, windows.Count);
    RecurrentState? s = null;
    for (int k = 0; k < count; k++)
    {
        var (input, target) = windows[k];
        (var logits, s) = model.Forward(input, s);
        total += Functional.CrossEntropy(logits.Reshape(-1, vocabulary.Count), target.Reshape(-1)).Item<float>();
    }
    model.Train();
    return total / count;
}

string Generate(string start, int length, double temperature)
{
    using var noGrad = Autograd.NoGrad();
    model.Eval();
    var sampler = new Generator(seed: 42);
    var options = new SamplingOptions(Temperature: temperature);
    var output = new System.Text.StringBuilder(start);
    // The state starts at zero, which training (carrying the state from window to window) almost never saw; a blank
    // line before the prime warms it up where a new paragraph or speech begins in the text.
    string warmed = "\n\n" + start;
    var (logits, s) = model.Forward(Tensor.From(vocabulary.Encode(warmed), 1, warmed.Length), null);   // [1, T, vocab]
    for (int i = 0; i < length; i++)
    {
        var last = Sampling.Row(logits.Select(1, logits.Size(1) - 1));      // the logits after the last character
        long id = Sampling.Sample(last, options, sampler);
        output.Append(vocabulary.Token(id));
        (logits, s) = model.Forward(Tensor.From(new[] { id }, 1, 1), s);
    }
    model.Train();
    return output.ToString();
}

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
