// Peer baseline for .NET users: TorchSharp 0.107 over LibTorch 2.10 (CPU: MKL GEMM, oneDNN convolutions),
// the same named workloads and definitions as scripts/peer_torch.py and DeepSharp's bench. A copy of
// ../shared/bench/torchsharp with workloads added: mlp_b1_samples_per_s, infer_varying_batch_peak_rss_mb,
// gpt_train_tokens_per_s and gpt_generate_tokens_per_s.
// Usage (from the project root): bench/TorchSharpPeer/run.sh THREADS data/fashion-mnist [NAME ...]
// Prints one JSON object, workload name -> figure (higher is better except *_us), as its last line.
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchTensor = TorchSharp.torch.Tensor;

int threads = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2;
string root = args.Length > 1 ? args[1] : "../shared/data/fashion-mnist";
var only = new HashSet<string>(args.Skip(2));
torch.set_num_threads(threads);
torch.manual_seed(0);

var res = new List<(string Name, double Value)>();
bool Want(string name) => only.Count == 0 || only.Contains(name);

double Time(Action f, int reps, int warm = 3, double warmSeconds = 0)
{
    long warmStart = Stopwatch.GetTimestamp();
    for (int i = 0; i < warm || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < warmSeconds; i++) f();
    // Best of three rounds, as DeepSharp's bench does: the machine is shared, the minimum is the least disturbed.
    double best = double.MaxValue;
    for (int round = 0; round < 3; round++)
    {
        long t = Stopwatch.GetTimestamp();
        for (int i = 0; i < reps; i++) f();
        best = Math.Min(best, Stopwatch.GetElapsedTime(t).TotalSeconds / reps);
    }
    return best;
}

foreach (int n in new[] { 128, 256, 512, 1024, 2048 })
{
    string name = $"sgemm{n}_gflops";
    if (!Want(name)) continue;
    var a = randn(n, n); var b = randn(n, n);
    double s = Time(() => { using var d = NewDisposeScope(); mm(a, b); }, Math.Max(3, (int)(2e9 / (2.0 * n * n * n))));
    res.Add((name, 2.0 * n * n * n / s / 1e9));
}

TorchTensor LoadIdx(string path)
{
    using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var ms = new MemoryStream(); gz.CopyTo(ms); byte[] d = ms.ToArray();
    int magic = (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3];
    int count = (d[4] << 24) | (d[5] << 16) | (d[6] << 8) | d[7];
    if (magic == 2051)
    {
        int rows = (d[8] << 24) | (d[9] << 16) | (d[10] << 8) | d[11], cols = (d[12] << 24) | (d[13] << 16) | (d[14] << 8) | d[15];
        var f = new float[count * rows * cols];
        for (int i = 0; i < f.Length; i++) f[i] = d[16 + i] / 255f;
        return tensor(f, new long[] { count, 1, rows, cols });
    }
    var l = new long[count];
    for (int i = 0; i < count; i++) l[i] = d[8 + i];
    return tensor(l);
}

var X = LoadIdx(Path.Combine(root, "train-images-idx3-ubyte.gz"));
var Y = LoadIdx(Path.Combine(root, "train-labels-idx1-ubyte.gz"));

double TrainRate(Module<TorchTensor, TorchTensor> model, int bs, int steps, bool flat)
{
    var opt = optim.SGD(model.parameters(), 0.05, momentum: 0.9);
    int i = 0;
    void Step()
    {
        using var d = NewDisposeScope();
        long j = (long)i * bs % (60000 - bs); i++;
        var x = X.narrow(0, j, bs); if (flat) x = x.view(bs, -1);
        var loss = functional.cross_entropy(model.forward(x), Y.narrow(0, j, bs));
        opt.zero_grad(); loss.backward(); opt.step();
    }
    return bs / Time(Step, steps);
}

Module<TorchTensor, TorchTensor> Mlp() => Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10));
Module<TorchTensor, TorchTensor> LeNet() => Sequential(
    Conv2d(1, 6, 5, padding: 2), ReLU(), MaxPool2d(2), Conv2d(6, 16, 5), ReLU(), MaxPool2d(2),
    Flatten(), Linear(400, 120), ReLU(), Linear(120, 84), ReLU(), Linear(84, 10));

