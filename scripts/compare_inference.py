#!/usr/bin/env python3
"""Inference latency side by side in one run: DeepSharp eager (eval + no-grad), DeepSharp prepared (InferenceModel) and
ONNX Runtime (bench/OrtPeer), each at 1 and 2 threads, for mlp, lenet and resnet20 at batch 1 and 64 (µs, lower is better).
The ratio is ONNX Runtime's best time over DeepSharp prepared's best time (> 1: DeepSharp is faster).

Usage: python3 scripts/compare_inference.py [--no-build] [--rounds N]
Builds both benches first (outside any timing), exports the ONNX models when missing (needs /usr/bin/python3 with torch),
then runs N rounds (default 3) of: DeepSharp 1T, ONNX Runtime 1T, DeepSharp 2T, ONNX Runtime 2T, and keeps each side's
best figure per workload and thread count over the rounds. On a shared virtual machine a core can run slowly for a minute
at a time; alternating the sides gives both the same chance of a fast phase. Wrap only the run in `frozen` where it exists:
  python3 scripts/compare_inference.py --build-only && frozen python3 scripts/compare_inference.py --no-build
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "DeepSharp.Bench")
PEER = os.path.join(ROOT, "bench", "OrtPeer")
ONNX = os.path.join(ROOT, "bench", "onnx")
MODELS = ["mlp", "lenet", "resnet20"]
KEYS = [f"{m}_infer_b{b}_us" for m in MODELS for b in (1, 64)]


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in output:\n" + out[-2000:])


def build():
    if not all(os.path.exists(os.path.join(ONNX, m + ".onnx")) for m in MODELS):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "export_bench_onnx.py"), ONNX], check=True)
    for project in (BENCH, PEER):
        subprocess.run(["dotnet", "build", "-c", "Release", "-v", "q", "-nologo", "-p:UseSharedCompilation=false", project], check=True, stdout=subprocess.DEVNULL)


def run(cmd):
    return last_json(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def keep_best(side, threads, figures):
    """Merges one run's figures into side[threads], keeping the lowest time of each workload (other fields as last seen)."""
    best = side.setdefault(threads, {})
    for key, value in figures.items():
        if key.endswith("_us") and isinstance(value, (int, float)) and key in best:
            best[key] = min(best[key], value)
        else:
            best[key] = value


def main(args):
    if "--no-build" not in args:
        build()
    if "--build-only" in args:
        return
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    ds_names = KEYS + [k.replace("_us", "_eager_us") for k in KEYS]
    ds, ort = {}, {}
    for r in range(rounds):
        for t in (1, 2):
            keep_best(ds, t, run(["dotnet", os.path.join(BENCH, "bin", "Release", "net10.0", "DeepSharp.Bench.dll"), "--threads", str(t)] + ds_names))
            keep_best(ort, t, run(["dotnet", os.path.join(PEER, "bin", "Release", "net10.0", "OrtPeer.dll"), "--threads", str(t), "--models", ONNX]))
        print(f"round {r + 1} of {rounds} done", file=sys.stderr)
    print(f"{rounds} alternating rounds, each side's best per workload and thread count")
    print(f"CPU: {ds[1].get('cpu')} ({ds[1].get('vectors')}); ONNX Runtime {ort[1].get('onnxruntime')}")
    print()
    print("| workload (µs) | eager 1T | eager 2T | prepared 1T | prepared 2T | ORT 1T | ORT 2T | ORT best / prepared best |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in KEYS:
        e = k.replace("_us", "_eager_us")
        mine, theirs = min(ds[1][k], ds[2][k]), min(ort[1][k], ort[2][k])
        print(f"| {k} | {ds[1][e]:,.1f} | {ds[2][e]:,.1f} | {ds[1][k]:,.1f} | {ds[2][k]:,.1f} | {ort[1][k]:,.1f} | {ort[2][k]:,.1f} | {theirs / mine:.2f}x |")
    print()
    print("raw:", json.dumps({"deepsharp": ds, "onnxruntime": ort}))


if __name__ == "__main__":
    main(sys.argv[1:])
