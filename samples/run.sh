#!/usr/bin/env bash
# Packs DeepSharp and the deepsharp tool into artifacts/feed, then, as a user of the packages would:
#   1. builds every sample against the packed library (samples/NuGet.config: the local feed, dependencies from nuget.org)
#      and runs it (AotInference as a NativeAOT binary, twice: the first run trains and saves, the second loads);
#   2. installs the tool from the feed and runs `deepsharp train --model mlp --epochs 1` in an empty directory with no
#      network (unshare -n), checking that it reports a test accuracy above 80 %.
# Usage: samples/run.sh [--quick]   (--quick: each sample's --quick mode; CartPole always runs in full, it takes seconds)
# Prints "ok"/"FAIL" per check (each sample, the tool) and a last line "samples: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=""
[[ ${1:-} == "--quick" ]] && quick="--quick"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0
build_flags=(-c Release -p:UseSharedCompilation=false -v quiet -nologo)

artifacts=$root/artifacts
feed=$artifacts/feed
logs=$artifacts/samples-logs
work=$artifacts/samples-run           # the samples' working directory (AotInference keeps its weights here)
rm -rf "$feed" "$logs" "$work"
mkdir -p "$feed" "$logs" "$work/tmp"
export TMPDIR=$work/tmp                # generated image folders and CSV files go here, not to /tmp
passed=0 failed=0
pass() { passed=$(( passed + 1 )); echo "ok    $1"; }
fail() { failed=$(( failed + 1 )); echo "FAIL  $1"; [[ -f ${2:-} ]] && tail -n 25 "$2"; }
finish() { echo "samples: $passed passed, $failed failed"; [[ $failed -eq 0 ]]; exit $?; }

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)
echo "== pack DeepSharp $version and DeepSharp.Cli into $feed"
pack_start=$SECONDS
if ! { dotnet pack src/DeepSharp "${build_flags[@]}" -o "$feed" && dotnet pack src/DeepSharp.Cli "${build_flags[@]}" -o "$feed"; } \
     </dev/null >"$logs/pack.log" 2>&1; then
  tail -n 25 "$logs/pack.log"
  for check in ImageFolderCnn CsvRegression CharLstm CartPole AotInference "deepsharp tool"; do fail "$check: not run, dotnet pack failed"; done
  finish
fi
echo "packed in $(( SECONDS - pack_start )) s: $(cd "$feed" && ls -- *.nupkg | tr '\n' ' ')"

# A package version is immutable to NuGet: a re-pack with the same version is only picked up once the copy restored
# earlier is gone from the global packages folder.
packages=$(dotnet nuget locals global-packages --list </dev/null | sed -n 's/^global-packages: *//p')
[[ -n $packages ]] && rm -rf "$packages/deepsharp/$version" "$packages/deepsharp.cli/$version"

# Builds a sample against the packed library and runs it from the working directory.
run_sample() {
  local name=$1; shift
  local log=$logs/$name.log build_start=$SECONDS
  rm -rf "samples/$name/bin" "samples/$name/obj"   # an incremental build could keep the DeepSharp.dll of an earlier pack
  if ! dotnet build "samples/$name" "${build_flags[@]}" -p:DeepSharpVersion="$version" </dev/null >"$log" 2>&1; then
    fail "$name (build)" "$log"; return
  fi
  local start=$SECONDS build_seconds=$(( SECONDS - build_start ))
  if (cd "$work" && dotnet "$root/samples/$name/bin/Release/net10.0/$name.dll" "$@") </dev/null >>"$log" 2>&1; then
    pass "$name${*:+ $*} (build ${build_seconds} s, run $(( SECONDS - start )) s): $(grep -vE '^\s*$' "$log" | grep -iE 'accuracy|rmse|validation loss after|evaluation' | tail -n 1)"
  else
    fail "$name${*:+ $*}" "$log"
  fi
}

echo "== samples against the packed library"
run_sample ImageFolderCnn $quick
run_sample CsvRegression $quick
run_sample CharLstm $quick
run_sample CartPole

# AotInference: NativeAOT publish, then the native binary twice (train and save, then load the saved weights).
start=$SECONDS
aot=$work/aot
rm -rf samples/AotInference/bin samples/AotInference/obj
log=$logs/AotInference.log
if dotnet publish samples/AotInference "${build_flags[@]}" -r linux-x64 -p:PublishAot=true -p:DeepSharpVersion="$version" -o "$aot" \
     </dev/null >"$log" 2>&1; then
  publish_seconds=$(( SECONDS - start ))
  if (cd "$work" && rm -f spirals.safetensors && "$aot/AotInference" $quick && "$aot/AotInference" $quick) </dev/null >>"$log" 2>&1 \
     && grep -q '^saved ' "$log" && grep -q '^loaded ' "$log"; then
    pass "AotInference native (publish ${publish_seconds} s, $(( $(stat -c %s "$aot/AotInference") / 1024 / 1024 )) MiB): $(grep accuracy "$log" | tail -n 1)"
  else
    fail "AotInference native binary" "$log"
  fi
else
  fail "AotInference (NativeAOT publish)" "$log"
fi

# The tool, installed from the feed into a folder OUTSIDE the repository (an installed tool looks for data/ in the
# ancestors of its own folder, so inside the repository it could fall back to the repository's copy instead of the
# data bundled in the package), run with an empty home (no download cache) and, as root, no network.
echo "== deepsharp tool from the feed, offline, in an empty directory"
log=$logs/tool.log
outside=$(mktemp -d /tmp/deepsharp-tool-check.XXXXXX)
mkdir -p "$outside/tool" "$outside/home" "$outside/empty"
# (samples/NuGet.config names the feed and maps DeepSharp* to it; dotnet refuses --add-source next to a source mapping.)
if dotnet tool install DeepSharp.Cli --version "$version" --tool-path "$outside/tool" \
     --configfile samples/NuGet.config </dev/null >"$log" 2>&1; then
  isolate=(unshare -n)
  if [[ $(id -u) -ne 0 ]] || ! unshare -n true 2>/dev/null; then
    isolate=()
    echo "note: not root (or unshare unavailable): the tool runs WITH network access"
  fi
  start=$SECONDS
  if (cd "$outside/empty" && env -u DEEPSHARP_DATA HOME="$outside/home" XDG_DATA_HOME="$outside/home/.local/share" \
        "${isolate[@]}" "$outside/tool/deepsharp" train --model mlp --epochs 1) </dev/null >>"$log" 2>&1; then
    accuracy=$(grep -o '"test_accuracy": *[0-9.]*' "$outside/empty/runs/mlp/metrics.json" 2>/dev/null | grep -o '[0-9.]*$')
    if [[ -n $accuracy ]] && grep -qi 'test' "$log" && awk -v a="$accuracy" 'BEGIN { exit !(a > 0.8 && a <= 1) }'; then
      pass "deepsharp train --model mlp --epochs 1 (${isolate[*]:-with network}, $(( SECONDS - start )) s): test accuracy $accuracy"
    else
      fail "deepsharp train: test accuracy '${accuracy}' missing or not above 0.8" "$log"
    fi
  else
    fail "deepsharp train --model mlp --epochs 1 in an empty directory" "$log"
  fi
else
  fail "dotnet tool install DeepSharp.Cli from the feed" "$log"
fi
rm -rf "$outside"
finish