var mlp = Mlp();
if (Want("mlp_b64_samples_per_s")) res.Add(("mlp_b64_samples_per_s", TrainRate(mlp, 64, 300, true)));
if (Want("mlp_b8_samples_per_s")) res.Add(("mlp_b8_samples_per_s", TrainRate(mlp, 8, 500, true)));
if (Want("mlp_b1_samples_per_s")) res.Add(("mlp_b1_samples_per_s", TrainRate(Mlp(), 1, 2000, true)));
if (Want("lenet_b64_samples_per_s")) res.Add(("lenet_b64_samples_per_s", TrainRate(LeNet(), 64, 100, false)));
if (Want("resnet20_b64_samples_per_s")) res.Add(("resnet20_b64_samples_per_s", TrainRate(new ResNet20(), 64, 30, false)));

if (Want("charlstm_b32_t64_h256_tokens_per_s"))
{
    var lm = new CharLM();
    var lopt = optim.Adam(lm.parameters(), 2e-3);
    var tok = randint(0, 65, new long[] { 32, 65 });
    void LStep()
    {
        using var d = NewDisposeScope();
        var output = lm.forward(tok.narrow(1, 0, 64));
        var loss = functional.cross_entropy(output.reshape(-1, 65), tok.narrow(1, 1, 64).reshape(-1));
        lopt.zero_grad(); loss.backward();
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0); lopt.step();
    }
    res.Add(("charlstm_b32_t64_h256_tokens_per_s", 32 * 64 / Time(LStep, 20)));
}

// GPT (issue #18), as bench/DeepSharp.Bench/Workloads/GptWorkloads.cs: 4 layers, 4 heads, width 128, context 128,
// vocabulary 65, tied lm_head; train on one fixed batch 16 x 128 with AdamW (lr 1e-3, betas 0.9/0.95, weight decay 0.1:
// on every parameter here, as TorchSharp's flat parameter list takes it; the cost is the same) and clipping at 1.0;
// generate 100 greedy tokens after a 16-token prompt with a per-layer KV cache (keys and values concatenated);
// attention through LibTorch's scaled_dot_product_attention.
if (Want("gpt_train_tokens_per_s"))
{
    var gpt = new Gpt(65, 4, 4, 128, 128);
    var gopt = optim.AdamW(gpt.parameters(), 1e-3, 0.9, 0.95, 1e-8, 0.1);
    var tok = randint(0, 65, new long[] { 16, 129 });
    void GStep()
    {
        using var d = NewDisposeScope();
        var logits = gpt.forward(tok.narrow(1, 0, 128));
        var loss = functional.cross_entropy(logits.reshape(-1, 65), tok.narrow(1, 1, 128).reshape(-1));
        gopt.zero_grad(); loss.backward();
        torch.nn.utils.clip_grad_norm_(gpt.parameters(), 1.0); gopt.step();
    }
    res.Add(("gpt_train_tokens_per_s", 16 * 128 / Time(GStep, 10, 2, warmSeconds: 3)));
}
if (Want("gpt_generate_tokens_per_s"))
{
    var gpt = new Gpt(65, 4, 4, 128, 128);
    gpt.eval();
    var prompt = tensor(Enumerable.Range(0, 16).Select(i => (long)(i * 7 % 65)).ToArray(), new long[] { 1, 16 });
    using var ng = no_grad();
    res.Add(("gpt_generate_tokens_per_s", 100 / Time(() => { using var d = NewDisposeScope(); gpt.Generate(prompt, 100); }, 1, 1)));
}

// Inference latency (eval mode, no grad) at batch 1 and 64: NAME_infer_bB_us.
// Repetitions (batch 1, batch 64) keep each workload to a few seconds.
foreach (var (name, make, shape, reps) in new (string, Func<Module<TorchTensor, TorchTensor>>, long[], (int B1, int B64))[] {
    ("mlp", () => mlp, new long[] { 784 }, (2000, 200)), ("lenet", LeNet, new long[] { 1, 28, 28 }, (2000, 200)),
    ("resnet20", () => new ResNet20(), new long[] { 1, 28, 28 }, (200, 20)) })
{
    foreach (long b in new long[] { 1, 64 })
    {
        string key = $"{name}_infer_b{b}_us";
        if (!Want(key)) continue;
        var model = make(); model.eval();
        var x = randn(new long[] { b }.Concat(shape).ToArray());
        using var ng = no_grad();
        res.Add((key, Time(() => { using var d = NewDisposeScope(); model.forward(x); }, b == 1 ? reps.B1 : reps.B64, b == 1 ? 50 : 5) * 1e6));
    }
}

