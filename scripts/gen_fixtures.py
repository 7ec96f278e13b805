#!/usr/bin/python3
"""Generate PyTorch reference fixtures for DeepSharp's op tests.

Usage (Debian's python3 has torch 1.13; the pyenv python3 on PATH does not):

    /usr/bin/python3 scripts/gen_fixtures.py [output_path] [--no-gradcheck]

Writes tests/fixtures/ops.json (relative to the repo root) atomically.
The output is deterministic: every case draws its inputs and grad_output from
generators seeded with crc32(case id), so adding/removing a case does not
perturb the others.

Format (one case per line inside "cases"):
    {"generator": ..., "torch_version": ..., "cases": [CASE, ...]}
    CASE = {"id", "op", "args", "inputs", "output", "grad_output", "grads"}
See scripts/README.md for details.
"""

import json
import math
import os
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

GENERATOR = "scripts/gen_fixtures.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "ops.json")

torch.set_num_threads(1)  # keep reductions' summation order stable
torch.manual_seed(0)

# Ops whose outputs are not differentiable (integer/bool outputs).
NON_DIFF_OPS = {"argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge", "max_pool2d_indices", "batch_norm_running_stats"}


# --------------------------------------------------------------------------
# Op semantics: op name + args + input tensors -> output tensor.
# This is the single source of truth (used both to generate and to validate).
# --------------------------------------------------------------------------
def _dim_kw(args):
    return {"dim": args["dim"]} if "dim" in args else {}


def apply_op(op, args, xs):
    a = xs[0] if xs else None
    kd = args.get("keepdim", False)
    # binary elementwise
    if op == "add":
        return torch.add(xs[0], xs[1], alpha=args.get("alpha", 1))
    if op == "sub":
        return torch.sub(xs[0], xs[1], alpha=args.get("alpha", 1))
    if op == "mul":
        return xs[0] * xs[1]
    if op == "div":
        return xs[0] / xs[1]
    if op == "maximum":
        return torch.maximum(xs[0], xs[1])
    if op == "minimum":
        return torch.minimum(xs[0], xs[1])
    if op == "pow":
        return torch.pow(xs[0], xs[1])
    # scalar-argument elementwise
    if op == "add_scalar":
        return a + args["scalar"]
    if op == "sub_scalar":
        return a - args["scalar"]
    if op == "rsub_scalar":
        return args["scalar"] - a
    if op == "mul_scalar":
        return a * args["scalar"]
    if op == "div_scalar":
        return a / args["scalar"]
    if op == "pow_scalar":
        return a ** args["exponent"]
    # unary
    if op == "neg":
        return torch.neg(a)
    if op == "exp":
        return torch.exp(a)
    if op == "log":
        return torch.log(a)
    if op == "log1p":
        return torch.log1p(a)
    if op == "sqrt":
        return torch.sqrt(a)
    if op == "rsqrt":
        return torch.rsqrt(a)
    if op == "abs":
        return torch.abs(a)
    if op == "sign":
        return torch.sign(a)
    if op == "sin":
        return torch.sin(a)
    if op == "cos":
        return torch.cos(a)
    if op == "tanh":
        return torch.tanh(a)
    if op == "sigmoid":
        return torch.sigmoid(a)
    if op == "relu":
        return torch.relu(a)
    if op == "leaky_relu":
        return F.leaky_relu(a, negative_slope=args["negative_slope"])
    if op == "elu":
        return F.elu(a, alpha=args["alpha"])
    if op == "gelu":
        return F.gelu(a, approximate=args["approximate"])
    if op == "softplus":
        return F.softplus(a, beta=args["beta"], threshold=args["threshold"])
    if op == "clamp":
        return torch.clamp(a, min=args.get("min"), max=args.get("max"))
    # reductions
    if op == "sum":
        return torch.sum(a, dim=args["dim"], keepdim=kd) if "dim" in args else torch.sum(a)
    if op == "mean":
        return torch.mean(a, dim=args["dim"], keepdim=kd) if "dim" in args else torch.mean(a)
    if op == "max_dim":
        return torch.max(a, args["dim"], keepdim=kd)[0]
    if op == "min_dim":
        return torch.min(a, args["dim"], keepdim=kd)[0]
    if op == "max_all":
        return torch.max(a)
    if op == "min_all":
        return torch.min(a)
    if op == "argmax":
        return torch.argmax(a, dim=args["dim"], keepdim=kd) if "dim" in args else torch.argmax(a)
    if op == "argmin":
        return torch.argmin(a, dim=args["dim"], keepdim=kd) if "dim" in args else torch.argmin(a)
    if op == "var":
        return torch.var(a, dim=args.get("dim"), unbiased=args["unbiased"], keepdim=kd)
    if op == "std":
        return torch.std(a, dim=args.get("dim"), unbiased=args["unbiased"], keepdim=kd)
    if op == "prod":
        return torch.prod(a, dim=args["dim"], keepdim=kd) if "dim" in args else torch.prod(a)
    if op == "logsumexp":
        return torch.logsumexp(a, dim=args["dim"], keepdim=kd)
    if op == "cumsum":
        return torch.cumsum(a, dim=args["dim"])
    if op == "cumprod":
        return torch.cumprod(a, dim=args["dim"])
    if op == "norm":
        return torch.norm(a, p=args["p"], dim=args.get("dim"), keepdim=kd)
    if op == "scaled_dot_product_attention":
        # torch 1.13 has the private form (torch >= 2.0: F.scaled_dot_product_attention, same semantics);
        # is_causal masks top-left aligned (torch.ones(L, S).tril()).
        if hasattr(F, "scaled_dot_product_attention"):
            return F.scaled_dot_product_attention(xs[0], xs[1], xs[2], is_causal=args["is_causal"])
        return F._scaled_dot_product_attention(xs[0], xs[1], xs[2], None, 0.0, False, args["is_causal"])[0]
    if op == "softmax":
        return torch.softmax(a, dim=args["dim"])
    if op == "log_softmax":
        return torch.log_softmax(a, dim=args["dim"])
    # matmul family
    if op == "matmul":
        return torch.matmul(xs[0], xs[1])
    if op == "bmm":
        return torch.bmm(xs[0], xs[1])
    if op == "outer":
        return torch.outer(xs[0], xs[1])
    if op == "linear":
        return F.linear(xs[0], xs[1], xs[2] if len(xs) > 2 else None)
    # views / shape
    if op == "reshape":
        return a.reshape(args["shape"])
    if op == "view":
        return a.view(args["shape"])
    if op == "transpose":
        return a.transpose(args["dim0"], args["dim1"])
    if op == "permute":
        return a.permute(args["dims"])
    if op == "narrow":
        return a.narrow(args["dim"], args["start"], args["length"])
    if op == "slice":
        d = args["dim"] % a.dim()
        idx = [slice(None)] * a.dim()
        idx[d] = slice(args["start"], args["end"], args["step"])
        return a[tuple(idx)]
    if op == "select":
        d = args["dim"] % a.dim()
        return a.select(d, args["index"] % a.shape[d])
    if op == "expand":
        return a.expand(args["sizes"])
    if op == "squeeze":
        return a.squeeze(args["dim"]) if "dim" in args else a.squeeze()
    if op == "unsqueeze":
        return a.unsqueeze(args["dim"])
    if op == "flatten":
        return a.flatten(args.get("start_dim", 0), args.get("end_dim", -1))
    if op == "contiguous_t":
        return a.t().contiguous()
    # joining
    if op == "cat":
        return torch.cat(list(xs), dim=args["dim"])
    if op == "stack":
        return torch.stack(list(xs), dim=args["dim"])
    if op == "split":
        return torch.split(a, args["split_size_or_sections"], dim=args["dim"])[args["index"]]
    if op == "chunk":
        return torch.chunk(a, args["chunks"], dim=args["dim"])[args["index"]]
    # indexing
    if op == "index_select":
        return torch.index_select(xs[0], args["dim"], xs[1])
    if op == "gather":
        return torch.gather(xs[0], args["dim"], xs[1])
    if op == "scatter_add":
        return xs[0].scatter_add(args["dim"], xs[1], xs[2])
    if op == "masked_fill":
        return xs[0].masked_fill(xs[1], args["value"])
    if op == "where":
        return torch.where(xs[0], xs[1], xs[2])
    # convolution, pooling, normalisation, padding
    if op in ("conv2d", "conv_transpose2d"):
        kw = dict(stride=tuple(args.get("stride", [1, 1])), padding=tuple(args.get("padding", [0, 0])),
                  dilation=tuple(args.get("dilation", [1, 1])), groups=args.get("groups", 1))
        bias = xs[2] if len(xs) > 2 else None
        if op == "conv2d":
            return F.conv2d(xs[0], xs[1], bias, **kw)
        return F.conv_transpose2d(xs[0], xs[1], bias, output_padding=tuple(args.get("output_padding", [0, 0])), **kw)
    if op == "conv1d":
        return F.conv1d(xs[0], xs[1], xs[2] if len(xs) > 2 else None, stride=args.get("stride", 1),
                        padding=args.get("padding", 0), dilation=args.get("dilation", 1), groups=args.get("groups", 1))
    if op in ("max_pool2d", "max_pool2d_indices"):
        r = F.max_pool2d(a, tuple(args["kernel"]), tuple(args.get("stride", args["kernel"])), tuple(args.get("padding", [0, 0])),
                         tuple(args.get("dilation", [1, 1])), ceil_mode=args.get("ceil_mode", False), return_indices=True)
        return r[0] if op == "max_pool2d" else r[1]
    if op == "max_pool1d":
        return F.max_pool1d(a, args["kernel"], args.get("stride", args["kernel"]), args.get("padding", 0),
                            args.get("dilation", 1), ceil_mode=args.get("ceil_mode", False))
    if op == "avg_pool2d":
        return F.avg_pool2d(a, tuple(args["kernel"]), tuple(args.get("stride", args["kernel"])), tuple(args.get("padding", [0, 0])),
                            ceil_mode=args.get("ceil_mode", False), count_include_pad=args.get("count_include_pad", True),
                            divisor_override=args.get("divisor_override"))
    if op == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(a, tuple(args["output_size"]))
    if op == "adaptive_max_pool2d":
        return F.adaptive_max_pool2d(a, tuple(args["output_size"]))
    if op in ("batch_norm", "batch_norm_running_stats"):
        rm, rv = xs[1].detach().clone(), xs[2].detach().clone()
        w = xs[3] if len(xs) > 3 else None
        b = xs[4] if len(xs) > 4 else None
        y = F.batch_norm(xs[0], rm, rv, w, b, training=args["training"], momentum=args.get("momentum", 0.1), eps=args.get("eps", 1e-5))
        return y if op == "batch_norm" else torch.cat([rm, rv])
    if op == "layer_norm":
        return F.layer_norm(xs[0], args["normalized_shape"], xs[1] if len(xs) > 1 else None, xs[2] if len(xs) > 2 else None, eps=args.get("eps", 1e-5))
    if op == "group_norm":
        return F.group_norm(xs[0], args["groups"], xs[1] if len(xs) > 1 else None, xs[2] if len(xs) > 2 else None, eps=args.get("eps", 1e-5))
    if op == "pad":
        return F.pad(a, args["pads"], value=args.get("value", 0.0))
    if op == "recurrent_layer":
        return recurrent_reference(args, xs)
    # comparisons
    if op in ("eq", "ne", "lt", "le", "gt", "ge"):
        return getattr(torch, op)(xs[0], xs[1])
    raise ValueError("unknown op " + op)


