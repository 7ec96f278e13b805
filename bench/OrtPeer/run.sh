#!/usr/bin/env bash
# Runs the ONNX Runtime peer: bench/OrtPeer/run.sh THREADS [NAME ...]; prints one JSON line.
# The .onnx files are not committed: they are exported here (Debian's python3-torch) when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; onnx="$here/../onnx"
for m in mlp lenet resnet20; do
  [[ -f "$onnx/$m.onnx" ]] || { /usr/bin/python3 "$here/../../scripts/export_bench_onnx.py" "$onnx" >&2; break; }
done
dotnet build -c Release -v q -nologo -p:UseSharedCompilation=false "$here/OrtPeer.csproj" >&2
threads="$1"; shift
dotnet "$here/bin/Release/net10.0/OrtPeer.dll" --threads "$threads" --models "$onnx" "$@"
