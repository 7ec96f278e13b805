#!/usr/bin/python3
"""Generate torchvision reference fixtures for DeepSharp's image transforms.

Usage (Debian's python3 has torch 1.13 and torchvision 0.14; the pyenv python3 on PATH does not):

    /usr/bin/python3 scripts/gen_transform_fixtures.py [output_path]

Writes tests/fixtures/transforms.json (relative to the repo root) atomically: a temp file in the
same folder is written, validated (every case is rerun from the parsed JSON and must reproduce its
output exactly), then os.replace'd over the old one.

Deterministic: each case seeds torch with crc32(case id), so a rerun gives identical output and
adding a case leaves the others unchanged.

The cases cover the deterministic operations (torchvision.transforms.functional on tensors); the
random transforms draw their parameters from DeepSharp's own generator and run the same kernels.

Format:
    {"generator", "torch_version", "torchvision_version", "cases": [CASE, ...]}
    CASE = {"id", "op", "args", "input": TENSOR, "output": TENSOR}
    TENSOR = {"dtype": "float32"|"int64", "shape": [...], "data": [flat row-major]}
The semantics of every op and its args are in run() below; the C# side mirrors them in
tests/DeepSharp.Tests/Data/Transforms/TransformParityTests.cs.
"""

import json
import os
import sys
import tempfile
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

GENERATOR = "scripts/gen_transform_fixtures.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "transforms.json")

torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=UserWarning)  # antialias default notices

MODES = {"nearest": InterpolationMode.NEAREST, "bilinear": InterpolationMode.BILINEAR}


def run(op, args, x):
    """The single source of truth for what each op name means."""
    if op == "interpolate":  # torch.nn.functional.interpolate(bilinear, align_corners=False)
        return F.interpolate(x, size=args["size"], mode="bilinear", align_corners=False)
    if op == "resize":  # torchvision Resize: int = smaller edge, [h, w] = exact
        return T.Resize(args["size"])(x)
    if op == "resized_crop":
        return TF.resized_crop(x, args["top"], args["left"], args["height"], args["width"], args["size"], InterpolationMode.BILINEAR)
    if op == "rotate":  # fill always a list, as RandomRotation passes it
        return TF.rotate(x, args["angle"], interpolation=MODES[args["mode"]], fill=args["fill"],
                         center=args.get("center"))
    if op == "affine":  # fill always a list, as RandomAffine passes it
        return TF.affine(x, angle=args["angle"], translate=args["translate"], scale=args["scale"], shear=args["shear"],
                         interpolation=MODES[args["mode"]], fill=args["fill"], center=args.get("center"))
    if op == "pad":
        return TF.pad(x, args["padding"], fill=args["fill"], padding_mode=args["mode"])
    if op == "crop":
        return TF.crop(x, args["top"], args["left"], args["height"], args["width"])
    if op == "center_crop":
        return TF.center_crop(x, args["size"])
    if op == "hflip":
        return TF.hflip(x)
    if op == "vflip":
        return TF.vflip(x)
    if op == "normalize":
        return TF.normalize(x, args["mean"], args["std"])
    if op == "erase":
        v = torch.tensor(args["value"], dtype=torch.float32)[:, None, None]
        return TF.erase(x, args["top"], args["left"], args["height"], args["width"], v)
    if op == "to_tensor":  # int64 stands in for uint8 (DeepSharp has no uint8 dtype)
        return TF.to_tensor(x.numpy().astype(np.uint8))
    raise ValueError(op)


CASES = []


def seeded(cid):
    torch.manual_seed(zlib.crc32(cid.encode()))


def ramp(*shape):
    n = int(np.prod(shape))
    return (torch.arange(n, dtype=torch.float32) / n).reshape(shape)


def tensor_json(t):
    if t.dtype == torch.int64:
        return {"dtype": "int64", "shape": list(t.shape), "data": [int(v) for v in t.flatten().tolist()]}
    t = t.to(torch.float32).contiguous()
    data = [float(v) for v in t.flatten().tolist()]
    assert all(np.isfinite(data))
    return {"dtype": "float32", "shape": list(t.shape), "data": data}


def tensor_from(d):
    dtype = torch.int64 if d["dtype"] == "int64" else torch.float32
    return torch.tensor(d["data"], dtype=dtype).reshape(d["shape"])


def case(cid, op, args, make_input):
    seeded(cid)
    x = make_input()
    y = run(op, args, x)
    CASES.append({"id": cid, "op": op, "args": args, "input": tensor_json(x), "output": tensor_json(y)})


def rand(*shape):
    return lambda: torch.rand(*shape)


