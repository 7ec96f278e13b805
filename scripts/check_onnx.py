#!/usr/bin/env python3
"""Runs the official ONNX checker (Debian's python3-onnx) over every .onnx file of a folder.

Usage: /usr/bin/python3 scripts/check_onnx.py FOLDER

For each file: onnx.checker.check_model with full_check=True (the graph rules plus strict shape inference, so every
node's inputs must have the types and shapes its operator schema accepts). Prints "ok NAME" or "FAIL NAME: reason"
per file and exits non-zero if any file fails or the folder holds none. CI's onnxcheck leg runs it over the models
DeepSharp's export tests write (DEEPSHARP_ONNX_EXPORT_DIR).
"""
import pathlib
import sys

import onnx


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.onnx"))
    if not files:
        print(f"FAIL no .onnx files in {sys.argv[1]}")
        return 1
    failed = 0
    for f in files:
        try:
            onnx.checker.check_model(onnx.load(str(f)), full_check=True)
            print(f"ok {f.stem}")
        except Exception as e:  # the checker raises ValidationError and shape-inference errors
            failed += 1
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            print(f"FAIL {f.stem}: {first}")
    print(f"onnx {onnx.__version__}: {len(files) - failed} of {len(files)} files pass the checker")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