// A server's memory: 1,500 no-grad LeNet forwards with seeded random batch sizes 1-256, then the process's
// peak resident set (VmHWM). Run it alone in its process (compare_bench.py does), or earlier workloads count too.
if (Want("infer_varying_batch_peak_rss_mb"))
{
    var model = LeNet(); model.eval();
    var rng = new Random(1234);
    var images = rand(256, 1, 28, 28);
    using (no_grad())
        for (int i = 0; i < 1500; i++)
        {
            using var d = NewDisposeScope();
            model.forward(images.narrow(0, 0, rng.Next(1, 257)));
        }
    string hwm = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    res.Add(("infer_varying_batch_peak_rss_mb", long.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0));
}

var sb = new StringBuilder("{");
foreach (var (name, value) in res) sb.Append(CultureInfo.InvariantCulture, $"\"{name}\": {Math.Round(value, 2)}, ");
// The CPU with every result, as DeepSharp's bench records it.
string cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?" : "?";
sb.Append(CultureInfo.InvariantCulture, $"\"threads\": {threads}, \"cpu\": \"{cpu.Replace("\"", "'", StringComparison.Ordinal)}\"}}");
Console.WriteLine(sb.ToString());

/// <summary>nanoGPT's GPT: token + position embeddings, pre-LayerNorm blocks, final LayerNorm, lm_head tied to wte.</summary>
sealed class Gpt : Module<TorchTensor, TorchTensor>
{
    private readonly TorchSharp.Modules.Embedding wte, wpe;
    private readonly TorchSharp.Modules.ModuleList<GptBlock> h = new();
    private readonly Module<TorchTensor, TorchTensor> ln_f;
    private readonly long context;

    public Gpt(long vocab, int layers, long heads, long width, long context) : base("GPT")
    {
        this.context = context;
        wte = Embedding(vocab, width);
        wpe = Embedding(context, width);
        for (int i = 0; i < layers; i++) h.Add(new GptBlock(heads, width));
        ln_f = LayerNorm(width);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor idx) => Forward(idx, null, 0);

    /// <summary>Logits [B, T, V]; with caches, the tokens continue the cached ones from position <paramref name="start"/>.</summary>
    public TorchTensor Forward(TorchTensor idx, (TorchTensor? K, TorchTensor? V)[]? caches, long start)
    {
        long t = idx.shape[1];
        var x = wte.forward(idx) + wpe.forward(arange(start, start + t, dtype: ScalarType.Int64));
        for (int i = 0; i < h.Count; i++) x = h[i].Forward(x, caches, i);
        return functional.linear(ln_f.forward(x), wte.weight!);
    }

    /// <summary>Greedy tokens after <paramref name="prompt"/> [1, T] with a KV cache (within the context).</summary>
    public long[] Generate(TorchTensor prompt, int count)
    {
        var caches = new (TorchTensor? K, TorchTensor? V)[h.Count];
        var logits = Forward(prompt, caches, 0);
        long pos = prompt.shape[1];
        var result = new long[count];
        for (int i = 0; i < count; i++)
        {
            var next = logits[0, -1].argmax().reshape(1, 1);
            result[i] = next.item<long>();
            if (pos >= context) break;
            logits = Forward(next, caches, pos++);
        }
        return result;
    }
}

sealed class GptBlock : Module<TorchTensor, TorchTensor>
{
    private readonly Module<TorchTensor, TorchTensor> ln_1, ln_2, c_attn, attn_proj, c_fc, mlp_proj;
    private readonly long heads, width;

    public GptBlock(long heads, long width) : base("Block")
    {
        this.heads = heads; this.width = width;
        ln_1 = LayerNorm(width); ln_2 = LayerNorm(width);
        c_attn = Linear(width, 3 * width); attn_proj = Linear(width, width);
        c_fc = Linear(width, 4 * width); mlp_proj = Linear(4 * width, width);
        RegisterComponents();
    }

