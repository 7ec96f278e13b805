#!/usr/bin/env bash
# Runs the TorchSharp peer: run.sh THREADS FASHION_MNIST_DIR [NAME ...]; prints one JSON line.
# Builds outside the repository, in ~/.cache/deepsharp-torchsharp-peer, so no bin/ or obj/ lands here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; art="${XDG_CACHE_HOME:-$HOME/.cache}/deepsharp-torchsharp-peer"
bash "$here/setup.sh" >/dev/null 2>&1
MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0 dotnet build -c Release -v q -nologo -p:UseSharedCompilation=false --artifacts-path "$art" "$here/TorchSharpPeer.csproj" >/dev/null
DOTNET_ROOT=/opt/dotnet-peer LD_LIBRARY_PATH=/opt/peer-rt /opt/dotnet-peer/dotnet exec "$art/bin/TorchSharpPeer/release/TorchSharpPeer.dll" "$@" 2>/dev/null | grep -E '^\{' | tail -1