# --------------------------------------------------------------------------
# Input generators (bound to a per-case seeded RNG)
# --------------------------------------------------------------------------
class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def _n(self, shape):
        return int(np.prod(shape)) if len(shape) else 1

    def U(self, shape, lo=-2.0, hi=2.0):
        """Uniform floats in [lo, hi]."""
        return self.rng.uniform(lo, hi, size=tuple(shape)).astype(np.float32)

    def randn(self, shape, scale=1.0):
        return (self.rng.standard_normal(size=tuple(shape)) * scale).astype(np.float32)

    def pos(self, shape, lo=0.5, hi=2.0):
        return self.U(shape, lo, hi)

    def signed_mag(self, shape, lo=0.5, hi=1.5):
        """|x| in [lo, hi] with random sign."""
        mag = self.rng.uniform(lo, hi, size=tuple(shape))
        sgn = np.where(self.rng.random(size=tuple(shape)) < 0.5, -1.0, 1.0)
        return (mag * sgn).astype(np.float32)

    def away(self, shape, kinks=(0.0,), margin=0.05, lo=-2.0, hi=2.0):
        """Uniform in [lo, hi] but at least `margin` from every kink."""
        x = self.rng.uniform(lo, hi, size=tuple(shape))
        for _ in range(1000):
            bad = np.zeros(x.shape, dtype=bool)
            for k in kinks:
                bad |= np.abs(x - k) < margin
            if not bad.any():
                break
            x = np.where(bad, self.rng.uniform(lo, hi, size=x.shape), x)
        else:
            raise RuntimeError("could not sample away from kinks")
        return x.astype(np.float32)

    def distinct(self, shape, gap=0.1, center=0.0):
        """All values pairwise >= ~0.06 apart (no ties for max/min)."""
        n = self._n(shape)
        perm = self.rng.permutation(n).astype(np.float64)
        jitter = self.rng.uniform(0.0, 0.04 * gap / 0.1, size=n)
        v = (perm - (n - 1) / 2.0) * gap + jitter + center
        return v.reshape(tuple(shape)).astype(np.float32)

    def grid(self, shape, step=0.5, lo=-3, hi=3, offset=0.0):
        """Values k*step+offset, k integer in [lo, hi] (exact ties likely)."""
        k = self.rng.integers(lo, hi + 1, size=tuple(shape))
        return (k * step + offset).astype(np.float32)

    def ints(self, shape, lo, hi):
        """int64 values in [lo, hi)."""
        return self.rng.integers(lo, hi, size=tuple(shape)).astype(np.int64)

    def mask(self, shape, p=0.5):
        return self.rng.random(size=tuple(shape)) < p


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------
def _enc_float(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def dtype_name(t):
    if t.dtype == torch.float32:
        return "float32"
    if t.dtype == torch.int64:
        return "int64"
    if t.dtype == torch.bool:
        return "bool"
    raise TypeError(t.dtype)


def encode(t, requires_grad=None):
    t = t.detach()
    name = dtype_name(t)
    flat = t.reshape(-1)
    if name == "float32":
        data = [_enc_float(v) for v in flat.double().tolist()]
    elif name == "int64":
        data = [int(v) for v in flat.tolist()]
    else:
        data = [bool(v) for v in flat.tolist()]
    d = {"dtype": name, "shape": list(t.shape), "data": data}
    if requires_grad is not None:
        d["requires_grad"] = bool(requires_grad)
    return d


def decode(d, dtype_override=None):
    name = d["dtype"]
    if name == "float32":
        vals = [float(v) if not isinstance(v, str) else float(v) for v in d["data"]]
        t = torch.tensor(vals, dtype=dtype_override or torch.float32)
    elif name == "int64":
        t = torch.tensor(d["data"], dtype=torch.int64)
    elif name == "bool":
        t = torch.tensor(d["data"], dtype=torch.bool)
    else:
        raise TypeError(name)
    return t.reshape(d["shape"])


# --------------------------------------------------------------------------
# Case construction
# --------------------------------------------------------------------------
CASES = []
_IDS = set()


def case(cid, op, args, make_inputs, requires_grad=None):
    """make_inputs(g: Gen) -> list of numpy arrays (float32 / int64 / bool).

    requires_grad: optional list of bools per input (float inputs only);
    default True for float inputs of differentiable ops, False otherwise.
    """
    assert cid not in _IDS, "duplicate id " + cid
    assert cid.startswith(op + "/"), cid
    _IDS.add(cid)
    seed = zlib.crc32(cid.encode("utf-8"))
    g = Gen(seed)
    arrays = make_inputs(g)
    diff = op not in NON_DIFF_OPS
    xs, rgs = [], []
    for i, arr in enumerate(arrays):
        arr = np.asarray(arr)
        t = torch.from_numpy(np.ascontiguousarray(arr).copy())
        if t.dtype == torch.float64:
            raise TypeError("float64 input in " + cid)
        is_float = t.dtype == torch.float32
        rg = is_float and diff
        if requires_grad is not None:
            rg = bool(requires_grad[i]) and is_float
        if rg:
            t.requires_grad_(True)
        xs.append(t)
        rgs.append(rg)

    out = apply_op(op, args, xs)
    rec = {
        "id": cid,
        "op": op,
        "args": args,
        "inputs": [encode(x, rg) for x, rg in zip(xs, rgs)],
        "output": encode(out),
        "grad_output": None,
        "grads": [None] * len(xs),
    }
    if diff and out.dtype == torch.float32:
        tg = torch.Generator().manual_seed(seed)
        gout = torch.randn(out.shape, generator=tg, dtype=torch.float32)
        rec["grad_output"] = encode(gout)
        wrt = [x for x, rg in zip(xs, rgs) if rg]
        if wrt and out.requires_grad:
            grads = torch.autograd.grad(out, wrt, gout, allow_unused=True)
        else:
            grads = [None] * len(wrt)
        it = iter(grads)
        for i, (x, rg) in enumerate(zip(xs, rgs)):
            if rg:
                gr = next(it)
                if gr is None:
                    gr = torch.zeros_like(x)
                rec["grads"][i] = encode(gr)
    CASES.append(rec)


# --------------------------------------------------------------------------
# Case definitions
# --------------------------------------------------------------------------
BIN_SHAPES = [
    ("same", [3, 4], [3, 4]),
    ("row_broadcast", [3, 4], [4]),
    ("row_broadcast_lhs", [4], [3, 4]),
    ("col_row", [3, 1], [1, 4]),
    ("scalar_lhs", [], [2, 3]),
    ("scalar_rhs", [2, 3], []),
    ("scalar_both", [], []),
    ("one_five", [1], [5]),
    ("rank3_broadcast", [2, 1, 3], [4, 1]),
    ("empty", [0, 3], [3]),
]


def binary_cases():
    gens = {
        "add": lambda g, sa, sb: [g.U(sa), g.U(sb)],
        "sub": lambda g, sa, sb: [g.U(sa), g.U(sb)],
        "mul": lambda g, sa, sb: [g.U(sa), g.U(sb)],
        "div": lambda g, sa, sb: [g.U(sa), g.signed_mag(sb, 0.5, 2.0)],
        # a on the 0.1 grid, b on the grid shifted by 0.05 -> |a-b| >= 0.05
        "maximum": lambda g, sa, sb: [g.grid(sa, 0.1, -20, 20), g.grid(sb, 0.1, -20, 19, 0.05)],
        "minimum": lambda g, sa, sb: [g.grid(sa, 0.1, -20, 20), g.grid(sb, 0.1, -20, 19, 0.05)],
        "pow": lambda g, sa, sb: [g.pos(sa), g.U(sb, -2.0, 2.0)],
    }
    for op, mk in gens.items():
        for name, sa, sb in BIN_SHAPES:
            case(f"{op}/{name}", op, {}, lambda g, sa=sa, sb=sb, mk=mk: mk(g, sa, sb))
    case("add/alpha_row_broadcast", "add", {"alpha": 2.0}, lambda g: [g.U([3, 4]), g.U([4])])
    case("add/alpha_negative_col_row", "add", {"alpha": -0.5}, lambda g: [g.U([3, 1]), g.U([1, 4])])
    case("sub/alpha_row_broadcast", "sub", {"alpha": 2.0}, lambda g: [g.U([3, 4]), g.U([4])])
    case("sub/alpha_half_scalar_rhs", "sub", {"alpha": 0.5}, lambda g: [g.U([2, 3]), g.U([])])
    case("mul/rhs_no_grad", "mul", {}, lambda g: [g.U([3, 4]), g.U([4])],
         requires_grad=[True, False])
    case("pow/base_size1_broadcast", "pow", {}, lambda g: [g.pos([1, 4]), g.U([3, 1], -2.0, 3.0)])


def scalar_cases():
    shapes = [("2d", [3, 4]), ("rank0", []), ("empty", [0, 3]), ("rank3", [2, 1, 3])]
    scalars = {
        "add_scalar": [1.5, -2.0, 1.0, 0.25],
        "sub_scalar": [1.5, -0.75, 2.0, 3.0],
        "rsub_scalar": [1.5, -2.0, 0.5, 1.0],
        "mul_scalar": [-2.5, 3.0, 2.0, 0.5],
        "div_scalar": [-4.0, 0.5, 3.0, 1.5],
    }
    for op, svals in scalars.items():
        for (name, shape), s in zip(shapes, svals):
            case(f"{op}/{name}", op, {"scalar": s}, lambda g, shape=shape: [g.U(shape)])
    case("mul_scalar/zero", "mul_scalar", {"scalar": 0.0}, lambda g: [g.U([5])])
    case("pow_scalar/square_pos", "pow_scalar", {"exponent": 2.0}, lambda g: [g.pos([3, 4])])
    case("pow_scalar/cube_pos", "pow_scalar", {"exponent": 3.0}, lambda g: [g.pos([2, 1, 3])])
    case("pow_scalar/sqrt_pos", "pow_scalar", {"exponent": 0.5}, lambda g: [g.pos([3, 4])])
    case("pow_scalar/neg_1_5_pos", "pow_scalar", {"exponent": -1.5}, lambda g: [g.pos([5])])
    case("pow_scalar/square_signed", "pow_scalar", {"exponent": 2.0}, lambda g: [g.U([3, 4])])
    case("pow_scalar/square_rank0", "pow_scalar", {"exponent": 2.0}, lambda g: [g.U([])])
    case("pow_scalar/cube_empty", "pow_scalar", {"exponent": 3.0}, lambda g: [g.pos([0, 3])])


UNARY_SHAPES = [("2d", [3, 4]), ("rank0", []), ("empty", [0, 3]), ("rank3", [2, 1, 3])]


def unary_cases():
    doms = {
        "neg": lambda g, s: g.U(s),
        "exp": lambda g, s: g.U(s),
        "log": lambda g, s: g.pos(s),
        "log1p": lambda g, s: g.U(s, -0.5, 2.0),
        "sqrt": lambda g, s: g.pos(s),
        "rsqrt": lambda g, s: g.pos(s),
        "abs": lambda g, s: g.away(s),
        "sign": lambda g, s: g.away(s),
        "sin": lambda g, s: g.U(s, -3.0, 3.0),
        "cos": lambda g, s: g.U(s, -3.0, 3.0),
        "tanh": lambda g, s: g.U(s),
        "sigmoid": lambda g, s: g.U(s, -4.0, 4.0),
        "relu": lambda g, s: g.away(s),
    }
    for op, mk in doms.items():
        for name, shape in UNARY_SHAPES:
            case(f"{op}/{name}", op, {}, lambda g, shape=shape, mk=mk: [mk(g, shape)])

    for slope in (0.01, 0.2):
        for name, shape in UNARY_SHAPES:
            case(f"leaky_relu/{name}_slope{slope}", "leaky_relu", {"negative_slope": slope},
                 lambda g, shape=shape: [g.away(shape)])
    for alpha in (1.0, 0.5):
        for name, shape in UNARY_SHAPES:
            case(f"elu/{name}_alpha{alpha}", "elu", {"alpha": alpha},
                 lambda g, shape=shape: [g.away(shape, lo=-3.0, hi=2.0)])
    for approx in ("none", "tanh"):
        for name, shape in UNARY_SHAPES:
            case(f"gelu/{name}_{approx}", "gelu", {"approximate": approx},
                 lambda g, shape=shape: [g.U(shape, -3.0, 3.0)])

    # softplus: the kink/discontinuity is at beta*x == threshold; keep away from it.
    sp1 = {"beta": 1.0, "threshold": 20.0}
    sp2 = {"beta": 2.0, "threshold": 1.0}
    case("softplus/2d_b1_t20", "softplus", sp1, lambda g: [g.U([3, 4], -3.0, 3.0)])
    case("softplus/rank0_b1_t20", "softplus", sp1, lambda g: [g.U([])])
    case("softplus/empty_b1_t20", "softplus", sp1, lambda g: [g.U([0, 3])])
    case("softplus/above_threshold_b1_t20", "softplus", sp1,
         lambda g: [g.away([2, 5], kinks=(20.0,), lo=17.0, hi=23.0)])
    case("softplus/2d_b2_t1", "softplus", sp2,
         lambda g: [g.away([3, 4], kinks=(0.5,), lo=-2.0, hi=2.0)])
    case("softplus/rank3_b2_t1", "softplus", sp2,
         lambda g: [g.away([2, 1, 3], kinks=(0.5,), lo=-2.0, hi=2.0)])

    case("clamp/both", "clamp", {"min": -0.5, "max": 0.8},
         lambda g: [g.away([3, 4], kinks=(-0.5, 0.8))])
    case("clamp/min_only", "clamp", {"min": 0.0}, lambda g: [g.away([3, 4], kinks=(0.0,))])
    case("clamp/max_only", "clamp", {"max": 1.0}, lambda g: [g.away([2, 1, 3], kinks=(1.0,))])
    case("clamp/both_rank0", "clamp", {"min": -1.0, "max": 1.0},
         lambda g: [g.away([], kinks=(-1.0, 1.0))])
    case("clamp/both_empty", "clamp", {"min": -1.0, "max": 1.0}, lambda g: [g.U([0, 3])])


def reduction_cases():
    for op in ("sum", "mean"):
        case(f"{op}/all_2d", op, {}, lambda g: [g.U([3, 4])])
        case(f"{op}/all_rank0", op, {}, lambda g: [g.U([])])
        case(f"{op}/dim0", op, {"dim": 0, "keepdim": False}, lambda g: [g.U([3, 4])])
        case(f"{op}/dim_neg1_keepdim", op, {"dim": -1, "keepdim": True}, lambda g: [g.U([3, 4])])
        case(f"{op}/dim1_rank3", op, {"dim": 1, "keepdim": False}, lambda g: [g.U([2, 3, 4])])
        case(f"{op}/dimlist_0_2", op, {"dim": [0, 2], "keepdim": False}, lambda g: [g.U([2, 3, 4])])
        case(f"{op}/dimlist_0_neg1_keepdim", op, {"dim": [0, -1], "keepdim": True},
             lambda g: [g.U([2, 3, 4])])
        case(f"{op}/size1_dim", op, {"dim": 0, "keepdim": True}, lambda g: [g.U([1, 5])])
        case(f"{op}/empty_keep_dim1", op, {"dim": 1, "keepdim": False}, lambda g: [g.U([0, 3])])
    case("sum/empty_reduce_dim0", "sum", {"dim": 0, "keepdim": False}, lambda g: [g.U([0, 3])])
    case("sum/empty_all", "sum", {}, lambda g: [g.U([0, 3])])

    for op in ("max_dim", "min_dim"):
        case(f"{op}/dim0", op, {"dim": 0, "keepdim": False}, lambda g: [g.distinct([3, 4])])
        case(f"{op}/dim_neg1_keepdim", op, {"dim": -1, "keepdim": True}, lambda g: [g.distinct([3, 4])])
        case(f"{op}/dim1_rank3", op, {"dim": 1, "keepdim": False}, lambda g: [g.distinct([2, 3, 4])])
        case(f"{op}/size1_dim", op, {"dim": 0, "keepdim": False}, lambda g: [g.distinct([1, 5])])
        case(f"{op}/rank0", op, {"dim": 0, "keepdim": False}, lambda g: [g.distinct([])])
        case(f"{op}/empty", op, {"dim": 1, "keepdim": True}, lambda g: [g.distinct([0, 3])])
    for op in ("max_all", "min_all"):
        case(f"{op}/2d", op, {}, lambda g: [g.distinct([3, 4])])
        case(f"{op}/rank0", op, {}, lambda g: [g.distinct([])])
        case(f"{op}/rank3", op, {}, lambda g: [g.distinct([2, 3, 4])])
        case(f"{op}/one", op, {}, lambda g: [g.distinct([1])])
    for op in ("argmax", "argmin"):
        case(f"{op}/dim1", op, {"dim": 1, "keepdim": False}, lambda g: [g.distinct([3, 4])])
        case(f"{op}/dim0_keepdim", op, {"dim": 0, "keepdim": True}, lambda g: [g.distinct([3, 4])])
        case(f"{op}/dim_neg1_rank3", op, {"dim": -1, "keepdim": False}, lambda g: [g.distinct([2, 3, 4])])
        case(f"{op}/flat_2d", op, {}, lambda g: [g.distinct([3, 4])])
        case(f"{op}/flat_rank3", op, {}, lambda g: [g.distinct([2, 3, 4])])
        case(f"{op}/flat_rank0", op, {}, lambda g: [g.distinct([])])
        case(f"{op}/empty", op, {"dim": 1, "keepdim": False}, lambda g: [g.distinct([0, 3])])

    for op in ("var", "std"):
        case(f"{op}/all_unbiased", op, {"unbiased": True}, lambda g: [g.U([3, 4])])
        case(f"{op}/all_biased", op, {"unbiased": False}, lambda g: [g.U([3, 4])])
        case(f"{op}/dim0_unbiased", op, {"dim": 0, "unbiased": True, "keepdim": False},
             lambda g: [g.U([3, 4])])
        case(f"{op}/dim_neg1_biased_keepdim", op, {"dim": -1, "unbiased": False, "keepdim": True},
             lambda g: [g.U([3, 4])])
        case(f"{op}/dim1_rank3", op, {"dim": 1, "unbiased": True, "keepdim": False},
             lambda g: [g.U([2, 3, 4])])
        case(f"{op}/empty", op, {"dim": 1, "unbiased": True, "keepdim": False},
             lambda g: [g.U([0, 3])])
    case("var/rank0_biased", "var", {"unbiased": False}, lambda g: [g.U([])])

    case("prod/all_pos", "prod", {}, lambda g: [g.pos([3, 4])])
    case("prod/all_signed", "prod", {}, lambda g: [g.signed_mag([2, 5])])
    case("prod/dim0", "prod", {"dim": 0, "keepdim": False}, lambda g: [g.signed_mag([3, 4])])
    case("prod/dim_neg1_keepdim", "prod", {"dim": -1, "keepdim": True}, lambda g: [g.pos([2, 3, 4])])
    case("prod/rank0", "prod", {}, lambda g: [g.pos([])])
    case("prod/empty_reduce_dim0", "prod", {"dim": 0, "keepdim": False}, lambda g: [g.pos([0, 3])])
    case("prod/empty_keep_dim1", "prod", {"dim": 1, "keepdim": False}, lambda g: [g.pos([0, 3])])

    # scans: any dim, rank 0, size-0 and size-1 dims; cumprod with zeros (first, middle, last, repeated)
    for op in ("cumsum", "cumprod"):
        case(f"{op}/1d", op, {"dim": 0}, lambda g: [g.signed_mag([6])])
        case(f"{op}/dim0", op, {"dim": 0}, lambda g: [g.signed_mag([4, 3])])
        case(f"{op}/dim_neg1", op, {"dim": -1}, lambda g: [g.signed_mag([3, 5])])
        case(f"{op}/dim1_rank3", op, {"dim": 1}, lambda g: [g.signed_mag([2, 4, 3])])
        case(f"{op}/rank0", op, {"dim": 0}, lambda g: [g.signed_mag([])])
        case(f"{op}/size1_dim", op, {"dim": 1}, lambda g: [g.signed_mag([3, 1, 2])])
        case(f"{op}/empty_other_dim", op, {"dim": 1}, lambda g: [g.signed_mag([0, 3])])
        case(f"{op}/empty_scanned_dim", op, {"dim": 0}, lambda g: [g.signed_mag([0, 3])])

    def with_zeros(shape, zeros):
        def make(g):
            x = g.signed_mag(shape)
            flat = x.reshape(-1)
            for i in zeros:
                flat[i] = 0.0
            return [flat.reshape(shape)]
        return make
    case("cumprod/one_zero_middle", "cumprod", {"dim": 0}, with_zeros([6], [2]))
    case("cumprod/zero_first", "cumprod", {"dim": 0}, with_zeros([5], [0]))
    case("cumprod/zero_last", "cumprod", {"dim": 0}, with_zeros([5], [4]))
    case("cumprod/two_zeros", "cumprod", {"dim": 0}, with_zeros([7], [1, 4]))
    case("cumprod/zeros_per_row", "cumprod", {"dim": 1}, with_zeros([3, 4], [1, 4, 5, 11]))
    case("cumprod/zeros_dim0_rank3", "cumprod", {"dim": 0}, with_zeros([4, 2, 3], [3, 6, 13, 14]))
    case("cumsum/with_zeros", "cumsum", {"dim": -1}, with_zeros([2, 5], [0, 7]))

    case("logsumexp/dim1", "logsumexp", {"dim": 1, "keepdim": False}, lambda g: [g.U([3, 4])])
    case("logsumexp/dim0_keepdim", "logsumexp", {"dim": 0, "keepdim": True}, lambda g: [g.U([3, 4])])
    case("logsumexp/dimlist_0_1", "logsumexp", {"dim": [0, 1], "keepdim": False}, lambda g: [g.U([3, 4])])
    case("logsumexp/dimlist_neg1_rank3", "logsumexp", {"dim": [-1], "keepdim": True},
         lambda g: [g.U([2, 3, 4])])
    case("logsumexp/large_values", "logsumexp", {"dim": -1, "keepdim": False},
         lambda g: [g.U([3, 4], 80.0, 100.0)])
    case("logsumexp/rank0", "logsumexp", {"dim": 0, "keepdim": False}, lambda g: [g.U([])])
    case("logsumexp/empty", "logsumexp", {"dim": 1, "keepdim": False}, lambda g: [g.U([0, 3])])

    case("norm/p2_all", "norm", {"p": 2.0}, lambda g: [g.U([3, 4])])
    case("norm/p1_all", "norm", {"p": 1.0}, lambda g: [g.away([3, 4])])
    case("norm/p3_all", "norm", {"p": 3.0}, lambda g: [g.away([2, 3, 4])])
    case("norm/p2_dim_neg1_keepdim", "norm", {"p": 2.0, "dim": -1, "keepdim": True},
         lambda g: [g.U([3, 4])])
    case("norm/p1_dim0", "norm", {"p": 1.0, "dim": 0, "keepdim": False}, lambda g: [g.away([3, 4])])
    case("norm/p3_dim1", "norm", {"p": 3.0, "dim": 1, "keepdim": False}, lambda g: [g.away([2, 3, 4])])
    case("norm/p2_rank0", "norm", {"p": 2.0}, lambda g: [g.away([])])
    case("norm/p2_empty", "norm", {"p": 2.0, "dim": 1, "keepdim": False}, lambda g: [g.U([0, 3])])

    for op in ("softmax", "log_softmax"):
        case(f"{op}/dim0", op, {"dim": 0}, lambda g: [g.U([3, 4])])
        case(f"{op}/dim1", op, {"dim": 1}, lambda g: [g.U([3, 4])])
        case(f"{op}/dim_neg1", op, {"dim": -1}, lambda g: [g.U([3, 4])])
        case(f"{op}/dim1_rank3", op, {"dim": 1}, lambda g: [g.U([2, 3, 4])])
        case(f"{op}/large_logits", op, {"dim": -1}, lambda g: [g.signed_mag([3, 4], 45.0, 55.0)])
        case(f"{op}/size1_dim", op, {"dim": 0}, lambda g: [g.U([1, 5])])
        case(f"{op}/rank0", op, {"dim": 0}, lambda g: [g.U([])])
        case(f"{op}/empty", op, {"dim": 1}, lambda g: [g.U([0, 3])])


def matmul_cases():
    mm = [
        ("1d_1d", [4], [4]),
        ("2d_1d", [3, 4], [4]),
        ("1d_2d", [4], [4, 5]),
        ("2d_2d", [3, 4], [4, 5]),
        ("3d_3d", [2, 3, 4], [2, 4, 5]),
        ("3d_2d", [2, 3, 4], [4, 5]),
        ("2d_3d", [3, 4], [2, 4, 5]),
        ("broadcast_4d_3d", [2, 1, 3, 4], [5, 4, 2]),
        ("large_2d", [17, 33], [33, 9]),
        ("empty_rows", [0, 4], [4, 3]),
    ]
    for name, sa, sb in mm:
        case(f"matmul/{name}", "matmul", {}, lambda g, sa=sa, sb=sb: [g.U(sa, -1, 1), g.U(sb, -1, 1)])
    case("bmm/2x3x4_2x4x5", "bmm", {}, lambda g: [g.U([2, 3, 4], -1, 1), g.U([2, 4, 5], -1, 1)])
    case("bmm/1x1x3_1x3x2", "bmm", {}, lambda g: [g.U([1, 1, 3], -1, 1), g.U([1, 3, 2], -1, 1)])
    case("bmm/empty_batch", "bmm", {}, lambda g: [g.U([0, 2, 3]), g.U([0, 3, 2])])
    case("outer/3_4", "outer", {}, lambda g: [g.U([3]), g.U([4])])
    case("outer/1_5", "outer", {}, lambda g: [g.U([1]), g.U([5])])
    case("outer/empty", "outer", {}, lambda g: [g.U([0]), g.U([4])])
    case("linear/2d_bias", "linear", {}, lambda g: [g.U([2, 5], -1, 1), g.U([4, 5], -1, 1), g.U([4], -1, 1)])
    case("linear/3d_bias", "linear", {},
         lambda g: [g.U([2, 3, 5], -1, 1), g.U([4, 5], -1, 1), g.U([4], -1, 1)])
    case("linear/2d_nobias", "linear", {}, lambda g: [g.U([2, 5], -1, 1), g.U([4, 5], -1, 1)])
    case("linear/3d_nobias", "linear", {}, lambda g: [g.U([2, 3, 5], -1, 1), g.U([4, 5], -1, 1)])
    case("linear/1d_bias", "linear", {}, lambda g: [g.U([5], -1, 1), g.U([4, 5], -1, 1), g.U([4], -1, 1)])


def view_cases():
    U = lambda s: (lambda g: [g.U(s)])
    case("reshape/2d_to_2d", "reshape", {"shape": [2, 6]}, U([3, 4]))
    case("reshape/flatten_neg1", "reshape", {"shape": [-1]}, U([3, 4]))
    case("reshape/rank3_infer", "reshape", {"shape": [4, -1]}, U([2, 3, 4]))
    case("reshape/rank0_to_1", "reshape", {"shape": [1]}, U([]))
    case("reshape/one_to_rank0", "reshape", {"shape": []}, U([1]))
    case("reshape/empty", "reshape", {"shape": [3, 0, 1]}, U([0, 3]))
    case("reshape/add_unit_dims", "reshape", {"shape": [1, 3, 1, 4]}, U([12]))

    case("view/2d_to_3d", "view", {"shape": [2, 2, 3]}, U([3, 4]))
    case("view/infer", "view", {"shape": [-1, 6]}, U([2, 3, 4]))
    case("view/rank0_to_1x1", "view", {"shape": [1, 1]}, U([]))
    case("view/empty", "view", {"shape": [0, 2, 3]}, U([0, 6]))
    case("view/flat", "view", {"shape": [-1]}, U([2, 1, 3]))

    case("transpose/2d", "transpose", {"dim0": 0, "dim1": 1}, U([3, 4]))
    case("transpose/rank3_0_2", "transpose", {"dim0": 0, "dim1": 2}, U([2, 3, 4]))
    case("transpose/rank3_neg", "transpose", {"dim0": -1, "dim1": -2}, U([2, 3, 4]))
    case("transpose/size1", "transpose", {"dim0": 0, "dim1": 1}, U([1, 5]))
    case("transpose/empty", "transpose", {"dim0": 0, "dim1": 1}, U([0, 3]))

    case("permute/rank3", "permute", {"dims": [2, 0, 1]}, U([2, 3, 4]))
    case("permute/rank3_neg", "permute", {"dims": [-1, 0, 1]}, U([2, 3, 4]))
    case("permute/2d", "permute", {"dims": [1, 0]}, U([3, 4]))
    case("permute/rank4_size1", "permute", {"dims": [3, 1, 0, 2]}, U([2, 1, 3, 4]))
    case("permute/empty", "permute", {"dims": [1, 0]}, U([0, 3]))

    case("narrow/dim1", "narrow", {"dim": 1, "start": 1, "length": 3}, U([3, 6]))
    case("narrow/dim0_len1", "narrow", {"dim": 0, "start": 2, "length": 1}, U([3, 4]))
    case("narrow/dim_neg1_len0", "narrow", {"dim": -1, "start": 2, "length": 0}, U([3, 4]))
    case("narrow/rank3", "narrow", {"dim": 1, "start": 1, "length": 2}, U([2, 3, 4]))

    case("slice/step2", "slice", {"dim": 1, "start": 1, "end": 7, "step": 2}, U([3, 8]))
    case("slice/dim0", "slice", {"dim": 0, "start": 0, "end": 2, "step": 1}, U([3, 4]))
    case("slice/rank3_neg_dim_step3", "slice", {"dim": -1, "start": 0, "end": 4, "step": 3}, U([2, 3, 4]))
    case("slice/empty_result", "slice", {"dim": 0, "start": 1, "end": 1, "step": 1}, U([3, 4]))
    case("slice/full", "slice", {"dim": 1, "start": 0, "end": 4, "step": 1}, U([2, 4]))

    case("select/dim0", "select", {"dim": 0, "index": 1}, U([3, 4]))
    case("select/dim1_index_neg1", "select", {"dim": 1, "index": -1}, U([3, 4]))
    case("select/rank3_dim_neg1", "select", {"dim": -1, "index": 2}, U([2, 3, 4]))
    case("select/rank3_index_neg3", "select", {"dim": 1, "index": -3}, U([2, 3, 4]))
    case("select/1d_to_rank0", "select", {"dim": 0, "index": 3}, U([5]))

    case("expand/col", "expand", {"sizes": [3, 4]}, U([3, 1]))
    case("expand/col_neg1", "expand", {"sizes": [-1, 4]}, U([3, 1]))
    case("expand/leading_dims", "expand", {"sizes": [2, 3, 4]}, U([4]))
    case("expand/rank0", "expand", {"sizes": [2, 3]}, U([]))
    case("expand/middle_neg1", "expand", {"sizes": [-1, 4, -1]}, U([2, 1, 3]))
    case("expand/to_empty", "expand", {"sizes": [0, 3]}, U([1, 3]))

    case("squeeze/all", "squeeze", {}, U([1, 3, 1, 4]))
    case("squeeze/dim0", "squeeze", {"dim": 0}, U([1, 3, 1, 4]))
    case("squeeze/dim_neg2", "squeeze", {"dim": -2}, U([1, 3, 1, 4]))
    case("squeeze/non_one_dim_noop", "squeeze", {"dim": 1}, U([1, 3, 1, 4]))
    case("squeeze/rank0", "squeeze", {}, U([]))
    case("squeeze/one_to_rank0", "squeeze", {}, U([1]))

    case("unsqueeze/dim0", "unsqueeze", {"dim": 0}, U([3, 4]))
    case("unsqueeze/dim1", "unsqueeze", {"dim": 1}, U([3, 4]))
    case("unsqueeze/dim_end", "unsqueeze", {"dim": 2}, U([3, 4]))
    case("unsqueeze/dim_neg1", "unsqueeze", {"dim": -1}, U([3, 4]))
    case("unsqueeze/rank0", "unsqueeze", {"dim": 0}, U([]))
    case("unsqueeze/empty", "unsqueeze", {"dim": 1}, U([0, 3]))

    case("flatten/default", "flatten", {}, U([2, 3, 4]))
    case("flatten/start1", "flatten", {"start_dim": 1}, U([2, 3, 4]))
    case("flatten/start0_end1", "flatten", {"start_dim": 0, "end_dim": 1}, U([2, 3, 4]))
    case("flatten/end_neg2", "flatten", {"end_dim": -2}, U([2, 3, 1, 2]))
    case("flatten/rank0", "flatten", {}, U([]))
    case("flatten/empty", "flatten", {"start_dim": 1}, U([2, 0, 3]))

    case("contiguous_t/2d", "contiguous_t", {}, U([3, 4]))
    case("contiguous_t/row", "contiguous_t", {}, U([1, 5]))
    case("contiguous_t/empty", "contiguous_t", {}, U([0, 3]))


def join_cases():
    Us = lambda *ss: (lambda g: [g.U(s) for s in ss])
    case("cat/dim0", "cat", {"dim": 0}, Us([2, 3], [4, 3]))
    case("cat/dim1_three", "cat", {"dim": 1}, Us([3, 2], [3, 1], [3, 4]))
    case("cat/dim_neg1_rank3", "cat", {"dim": -1}, Us([2, 3, 1], [2, 3, 2]))
    case("cat/empty_first", "cat", {"dim": 0}, Us([0, 3], [2, 3]))
    case("cat/empty_middle_three", "cat", {"dim": 1}, Us([2, 2], [2, 0], [2, 3]))
    case("cat/1d", "cat", {"dim": 0}, Us([3], [1], [2]))

    case("stack/dim0", "stack", {"dim": 0}, Us([3, 4], [3, 4]))
    case("stack/dim1_three", "stack", {"dim": 1}, Us([3, 4], [3, 4], [3, 4]))
    case("stack/dim_neg1", "stack", {"dim": -1}, Us([2, 3], [2, 3]))
    case("stack/dim2_end", "stack", {"dim": 2}, Us([2, 3], [2, 3]))
    case("stack/rank0", "stack", {"dim": 0}, Us([], [], []))
    case("stack/empty", "stack", {"dim": 1}, Us([0, 3], [0, 3]))

    case("split/int_last_partial", "split", {"split_size_or_sections": 2, "dim": 0, "index": 2},
         Us([5, 4]))
    case("split/sections", "split", {"split_size_or_sections": [2, 4, 1], "dim": 1, "index": 1},
         Us([3, 7]))
    case("split/int_neg_dim", "split", {"split_size_or_sections": 4, "dim": -1, "index": 0},
         Us([2, 6]))
    case("split/sections_with_zero", "split", {"split_size_or_sections": [3, 0, 2], "dim": 0, "index": 1},
         Us([5, 2]))
    case("split/rank3_size1", "split", {"split_size_or_sections": 1, "dim": 1, "index": 2},
         Us([2, 3, 4]))

    case("chunk/even", "chunk", {"chunks": 3, "dim": 0, "index": 1}, Us([6, 3]))
    case("chunk/uneven", "chunk", {"chunks": 2, "dim": 0, "index": 1}, Us([5, 4]))
    case("chunk/neg_dim_last", "chunk", {"chunks": 3, "dim": -1, "index": 2}, Us([2, 7]))
    case("chunk/more_chunks_than_size", "chunk", {"chunks": 4, "dim": 1, "index": 2}, Us([4, 3]))


def indexing_cases():
    case("index_select/dim0_repeats", "index_select", {"dim": 0},
         lambda g: [g.U([4, 3]), np.array([2, 0, 2, 3], dtype=np.int64)])
    case("index_select/dim1", "index_select", {"dim": 1},
         lambda g: [g.U([3, 5]), np.array([4, 4, 1], dtype=np.int64)])
    case("index_select/rank3_neg_dim", "index_select", {"dim": -1},
         lambda g: [g.U([2, 3, 4]), np.array([0, 3, 0], dtype=np.int64)])
    case("index_select/1d", "index_select", {"dim": 0},
         lambda g: [g.U([5]), np.array([1, 1, 4], dtype=np.int64)])
    case("index_select/empty_index", "index_select", {"dim": 0},
         lambda g: [g.U([4, 3]), np.zeros([0], dtype=np.int64)])

    case("gather/dim1", "gather", {"dim": 1}, lambda g: [g.U([3, 4]), g.ints([3, 2], 0, 4)])
    case("gather/dim0", "gather", {"dim": 0}, lambda g: [g.U([3, 4]), g.ints([2, 4], 0, 3)])
    case("gather/rank3_neg_dim", "gather", {"dim": -1},
         lambda g: [g.U([2, 3, 4]), g.ints([2, 3, 5], 0, 4)])
    case("gather/smaller_index", "gather", {"dim": 1}, lambda g: [g.U([3, 4]), g.ints([2, 2], 0, 4)])
    case("gather/empty_index", "gather", {"dim": 1}, lambda g: [g.U([3, 4]), g.ints([3, 0], 0, 4)])

    case("scatter_add/dim0", "scatter_add", {"dim": 0},
         lambda g: [g.U([3, 5]), np.array([[0, 1, 2, 0, 1], [0, 2, 2, 1, 1]], dtype=np.int64),
                    g.U([2, 5])])
    case("scatter_add/dim1_repeats", "scatter_add", {"dim": 1},
         lambda g: [g.U([3, 4]), g.ints([3, 6], 0, 4), g.U([3, 6])])
    # (torch 1.13's scatter_add backward rejects src larger than index, so
    #  src always has index's shape here; index may be smaller than self.)
    case("scatter_add/neg_dim_index_smaller", "scatter_add", {"dim": -1},
         lambda g: [g.U([3, 4]), g.ints([2, 5], 0, 4), g.U([2, 5])])
    case("scatter_add/1d", "scatter_add", {"dim": 0},
         lambda g: [g.U([4]), np.array([3, 0, 3, 3, 1], dtype=np.int64), g.U([5])])
    case("scatter_add/empty_index", "scatter_add", {"dim": 0},
         lambda g: [g.U([3, 4]), np.zeros([0, 4], dtype=np.int64), g.U([0, 4])])

    case("masked_fill/same_shape", "masked_fill", {"value": -1.5},
         lambda g: [g.U([3, 4]), g.mask([3, 4])])
    case("masked_fill/row_mask", "masked_fill", {"value": 0.0},
         lambda g: [g.U([3, 4]), np.array([True, False, True, False])])
    case("masked_fill/col_mask", "masked_fill", {"value": 2.25},
         lambda g: [g.U([3, 4]), np.array([[True], [False], [True]])])
    case("masked_fill/rank3_mask2d", "masked_fill", {"value": -3.0},
         lambda g: [g.U([2, 3, 4]), g.mask([3, 1])])
    case("masked_fill/rank0", "masked_fill", {"value": 7.0},
         lambda g: [g.U([]), np.array(True)])
    case("masked_fill/rank0_mask", "masked_fill", {"value": 0.5},
         lambda g: [g.U([2, 3]), np.array(True)])
    case("masked_fill/empty", "masked_fill", {"value": 1.0},
         lambda g: [g.U([0, 3]), np.array([True, False, True])])

    case("where/same_shape", "where", {}, lambda g: [g.mask([3, 4]), g.U([3, 4]), g.U([3, 4])])
    case("where/bcast_col_row_scalar", "where", {},
         lambda g: [np.array([[True], [False], [True]]), g.U([4]), g.U([])])
    case("where/bcast_row_col", "where", {},
         lambda g: [np.array([True, False, False, True]), g.U([3, 1]), g.U([1, 4])])
    case("where/rank0_all", "where", {}, lambda g: [np.array(False), g.U([]), g.U([])])
    case("where/rank3", "where", {}, lambda g: [g.mask([2, 1, 3]), g.U([4, 1]), g.U([3])])
    case("where/empty", "where", {}, lambda g: [g.mask([0, 3]), g.U([3]), g.U([0, 1])])


CMP_SHAPES = [
    ("same", [3, 4], [3, 4]),
    ("row_broadcast", [3, 4], [4]),
    ("col_row", [3, 1], [1, 4]),
    ("scalar_lhs", [], [2, 3]),
    ("scalar_rhs", [2, 3], []),
    ("one_five", [1], [5]),
    ("rank3_broadcast", [2, 1, 3], [4, 1]),
    ("empty", [0, 3], [3]),
]


def comparison_cases():
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        for name, sa, sb in CMP_SHAPES:
            # coarse grid -> many exact ties
            case(f"{op}/{name}", op, {},
                 lambda g, sa=sa, sb=sb: [g.grid(sa, 0.5, -2, 2), g.grid(sb, 0.5, -2, 2)])


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _check_tensor(d, where):
    assert d["dtype"] in ("float32", "int64", "bool"), where
    assert len(d["data"]) == _numel(d["shape"]), where + ": data length != numel(shape)"
    if d["dtype"] == "float32":
        for v in d["data"]:
            assert not isinstance(v, str), where + ": non-finite value"
            assert float(np.float32(v)) == v, where + ": not an exact float32 value"


def validate(path, gradcheck=True):
    with open(path, "r", encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["generator"] == GENERATOR
    ids = set()
    n_gc = 0
    for c in doc["cases"]:
        cid = c["id"]
        assert cid not in ids, cid
        ids.add(cid)
        for i, d in enumerate(c["inputs"]):
            _check_tensor(d, f"{cid} input {i}")
        _check_tensor(c["output"], cid + " output")
        xs = [decode(d) for d in c["inputs"]]
        out = apply_op(c["op"], c["args"], xs)
        assert list(out.shape) == c["output"]["shape"], cid + ": output shape mismatch"
        assert dtype_name(out) == c["output"]["dtype"], cid + ": output dtype mismatch"
        assert torch.equal(out, decode(c["output"])), cid + ": output not reproducible"
        assert len(c["grads"]) == len(c["inputs"]), cid
        if c["grad_output"] is None:
            assert c["op"] in NON_DIFF_OPS, cid
            assert all(gr is None for gr in c["grads"]), cid
            continue
        _check_tensor(c["grad_output"], cid + " grad_output")
        assert c["grad_output"]["shape"] == c["output"]["shape"], cid
        for i, (d, gr) in enumerate(zip(c["inputs"], c["grads"])):
            if d["dtype"] == "float32" and d.get("requires_grad"):
                assert gr is not None, cid
                _check_tensor(gr, f"{cid} grad {i}")
                assert gr["shape"] == d["shape"], cid + ": grad shape mismatch"
            else:
                assert gr is None, cid
        if gradcheck:
            # Mirror the C# side: float64, central differences, eps=1e-6.
            xs64 = [decode(d, torch.float64) if d["dtype"] == "float32" else decode(d)
                    for d in c["inputs"]]
            wrt = [i for i, d in enumerate(c["inputs"])
                   if d["dtype"] == "float32" and d.get("requires_grad")]
            for i in wrt:
                xs64[i].requires_grad_(True)
            out64 = apply_op(c["op"], c["args"], xs64)
            ref = decode(c["output"]).double()
            assert torch.allclose(out64.detach(), ref, rtol=1e-4, atol=1e-4), \
                cid + ": float64 output differs from float32 output"
            if wrt and out64.numel() > 0:
                ok = torch.autograd.gradcheck(
                    lambda *ts: apply_op(c["op"], c["args"], ts), tuple(xs64),
                    eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=False)
                assert ok, cid + ": float64 gradcheck failed"
                n_gc += 1
                # float64 analytic grads agree with the recorded float32 grads
                gout = decode(c["grad_output"]).double()
                g64 = torch.autograd.grad(out64, [xs64[i] for i in wrt], gout, allow_unused=True)
                for i, gg in zip(wrt, g64):
                    rec = decode(c["grads"][i]).double()
                    if gg is None:
                        gg = torch.zeros_like(rec)
                    assert torch.allclose(gg, rec, rtol=1e-3, atol=1e-3), \
                        f"{cid}: float64 grad {i} differs from recorded float32 grad"
    return doc, n_gc


# --------------------------------------------------------------------------
def recurrent_reference(args, xs):
    """One layer of torch.nn.RNN/LSTM/GRU (time-major) run through PyTorch's own module, packed when lengths
    are given. A reverse layer is the reverse half of a bidirectional module. Returns cat(y, h_n[, c_n]) flattened."""
    cell = args["cell"]
    lstm = cell == "lstm"
    x, h0 = xs[0], xs[1]
    rest = xs[3:] if lstm else xs[2:]
    c0 = xs[2] if lstm else None
    w_ih, w_hh, b_ih, b_hh = rest
    T, B, I = x.shape
    H = w_hh.shape[1]
    reverse = args.get("reverse", False)
    kw = dict(input_size=I, hidden_size=H, bidirectional=reverse)
    if cell == "lstm":
        m = torch.nn.LSTM(**kw)
    elif cell == "gru":
        m = torch.nn.GRU(**kw)
    else:
        m = torch.nn.RNN(nonlinearity="tanh" if cell == "rnn_tanh" else "relu", **kw)
    m = m.to(x.dtype)
    sfx = "_l0_reverse" if reverse else "_l0"
    for p in m.parameters():
        p.requires_grad_(False)
    # Replace the layer's parameters by the (differentiable) inputs.
    del m._parameters["weight_ih" + sfx], m._parameters["weight_hh" + sfx], m._parameters["bias_ih" + sfx], m._parameters["bias_hh" + sfx]
    setattr(m, "weight_ih" + sfx, w_ih)
    setattr(m, "weight_hh" + sfx, w_hh)
    setattr(m, "bias_ih" + sfx, b_ih)
    setattr(m, "bias_hh" + sfx, b_hh)
    m._flat_weights = [getattr(m, n) for n in m._flat_weights_names]
    if reverse:
        zeros = torch.zeros(1, B, H, dtype=x.dtype)
        h_init = torch.cat([zeros, h0.unsqueeze(0)])
        c_init = torch.cat([zeros, c0.unsqueeze(0)]) if lstm else None
    else:
        h_init = h0.unsqueeze(0)
        c_init = c0.unsqueeze(0) if lstm else None
    state = (h_init, c_init) if lstm else h_init
    lengths = args.get("lengths")
    inp = x
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out, st = m(inp, state)
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    if reverse:
        out = out[..., H:]
    hn = st[0] if lstm else st
    hn = hn[-1]
    parts = [out.reshape(-1), hn.reshape(-1)]
    if lstm:
        parts.append(st[1][-1].reshape(-1))
    return torch.cat(parts)


def recurrent_cases():
    T, B, I, H = 4, 3, 3, 2
    for cell, gates in [("lstm", 4), ("gru", 3), ("rnn_tanh", 1), ("rnn_relu", 1)]:
        for name, extra in [("fwd", {}), ("rev", {"reverse": True}), ("lengths", {"lengths": [4, 2, 3]}),
                            ("rev_lengths", {"reverse": True, "lengths": [1, 4, 3]})]:
            def mk(g, cell=cell, gates=gates):
                xs = [g.U([T, B, I], -1, 1), g.U([B, H], -0.5, 0.5)]
                if cell == "lstm":
                    xs.append(g.U([B, H], -0.5, 0.5))
                xs += [g.U([gates * H, I], -0.7, 0.7), g.U([gates * H, H], -0.7, 0.7), g.U([gates * H], -0.3, 0.3), g.U([gates * H], -0.3, 0.3)]
                return xs
            case(f"recurrent_layer/{cell}_{name}", "recurrent_layer", dict(cell=cell, **extra), mk)


def conv_cases():
    U = lambda g, s: g.U(s, -1, 1)
    convs = [
        ("basic", [2, 3, 6, 5], [4, 3, 3, 3], True, {}),
        ("stride_pad", [1, 2, 7, 7], [3, 2, 3, 3], True, {"stride": [2, 2], "padding": [1, 1]}),
        ("rect_stride_pad", [2, 2, 6, 9], [2, 2, 2, 3], False, {"stride": [1, 2], "padding": [0, 2]}),
        ("dilation", [1, 2, 8, 8], [2, 2, 3, 3], True, {"dilation": [2, 2], "padding": [2, 1]}),
        ("groups", [2, 4, 5, 5], [6, 2, 3, 3], True, {"groups": 2, "padding": [1, 1]}),
        ("depthwise", [1, 3, 5, 4], [3, 1, 3, 3], False, {"groups": 3}),
        ("pointwise", [3, 4, 3, 3], [5, 4, 1, 1], True, {}),
        ("odd_sizes", [3, 1, 7, 5], [2, 1, 5, 2], True, {"stride": [3, 2], "padding": [2, 0]}),
    ]
    for name, sx, sw, bias, args in convs:
        case(f"conv2d/{name}", "conv2d", args,
             lambda g, sx=sx, sw=sw, bias=bias: [U(g, sx), U(g, sw)] + ([U(g, [sw[0]])] if bias else []))
    case("conv1d/basic", "conv1d", {"stride": 2, "padding": 1}, lambda g: [U(g, [2, 3, 9]), U(g, [4, 3, 3]), U(g, [4])])
    case("conv1d/dilation_groups", "conv1d", {"dilation": 2, "groups": 2}, lambda g: [U(g, [1, 4, 10]), U(g, [2, 2, 3])])
    tconvs = [
        ("basic", [2, 3, 4, 4], [3, 2, 3, 3], True, {}),
        ("stride_pad_outpad", [1, 2, 3, 4], [2, 3, 3, 3], True, {"stride": [2, 2], "padding": [1, 1], "output_padding": [1, 0]}),
        ("groups_dilation", [1, 4, 3, 3], [4, 1, 2, 2], False, {"groups": 2, "dilation": [2, 1]}),
    ]
    for name, sx, sw, bias, args in tconvs:
        case(f"conv_transpose2d/{name}", "conv_transpose2d", args,
             lambda g, sx=sx, sw=sw, bias=bias, args=args: [U(g, sx), U(g, sw)] + ([U(g, [sw[1] * args.get("groups", 1)])] if bias else []))
    pools = [
        ("k2", [2, 3, 6, 6], {"kernel": [2, 2]}),
        ("k3_s2_p1", [1, 2, 7, 7], {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]}),
        ("ceil", [1, 2, 5, 5], {"kernel": [2, 2], "ceil_mode": True}),
        ("rect_dilation", [1, 1, 7, 8], {"kernel": [2, 3], "stride": [1, 2], "dilation": [2, 1]}),
        ("rank3", [2, 5, 5], {"kernel": [3, 3], "stride": [2, 2]}),
    ]
    for name, sx, args in pools:
        case(f"max_pool2d/{name}", "max_pool2d", args, lambda g, sx=sx: [g.distinct(sx)])
        case(f"max_pool2d_indices/{name}", "max_pool2d_indices", args, lambda g, sx=sx: [g.distinct(sx)])
    case("max_pool1d/k3_s2", "max_pool1d", {"kernel": 3, "stride": 2, "padding": 1}, lambda g: [g.distinct([2, 3, 9])])
    avgs = [
        ("k2", [2, 3, 6, 6], {"kernel": [2, 2]}),
        ("k3_s2_p1", [1, 2, 7, 7], {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]}),
        ("no_pad_count", [1, 2, 7, 7], {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "count_include_pad": False}),
        ("ceil", [1, 1, 5, 6], {"kernel": [2, 3], "stride": [2, 2], "ceil_mode": True, "padding": [1, 1]}),
        ("divisor", [1, 2, 4, 4], {"kernel": [2, 2], "divisor_override": 3}),
    ]
    for name, sx, args in avgs:
        case(f"avg_pool2d/{name}", "avg_pool2d", args, lambda g, sx=sx: [g.U(sx)])
    for name, sx, out in [("to1", [2, 3, 5, 7], [1, 1]), ("uneven", [1, 2, 7, 5], [3, 2]), ("up", [1, 1, 2, 3], [4, 5])]:
        case(f"adaptive_avg_pool2d/{name}", "adaptive_avg_pool2d", {"output_size": out}, lambda g, sx=sx: [g.U(sx)])
        case(f"adaptive_max_pool2d/{name}", "adaptive_max_pool2d", {"output_size": out}, lambda g, sx=sx: [g.distinct(sx)])
    bn_rg = [True, False, False, True, True]
    for name, sx, training in [("train_4d", [4, 3, 2, 3], True), ("train_2d", [5, 4], True), ("eval_4d", [2, 3, 2, 2], False), ("train_3d", [3, 2, 4], True)]:
        c = sx[1]
        mk = lambda g, sx=sx, c=c: [g.U(sx), g.U([c], -0.5, 0.5), g.pos([c]), g.U([c], 0.5, 1.5), g.U([c], -0.5, 0.5)]
        case(f"batch_norm/{name}", "batch_norm", {"training": training, "momentum": 0.1, "eps": 1e-5}, mk, requires_grad=bn_rg)
        case(f"batch_norm_running_stats/{name}", "batch_norm_running_stats", {"training": training, "momentum": 0.1, "eps": 1e-5}, mk, requires_grad=[False] * 5)
    case("batch_norm/no_affine", "batch_norm", {"training": True}, lambda g: [g.U([4, 2, 3]), g.U([2]), g.pos([2])], requires_grad=[True, False, False])
    case("layer_norm/last", "layer_norm", {"normalized_shape": [5]}, lambda g: [g.U([3, 5]), g.U([5], 0.5, 1.5), g.U([5])])
    case("layer_norm/two_dims", "layer_norm", {"normalized_shape": [3, 4]}, lambda g: [g.U([2, 3, 4]), g.U([3, 4], 0.5, 1.5), g.U([3, 4])])
    case("layer_norm/no_affine", "layer_norm", {"normalized_shape": [6]}, lambda g: [g.U([2, 2, 6])])
    case("group_norm/basic", "group_norm", {"groups": 2}, lambda g: [g.U([2, 4, 3, 2]), g.U([4], 0.5, 1.5), g.U([4])])
    case("group_norm/per_channel", "group_norm", {"groups": 3}, lambda g: [g.U([2, 3, 5]), g.U([3], 0.5, 1.5), g.U([3])])
    case("group_norm/no_affine", "group_norm", {"groups": 1}, lambda g: [g.U([3, 2, 4])])
    case("pad/2d", "pad", {"pads": [1, 2, 0, 1], "value": 0.5}, lambda g: [g.U([2, 3, 4])])
    case("pad/crop", "pad", {"pads": [-1, 2]}, lambda g: [g.U([3, 4])])
    case("pad/last_only", "pad", {"pads": [3, 0]}, lambda g: [g.U([2, 2])])