    public override TorchTensor forward(TorchTensor x) => Forward(x, null, 0);

    public TorchTensor Forward(TorchTensor x, (TorchTensor? K, TorchTensor? V)[]? caches, int layer)
    {
        long b = x.shape[0], t = x.shape[1], d = width / heads;
        var qkv = c_attn.forward(ln_1.forward(x)).chunk(3, 2);
        var q = qkv[0].view(b, t, heads, d).transpose(1, 2);
        var k = qkv[1].view(b, t, heads, d).transpose(1, 2);
        var v = qkv[2].view(b, t, heads, d).transpose(1, 2);
        bool causal = true;
        if (caches is not null)
        {
            var (ck, cv) = caches[layer];
            if (ck is not null) { k = cat(new[] { ck, k }, 2); v = cat(new[] { cv!, v }, 2); causal = false; }
            caches[layer] = (k.detach().MoveToOuterDisposeScope(), v.detach().MoveToOuterDisposeScope());
        }
        // LibTorch's fused SDPA (flash/memory-efficient kernels where it has them), as nanoGPT uses it.
        var y = functional.scaled_dot_product_attention(q, k, v, null, 0.0, causal).transpose(1, 2).contiguous().view(b, t, width);
        x = x + attn_proj.forward(y);
        // GPT-2 uses GELU's tanh approximation; TorchSharp's functional.gelu is the exact one (the same cost).
        return x + mlp_proj.forward(functional.gelu(c_fc.forward(ln_2.forward(x))));
    }
}

sealed class CharLM : Module<TorchTensor, TorchTensor>
{
    private readonly Module<TorchTensor, TorchTensor> e = Embedding(65, 64);
    private readonly TorchSharp.Modules.LSTM l = LSTM(64, 256, batchFirst: true);
    private readonly Module<TorchTensor, TorchTensor> o = Linear(256, 65);
    public CharLM() : base("CharLM") { RegisterComponents(); }
    public override TorchTensor forward(TorchTensor x) => o.forward(l.forward(e.forward(x)).Item1);
}

sealed class Block : Module<TorchTensor, TorchTensor>
{
    private readonly Module<TorchTensor, TorchTensor> conv1, bn1, conv2, bn2;
    private readonly Module<TorchTensor, TorchTensor>? downsample;
    public Block(long cin, long cout, long stride) : base("Block")
    {
        conv1 = Conv2d(cin, cout, 3, stride: stride, padding: 1, bias: false); bn1 = BatchNorm2d(cout);
        conv2 = Conv2d(cout, cout, 3, stride: 1, padding: 1, bias: false); bn2 = BatchNorm2d(cout);
        if (stride != 1 || cin != cout) downsample = Sequential(Conv2d(cin, cout, 1, stride: stride, bias: false), BatchNorm2d(cout));
        RegisterComponents();
    }
    public override TorchTensor forward(TorchTensor x)
    {
        var o = functional.relu(bn1.forward(conv1.forward(x)));
        o = bn2.forward(conv2.forward(o));
        return functional.relu(o + (downsample is null ? x : downsample.forward(x)));
    }
}

sealed class ResNet20 : Module<TorchTensor, TorchTensor>
{
    private readonly Module<TorchTensor, TorchTensor> conv1 = Conv2d(1, 16, 3, stride: 1, padding: 1, bias: false), bn1 = BatchNorm2d(16);
    private readonly Module<TorchTensor, TorchTensor> layer1, layer2, layer3;
    private readonly Module<TorchTensor, TorchTensor> fc = Linear(64, 10);
    public ResNet20() : base("ResNet20")
    {
        layer1 = Sequential(new Block(16, 16, 1), new Block(16, 16, 1), new Block(16, 16, 1));
        layer2 = Sequential(new Block(16, 32, 2), new Block(32, 32, 1), new Block(32, 32, 1));
        layer3 = Sequential(new Block(32, 64, 2), new Block(64, 64, 1), new Block(64, 64, 1));
        RegisterComponents();
    }
    public override TorchTensor forward(TorchTensor x)
    {
        x = functional.relu(bn1.forward(conv1.forward(x)));
        x = layer3.forward(layer2.forward(layer1.forward(x)));
        return fc.forward(functional.adaptive_avg_pool2d(x, 1).flatten(1));
    }
}