def build():
    # Resize: ramps (the brief's reference) and random images, up and down, non-square.
    case("interpolate_ramp_up", "interpolate", {"size": [9, 12]}, lambda: ramp(1, 1, 5, 7))
    case("interpolate_ramp_down", "interpolate", {"size": [4, 5]}, lambda: ramp(1, 1, 9, 12))
    case("interpolate_ramp_28_to_32", "interpolate", {"size": [32, 32]}, lambda: ramp(1, 1, 28, 28))
    case("interpolate_random_mixed", "interpolate", {"size": [4, 9]}, rand(2, 3, 6, 5))
    case("resize_smaller_edge", "resize", {"size": 4}, rand(2, 6, 9))
    case("resize_smaller_edge_tall", "resize", {"size": 5}, rand(1, 11, 7))
    case("resize_exact", "resize", {"size": [3, 8]}, rand(3, 5, 5))
    case("resized_crop", "resized_crop", {"top": 1, "left": 2, "height": 5, "width": 6, "size": [7, 4]}, rand(3, 8, 10))

    # Rotation about the centre or a given point, bilinear and nearest, scalar and per-channel fill.
    case("rotate_30", "rotate", {"angle": 30.0, "mode": "bilinear", "fill": [0.0]}, rand(1, 7, 9))
    case("rotate_minus45_fill", "rotate", {"angle": -45.0, "mode": "bilinear", "fill": [0.25]}, rand(1, 8, 8))
    case("rotate_90_odd", "rotate", {"angle": 90.0, "mode": "bilinear", "fill": [0.0]}, rand(1, 5, 5))
    case("rotate_center", "rotate", {"angle": 12.5, "mode": "bilinear", "fill": [0.0], "center": [2, 3]}, rand(1, 6, 7))
    case("rotate_rgb_fill", "rotate", {"angle": 20.0, "mode": "bilinear", "fill": [0.1, 0.5, 0.9]}, rand(2, 3, 6, 6))
    case("rotate_nearest", "rotate", {"angle": 33.0, "mode": "nearest", "fill": [0.5]}, rand(1, 7, 9))

    # Affine: rotation (clockwise), translation, scale and shear.
    case("affine_translate", "affine", {"angle": 0.0, "translate": [1, 2], "scale": 1.0, "shear": [0.0, 0.0],
                                        "mode": "bilinear", "fill": [0.0]}, rand(1, 6, 7))
    case("affine_all", "affine", {"angle": 15.0, "translate": [2, -1], "scale": 1.1, "shear": [5.0, -3.0],
                                  "mode": "bilinear", "fill": [0.3]}, rand(1, 9, 8))
    case("affine_zoom_out", "affine", {"angle": -30.0, "translate": [0, 0], "scale": 0.8, "shear": [10.0, 0.0],
                                       "mode": "bilinear", "fill": [0.0]}, rand(2, 1, 10, 10))
    case("affine_nearest", "affine", {"angle": 7.0, "translate": [1, 0], "scale": 0.9, "shear": [4.0, 2.0],
                                      "mode": "nearest", "fill": [0.2]}, rand(1, 8, 9))
    case("affine_center", "affine", {"angle": 25.0, "translate": [0, 1], "scale": 1.2, "shear": [0.0, 0.0],
                                     "mode": "bilinear", "fill": [0.0], "center": [1.5, 4]}, rand(1, 6, 8))

    # Padding modes, crops that leave the image, centre crops (smaller, larger, odd offsets).
    for mode in ["constant", "edge", "reflect", "symmetric"]:
        case("pad_" + mode, "pad", {"padding": [2, 1, 3, 2], "fill": 0.5, "mode": mode}, rand(2, 4, 5))
    case("crop_inside", "crop", {"top": 1, "left": 2, "height": 3, "width": 4}, rand(1, 6, 7))
    case("crop_outside", "crop", {"top": -2, "left": 3, "height": 6, "width": 6}, rand(2, 5, 6))
    case("center_crop_smaller", "center_crop", {"size": [4, 5]}, rand(1, 7, 8))
    case("center_crop_odd", "center_crop", {"size": [2, 3]}, rand(1, 5, 6))
    case("center_crop_larger", "center_crop", {"size": [6, 7]}, rand(2, 3, 4))

    case("hflip", "hflip", {}, rand(2, 3, 4))
    case("vflip", "vflip", {}, rand(2, 3, 4))
    case("normalize", "normalize", {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, rand(2, 3, 4, 5))
    case("erase", "erase", {"top": 1, "left": 2, "height": 2, "width": 3, "value": [0.0, 1.0, -0.5]}, rand(3, 5, 6))
    case("to_tensor_gray", "to_tensor", {}, lambda: torch.randint(0, 256, (4, 5, 1)))
    case("to_tensor_rgb", "to_tensor", {}, lambda: torch.randint(0, 256, (3, 4, 3)))


def dump_text():
    header = {"generator": GENERATOR, "torch_version": torch.__version__, "torchvision_version": torchvision.__version__}
    dump = lambda o: json.dumps(o, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return "{" + dump(header)[1:-1] + ',"cases":[\n' + ",\n".join(dump(c) for c in CASES) + "\n]}\n"


def validate(path):
    with open(path, "r", encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["generator"] == GENERATOR
    ids = set()
    for c in doc["cases"]:
        assert c["id"] not in ids, c["id"]
        ids.add(c["id"])
        for key in ("input", "output"):
            d = c[key]
            assert len(d["data"]) == int(np.prod(d["shape"])), (c["id"], key)
            if d["dtype"] == "float32":
                arr = np.array(d["data"], dtype=np.float64)
                assert np.array_equal(arr.astype(np.float32).astype(np.float64), arr), (c["id"], key, "not float32-exact")
        y = run(c["op"], c["args"], tensor_from(c["input"]))
        expect = tensor_from(c["output"])
        assert list(y.shape) == c["output"]["shape"], c["id"]
        assert torch.equal(y.to(expect.dtype), expect), c["id"] + ": rerun from the JSON differs"
    return doc


def main(argv):
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    build()
    d = os.path.dirname(os.path.abspath(out))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".transforms.", suffix=".json.tmp", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump_text())
        doc = validate(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"wrote {len(doc['cases'])} cases to {out}")


if __name__ == "__main__":
    main(sys.argv)
