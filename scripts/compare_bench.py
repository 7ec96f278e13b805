#!/usr/bin/env python3
"""Runs DeepSharp's bench and PyTorch's peer script side by side on this machine (1 and 2 threads each),
takes each side's best per workload, and prints a markdown table of DeepSharp/PyTorch ratios
(for *_us workloads the ratio is PyTorch time / DeepSharp time, so > 1 always means DeepSharp is faster).

Usage: python3 scripts/compare_bench.py [WORKLOAD ...]   (needs /usr/bin/python3 with torch for the peer)
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in output:\n" + out[-2000:])


def run_deepsharp(threads, names):
    cmd = ["dotnet", "run", "-c", "Release", "--project", os.path.join(ROOT, "bench", "DeepSharp.Bench"), "--", "--threads", str(threads)] + names
    return last_json(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def run_torch(threads):
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "scripts", "peer_torch.py"), str(threads), os.path.join(ROOT, "data", "fashion-mnist")]
    return last_json(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def best(a, b, key):
    vals = [v[key] for v in (a, b) if key in v]
    if not vals:
        return None
    return min(vals) if key.endswith("_us") else max(vals)


def main(names):
    ds = {t: run_deepsharp(t, names) for t in (1, 2)}
    pt = {t: run_torch(t) for t in (1, 2)}
    keys = [k for k in ds[1] if k != "threads" and (not names or k in names)]
    print("| workload | DeepSharp 1T | DeepSharp 2T | PyTorch 1T | PyTorch 2T | ratio (best vs best) |")
    print("|---|---:|---:|---:|---:|---:|")
    for k in keys:
        d, p = best(ds[1], ds[2], k), best(pt[1], pt[2], k)
        ratio = "" if d is None or p is None or d == 0 else (f"{p / d:.2f}x" if k.endswith("_us") else f"{d / p:.2f}x")
        fmt = lambda v: "-" if v is None else f"{v:,.2f}"
        print(f"| {k} | {fmt(ds[1].get(k))} | {fmt(ds[2].get(k))} | {fmt(pt[1].get(k))} | {fmt(pt[2].get(k))} | {ratio} |")
    print()
    print("raw:", json.dumps({"deepsharp": ds, "torch": pt}))


if __name__ == "__main__":
    main(sys.argv[1:])