def attention_cases():
    # q [..., L, E], k [..., S, E], v [..., S, Ev]; float32 values and gradients of the fused attention
    shapes = [
        ("causal_b2_h3_t7_d5", True, [2, 3, 7, 5], [2, 3, 7, 5], [2, 3, 7, 5]),
        ("causal_t33_d17", True, [1, 2, 33, 17], [1, 2, 33, 17], [1, 2, 33, 17]),
        ("causal_l3_s6_top_left", True, [2, 3, 4], [2, 6, 4], [2, 6, 3]),
        ("causal_t1", True, [2, 1, 1, 4], [2, 1, 1, 4], [2, 1, 1, 4]),
        ("full_l1_s9_decode", False, [2, 2, 1, 8], [2, 2, 9, 8], [2, 2, 9, 8]),
        ("full_l5_s3", False, [3, 5, 2], [3, 3, 2], [3, 3, 6]),
    ]
    for name, causal, qs, ks, vs in shapes:
        case(f"scaled_dot_product_attention/{name}", "scaled_dot_product_attention", {"is_causal": causal},
             lambda g, qs=qs, ks=ks, vs=vs: [g.U(qs), g.U(ks), g.U(vs)])


def build():
    recurrent_cases()
    conv_cases()
    binary_cases()
    scalar_cases()
    unary_cases()
    reduction_cases()
    matmul_cases()
    view_cases()
    join_cases()
    indexing_cases()
    comparison_cases()
    attention_cases()


