#!/usr/bin/env python3
"""Runs DeepSharp's bench and its two peers side by side on this machine, each at 1 and 2 threads, one after
the other in one run, and prints a markdown table with each side's best and the ratios against the peers.

Peers: bench/TorchSharpPeer (TorchSharp over LibTorch 2.10: MKL, oneDNN; what a .NET user would pick instead)
and scripts/peer_torch.py (Debian's PyTorch 1.13, generic BLAS: a weak baseline).
Ratios: DeepSharp's best / the peer's best, inverted for times (_us) and memory (_mb), so above 1 always means
DeepSharp is better. infer_varying_batch_peak_rss_mb measures a process's peak memory, so each side runs it
alone in a fresh process.

After the table it states the GEMM's share of the FMA peak on one thread, with AVX-512 where the CPU has it and
on the AVX2 path (DeepSharp rerun with DOTNET_EnableAVX512=0, best of five processes, with their median).

Usage: python3 scripts/compare_bench.py [--json FILE] [WORKLOAD ...]
Pause other work on the machine while it runs (it takes 15-25 minutes for everything on 2 cores).
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "fashion-mnist")
ALONE = {"infer_varying_batch_peak_rss_mb"}  # workloads that need a process of their own
LOWER_IS_BETTER = ("_us", "_mb", "_pct", "_per_step", "_per_1000_steps")


def last_json(out):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in output:\n" + out[-2000:])


def run(cmd):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return last_json(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def bench_dll():
    # No shared compiler or MSBuild servers: another job's paused server must not stall this build.
    env = dict(os.environ, MSBUILDDISABLENODEREUSE="1", DOTNET_CLI_USE_MSBUILD_SERVER="0")
    subprocess.run(["dotnet", "build", "-c", "Release", "-v", "q", "-nologo", "-p:UseSharedCompilation=false",
                    os.path.join(ROOT, "bench", "DeepSharp.Bench")], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, "bench", "DeepSharp.Bench", "bin", "Release", "net10.0", "DeepSharp.Bench.dll")


def sides():
    dll = bench_dll()
    return {
        "DeepSharp": lambda t, names: ["dotnet", dll, "--threads", str(t)] + names,
        "TorchSharp": lambda t, names: ["bash", os.path.join(ROOT, "bench", "TorchSharpPeer", "run.sh"), str(t), DATA] + names,
        "PyTorch": lambda t, names: ["/usr/bin/python3", os.path.join(ROOT, "scripts", "peer_torch.py"), str(t), DATA] + names,
    }


def measure(command, threads, names):
    """One side at one thread count: the shared-process workloads in one run, each ALONE workload in its own."""
    shared = [n for n in names if n not in ALONE] if names else []
    alone = [n for n in names if n in ALONE] if names else sorted(ALONE)
    result = {}
    if shared or not names:
        # With no names a side runs everything; its ALONE figures from that run are replaced below.
        result.update(run(command(threads, shared)))
    for name in alone:
        result.update({k: v for k, v in run(command(threads, [name])).items() if k == name})
    return result


def better(key):
    return min if key.endswith(LOWER_IS_BETTER) else max


def best(runs, key):
    values = [r[key] for r in runs.values() if isinstance(r.get(key), (int, float))]
    return better(key)(values) if values else None


def ratio(ours, theirs, key):
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return ""
    return f"{(theirs / ours if better(key) is min else ours / theirs):.2f}x"


GEMM_KEYS = ("sgemm1024_gflops", "sgemm2048_gflops")


def efficiency(run):
    """sgemm GFLOPS of one DeepSharp run as a share of the FMA peak measured in the same process."""
    peak = run.get("fma_peak_gflops")
    return {k: 100 * run[k] / peak for k in GEMM_KEYS if peak and isinstance(run.get(k), (int, float))}


def avx2_efficiency(command):
    """The AVX2 path on one thread: each process's sgemm over its own peak, the best of five processes."""
    env = dict(os.environ, DOTNET_EnableAVX512="0")
    shares = []
    for _ in range(5):
        cmd = command(1, ["fma_peak_gflops", "sgemm1024_gflops"])
        print("+ DOTNET_EnableAVX512=0 " + " ".join(cmd), file=sys.stderr, flush=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
        shares.append(efficiency(last_json(out)).get("sgemm1024_gflops"))
    return [s for s in shares if s is not None]


def main(argv):
    out = None
    if argv[:1] == ["--json"]:
        out, argv = argv[1], argv[2:]
    names = argv
    commands = sides()
    results = {side: {t: measure(command, t, names) for t in (1, 2)} for side, command in commands.items()}
    avx2 = avx2_efficiency(commands["DeepSharp"]) if not names or "sgemm1024_gflops" in names else []
    ds = results["DeepSharp"]
    print(f"CPU: {ds[1].get('cpu', '?')} ({ds[1].get('vectors', '?')}), {os.cpu_count()} logical cores")
    for side in ("TorchSharp", "PyTorch"):
        if results[side][1].get("cpu", ds[1].get("cpu")) != ds[1].get("cpu"):
            print(f"warning: {side} reports CPU {results[side][1].get('cpu')!r}: the sides did not run on the same machine")
    print()
    print("| workload | DeepSharp 1T | DeepSharp 2T | TorchSharp 1T | TorchSharp 2T | PyTorch 1T | PyTorch 2T | vs TorchSharp | vs PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    keys = [k for k in ds[1] if isinstance(ds[1][k], (int, float)) and k != "threads"]
    fmt = lambda v: "-" if v is None else f"{v:,.2f}"
    for k in keys:
        ours = best(ds, k)
        cells = [fmt(results[s][t].get(k)) for s in results for t in (1, 2)]
        vs = [ratio(ours, best(results[s], k), k) for s in ("TorchSharp", "PyTorch")]
        print(f"| {k} | " + " | ".join(cells + vs) + " |")
    print()
    for k, share in efficiency(ds[1]).items():
        print(f"{k} on one thread: {share:.1f} % of the FMA peak ({ds[1].get('vectors', '?')})")
    if avx2:
        print(f"sgemm1024_gflops on one thread, AVX2 path: {max(avx2):.1f} % of its FMA peak, best of "
              f"{len(avx2)} processes, median {sorted(avx2)[len(avx2) // 2]:.1f} % (each: {', '.join(f'{a:.1f}' for a in avx2)})")
    if out:
        doc = {s: {str(t): r for t, r in v.items()} for s, v in results.items()}
        doc["avx2_sgemm1024_pct_of_peak"] = avx2
        with open(out, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
