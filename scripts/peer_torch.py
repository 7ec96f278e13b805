"""Peer baseline: PyTorch CPU eager on this machine, the same named workloads as DeepSharp's bench and the
TorchSharp peer (bench/TorchSharpPeer). Grown from ../shared/bench/peer_torch.py: adds resnet20 training (the
CIFAR-style ResNet-20 of DeepSharp's `resnet20` on 1x28x28), batch-1 MLP training, inference latency of mlp,
lenet and resnet20 at batch 1 and 64, peak RSS of varying-batch inference, a workload filter, and the
best-of-three timing the other two sides use.
Needs Debian's python3-torch and python3-numpy and Fashion-MNIST (default: ../data/fashion-mnist).
Usage: /usr/bin/python3 scripts/peer_torch.py [threads] [fashion-mnist dir] [NAME ...]
Prints one JSON object: workload name -> figure (higher is better except *_us and *_mb)."""
import sys, os, json, time, gzip, struct, random, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
th = int(sys.argv[1]) if len(sys.argv) > 1 else 2
only = set(sys.argv[3:])
torch.set_num_threads(th); torch.manual_seed(0)
def want(name): return not only or name in only
def tm(f, reps, warm=3):
    for _ in range(warm): f()
    best = float("inf")
    for _ in range(3):  # best of three rounds: the machine is shared, the minimum is the least disturbed
        t = time.perf_counter()
        for _ in range(reps): f()
        best = min(best, (time.perf_counter() - t) / reps)
    return best
res = {}
for n in (128, 256, 512, 1024, 2048):
    if not want(f"sgemm{n}_gflops"): continue
    a = torch.randn(n, n); b = torch.randn(n, n)
    s = tm(lambda: torch.mm(a, b), max(3, int(2e9 / (2 * n**3))))
    res[f"sgemm{n}_gflops"] = 2 * n**3 / s / 1e9
def load(p):
    with gzip.open(p) as f:
        d = f.read()
    if struct.unpack('>I', d[:4])[0] == 2051:
        n, r, c = struct.unpack('>III', d[4:16]); return np.frombuffer(d, np.uint8, offset=16).reshape(n, 1, r, c).astype(np.float32) / 255
    return np.frombuffer(d, np.uint8, offset=8).astype(np.int64)
root = (sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data', 'fashion-mnist')) + '/'
X = torch.from_numpy(load(root + 'train-images-idx3-ubyte.gz')); Y = torch.from_numpy(load(root + 'train-labels-idx1-ubyte.gz'))
def train_rate(model, bs, steps, flat):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    i = [0]
    def step():
        j = (i[0] * bs) % (60000 - bs); i[0] += 1
        x = X[j:j + bs]; x = x.view(bs, -1) if flat else x
        loss = F.cross_entropy(model(x), Y[j:j + bs]); opt.zero_grad(); loss.backward(); opt.step()
    return bs / tm(step, steps)
def Mlp(): return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
def LeNet(): return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(cout)
        s.downsample = None if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(s, x):
        out = F.relu(s.bn1(s.conv1(x))); out = s.bn2(s.conv2(out))
        return F.relu(out + (x if s.downsample is None else s.downsample(x)))
class ResNet20(nn.Module):
    def __init__(s, cin=1, classes=10):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(16)
        layers, c = [], 16
        for i, w in enumerate((16, 32, 64)):
            blocks = [Block(c, w, 1 if i == 0 else 2)] + [Block(w, w, 1) for _ in range(2)]
            layers.append(nn.Sequential(*blocks)); c = w
        s.layer1, s.layer2, s.layer3 = layers
        s.fc = nn.Linear(64, classes)
    def forward(s, x):
        x = F.relu(s.bn1(s.conv1(x)))
        x = s.layer3(s.layer2(s.layer1(x)))
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
mlp = Mlp()
if want("mlp_b64_samples_per_s"): res["mlp_b64_samples_per_s"] = train_rate(mlp, 64, 300, True)
if want("mlp_b8_samples_per_s"): res["mlp_b8_samples_per_s"] = train_rate(mlp, 8, 500, True)
if want("mlp_b1_samples_per_s"): res["mlp_b1_samples_per_s"] = train_rate(Mlp(), 1, 2000, True)
if want("lenet_b64_samples_per_s"): res["lenet_b64_samples_per_s"] = train_rate(LeNet(), 64, 100, False)
if want("resnet20_b64_samples_per_s"): res["resnet20_b64_samples_per_s"] = train_rate(ResNet20(), 64, 30, False)
class CharLM(nn.Module):
    def __init__(s, V=65, H=256):
        super().__init__(); s.e = nn.Embedding(V, 64); s.l = nn.LSTM(64, H, batch_first=True); s.o = nn.Linear(H, V)
    def forward(s, x): return s.o(s.l(s.e(x))[0])
if want("charlstm_b32_t64_h256_tokens_per_s"):
    lm = CharLM(); lopt = torch.optim.Adam(lm.parameters(), 2e-3)
    tok = torch.randint(0, 65, (32, 65))
    def lstep():
        out = lm(tok[:, :-1]); loss = F.cross_entropy(out.reshape(-1, 65), tok[:, 1:].reshape(-1)); lopt.zero_grad(); loss.backward()
        nn.utils.clip_grad_norm_(lm.parameters(), 1.0); lopt.step()
    res["charlstm_b32_t64_h256_tokens_per_s"] = 32 * 64 / tm(lstep, 20)
# Inference latency (eval mode, no grad) at batch 1 and 64: NAME_infer_bB_us.
# Repetitions (batch 1, batch 64) keep each workload to a few seconds.
for name, make, shape, reps in (("mlp", lambda: mlp, (784,), (2000, 200)), ("lenet", LeNet, (1, 28, 28), (2000, 200)),
                                ("resnet20", ResNet20, (1, 28, 28), (200, 20))):
    for b in (1, 64):
        key = f"{name}_infer_b{b}_us"
        if not want(key): continue
        model = make().eval(); x = torch.randn((b,) + shape)
        with torch.no_grad():
            res[key] = tm(lambda: model(x), reps[0 if b == 1 else 1], 50 if b == 1 else 5) * 1e6
# A server's memory: 1,500 no-grad LeNet forwards with seeded random batch sizes 1-256, then peak RSS (VmHWM).
# Run it alone in its process (compare_bench.py does), or the other workloads' memory counts too.
if want("infer_varying_batch_peak_rss_mb"):
    model = LeNet().eval(); rng = random.Random(1234); images = torch.rand(256, 1, 28, 28)
    with torch.no_grad():
        for _ in range(1500): model(images[:rng.randint(1, 256)])
    res["infer_varying_batch_peak_rss_mb"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
res["threads"] = th
out = {k: round(v, 2) for k, v in res.items()}
out["cpu"] = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")  # as DeepSharp's bench
print(json.dumps(out))