def write_validated(path, gradcheck=True):
    """Write to a temp file next to `path`, validate it, then os.replace."""
    header = {"generator": GENERATOR, "torch_version": torch.__version__}
    dump = lambda o: json.dumps(o, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    lines = ["{" + dump(header)[1:-1] + ',"cases":[']
    lines.append(",\n".join(dump(c) for c in CASES))
    lines.append("]}")
    text = "\n".join(lines) + "\n"
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ops.", suffix=".json.tmp", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        doc, n_gc = validate(tmp, gradcheck=gradcheck)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return doc, n_gc


def main(argv):
    gradcheck = "--no-gradcheck" not in argv
    pos_args = [a for a in argv[1:] if not a.startswith("--")]
    out_path = pos_args[0] if pos_args else DEFAULT_OUT
    build()
    doc, n_gc = write_validated(out_path, gradcheck=gradcheck)
    ops = sorted({c["op"] for c in doc["cases"]})
    size = os.path.getsize(out_path)
    print(f"wrote {os.path.relpath(out_path, REPO_ROOT)}: {len(doc['cases'])} cases, "
          f"{len(ops)} ops, {size} bytes ({size / 1e6:.2f} MB), "
          f"{n_gc} float64 gradchecks passed, torch {torch.__version__}")


if __name__ == "__main__":
    main(sys.argv)
