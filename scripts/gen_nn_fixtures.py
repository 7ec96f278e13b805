#!/usr/bin/python3
"""Generate PyTorch reference fixtures for DeepSharp's NN layers, losses and models.

Usage (Debian's python3 has torch 1.13; the pyenv python3 on PATH does not):

    /usr/bin/python3 scripts/gen_nn_fixtures.py [output_path] [--no-gradcheck]

Writes tests/fixtures/nn.json (relative to the repo root) atomically: a temp file in the same
folder is written, validated, then os.replace'd over the old one.

Deterministic: each case seeds numpy and torch with crc32(case id), so a rerun gives identical
output and adding a case leaves the others unchanged.

Format:
    {"generator", "torch_version",
     "cases": [CASE, ...],
     "models": {"mlp": {"state": [{"key", "shape"}, ...], "parameters": N}, ...}}  # PyTorch's keys in order
    CASE = {"id", "kind": "module"|"loss", "name", "args",
            "state": {key: TENSOR}          # module.state_dict(): parameters and buffers (e.g. loss weights)
            "inputs": [TENSOR + "requires_grad"],
            "output", "grad_output",          # grad_output null when PyTorch has no gradient (heaviside)
            "grads": [TENSOR|null per input], "param_grads": {name: TENSOR},
            "gradcheck": bool}               # false where the loss is not smooth at the sampled point
    TENSOR = {"dtype": "float32"|"int64"|"bool", "shape": [...], "data": [flat row-major]}
The semantics of every name and its args are in build() below; the C# side mirrors them in
tests/DeepSharp.Tests/NN/NNRegistry.cs.
"""

import json
import math
import os
import sys
import tempfile
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

GENERATOR = "scripts/gen_nn_fixtures.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "nn.json")

torch.set_num_threads(1)
# KLDivLoss(reduction="mean") warns that it differs from "batchmean"; the fixtures test both on purpose.
warnings.filterwarnings("ignore", message="reduction: 'mean' divides the total loss")


# --------------------------------------------------------------------------
# Semantics: (kind, name, args, state) -> torch module. Single source of truth.
# --------------------------------------------------------------------------
class Fn(nn.Module):
    """Wraps a function as a module (for ops PyTorch has no module for)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


class LogReg(nn.Module):
    """DeepSharp.Models.LogisticRegression: flatten, then linear -> [N, 1] logits."""

    def __init__(self, n_in):
        super().__init__()
        self.linear = nn.Linear(n_in, 1)

    def forward(self, x):
        return self.linear(x.flatten(1) if x.dim() > 2 else x)


class Mlp(nn.Module):
    """DeepSharp.Models.Mlp: nn.Sequential-named layers, input flattened when rank > 2."""

    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        width = n_in
        layers = []
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, n_out))
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)

    def forward(self, x):
        if x.dim() > 2:
            x = x.flatten(1)
        for layer in self.children():
            x = layer(x)
        return x


def buf(state, key):
    return state.get(key)


def build(kind, name, args, state):
    a = args
    if kind == "module":
        if name == "linear":
            return nn.Linear(a["in"], a["out"], bias=a.get("bias", True))
        if name == "identity":
            return nn.Identity()
        if name == "flatten":
            return nn.Flatten(a.get("start_dim", 1), a.get("end_dim", -1))
        if name == "unflatten":
            return nn.Unflatten(a["dim"], tuple(a["sizes"]))
        if name == "step":
            return Fn(lambda x: torch.heaviside(x, torch.zeros((), dtype=x.dtype)))
        if name == "sigmoid":
            return nn.Sigmoid()
        if name == "tanh":
            return nn.Tanh()
        if name == "relu":
            return nn.ReLU()
        if name == "leaky_relu":
            return nn.LeakyReLU(a["negative_slope"])
        if name == "elu":
            return nn.ELU(a["alpha"])
        if name == "gelu":
            return nn.GELU(approximate=a["approximate"])
        if name == "softplus":
            return nn.Softplus(a["beta"], a["threshold"])
        if name == "softmax":
            return nn.Softmax(a["dim"])
        if name == "log_softmax":
            return nn.LogSoftmax(a["dim"])
        if name == "dropout":
            m = nn.Dropout(a["p"])
            m.train(a["training"])
            return m
        if name == "sequential_tanh":
            return nn.Sequential(nn.Linear(a["in"], a["hidden"]), nn.Tanh(), nn.Linear(a["hidden"], a["out"]))
        if name == "mlp":
            return Mlp(a["in"], a["hidden"], a["out"])
        if name == "softmax_regression":
            return nn.Sequential(nn.Flatten(), nn.Linear(a["in"], a["classes"]))
        if name == "logreg":
            return LogReg(a["in"])
    if kind == "loss":
        r = a.get("reduction", "mean")
        if name == "mse":
            return nn.MSELoss(reduction=r)
        if name == "l1":
            return nn.L1Loss(reduction=r)
        if name == "smooth_l1":
            return nn.SmoothL1Loss(reduction=r, beta=a["beta"])
        if name == "huber":
            return nn.HuberLoss(reduction=r, delta=a["delta"])
        if name == "cross_entropy":
            return nn.CrossEntropyLoss(weight=buf(state, "weight"), ignore_index=a.get("ignore_index", -100),
                                       reduction=r, label_smoothing=a.get("label_smoothing", 0.0))
        if name == "nll":
            return nn.NLLLoss(weight=buf(state, "weight"), ignore_index=a.get("ignore_index", -100), reduction=r)
        if name == "bce":
            return nn.BCELoss(weight=buf(state, "weight"), reduction=r)
        if name == "bce_with_logits":
            return nn.BCEWithLogitsLoss(weight=buf(state, "weight"), reduction=r, pos_weight=buf(state, "pos_weight"))
        if name == "multi_margin":
            return nn.MultiMarginLoss(p=a["p"], margin=a["margin"], weight=buf(state, "weight"), reduction=r)
        if name == "hinge_embedding":
            return nn.HingeEmbeddingLoss(margin=a["margin"], reduction=r)
        if name == "kl_div":
            return nn.KLDivLoss(reduction=r, log_target=a.get("log_target", False))
    raise ValueError("unknown %s %s" % (kind, name))


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def U(self, shape, lo=-2.0, hi=2.0):
        return self.rng.uniform(lo, hi, size=tuple(shape)).astype(np.float32)

    def pos(self, shape, lo=0.5, hi=2.0):
        return self.U(shape, lo, hi)

    def away(self, shape, kinks=(0.0,), margin=0.05, lo=-2.0, hi=2.0):
        x = self.rng.uniform(lo, hi, size=tuple(shape))
        for _ in range(1000):
            bad = np.zeros(x.shape, dtype=bool)
            for k in kinks:
                bad |= np.abs(x - k) < margin
            if not bad.any():
                return x.astype(np.float32)
            x = np.where(bad, self.rng.uniform(lo, hi, size=x.shape), x)
        raise RuntimeError("could not sample away from kinks")

    def ints(self, shape, lo, hi):
        return self.rng.integers(lo, hi, size=tuple(shape)).astype(np.int64)

    def probs(self, shape, axis):
        z = self.rng.uniform(-2, 2, size=tuple(shape))
        e = np.exp(z)
        return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)

    def signs(self, shape):
        return np.where(self.rng.random(size=tuple(shape)) < 0.5, -1.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------
def _enc_float(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def encode(t, requires_grad=None):
    t = t.detach()
    if t.dtype == torch.float32:
        name, data = "float32", [_enc_float(v) for v in t.reshape(-1).double().tolist()]
    elif t.dtype == torch.int64:
        name, data = "int64", [int(v) for v in t.reshape(-1).tolist()]
    elif t.dtype == torch.bool:
        name, data = "bool", [bool(v) for v in t.reshape(-1).tolist()]
    else:
        raise TypeError(t.dtype)
    d = {"dtype": name, "shape": list(t.shape), "data": data}
    if requires_grad is not None:
        d["requires_grad"] = bool(requires_grad)
    return d


def decode(d, float_dtype=torch.float32):
    if d["dtype"] == "float32":
        vals = [float(v) for v in d["data"]]
        t = torch.tensor(vals, dtype=float_dtype)
    elif d["dtype"] == "int64":
        t = torch.tensor(d["data"], dtype=torch.int64)
    else:
        t = torch.tensor(d["data"], dtype=torch.bool)
    return t.reshape(d["shape"])


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------
CASES = []
_IDS = set()


def run_case(rec, float_dtype=torch.float32):
    """Rebuilds the case from its JSON form and returns (module, inputs, output)."""
    state = {k: decode(v, float_dtype) for k, v in rec["state"].items()}
    m = build(rec["kind"], rec["name"], rec["args"], state)
    m = m.to(float_dtype)
    m.load_state_dict(state, strict=True)
    xs = []
    for d in rec["inputs"]:
        x = decode(d, float_dtype)
        if d["requires_grad"]:
            x.requires_grad_(True)
        xs.append(x)
    return m, xs, m(*xs)


def case(cid, kind, name, args, make, requires_grad=None, gradcheck=True, buffers=None):
    """make(g) -> list of numpy arrays (inputs); buffers(g) -> {name: array} (loss weights)."""
    assert cid not in _IDS, "duplicate id " + cid
    assert cid.startswith(name + "/"), cid
    _IDS.add(cid)
    seed = zlib.crc32(cid.encode("utf-8"))
    g = Gen(seed)
    torch.manual_seed(seed)
    state0 = {k: torch.from_numpy(np.asarray(v)) for k, v in (buffers(g) if buffers else {}).items()}
    m = build(kind, name, args, state0)
    arrays = make(g)
    xs, rgs = [], []
    for i, arr in enumerate(arrays):
        t = torch.from_numpy(np.array(arr, order="C", copy=True))  # (ascontiguousarray would make 0-d arrays 1-d)
        rg = t.dtype == torch.float32 and (requires_grad[i] if requires_grad else i == 0)
        if rg:
            t.requires_grad_(True)
        xs.append(t)
        rgs.append(rg)
    out = m(*xs)
    rec = {
        "id": cid, "kind": kind, "name": name, "args": args,
        "state": {k: encode(v) for k, v in m.state_dict().items()},
        "inputs": [encode(x, rg) for x, rg in zip(xs, rgs)],
        "output": encode(out),
        "grad_output": None,
        "grads": [None] * len(xs),
        "param_grads": {},
        "gradcheck": gradcheck,
    }
    params = list(m.named_parameters())
    if out.requires_grad and name != "step":  # torch.heaviside has no derivative; DeepSharp's Step is checked by GradCheck
        tg = torch.Generator().manual_seed(seed)
        gout = torch.randn(out.shape, generator=tg, dtype=torch.float32)
        rec["grad_output"] = encode(gout)
        wrt = [x for x, rg in zip(xs, rgs) if rg] + [p for _, p in params]
        grads = torch.autograd.grad(out, wrt, gout, allow_unused=True)
        it = iter(grads)
        for i, rg in enumerate(rgs):
            if rg:
                gr = next(it)
                rec["grads"][i] = encode(gr if gr is not None else torch.zeros_like(xs[i]))
        for (pname, p) in params:
            gr = next(it)
            rec["param_grads"][pname] = encode(gr if gr is not None else torch.zeros_like(p))
    CASES.append(rec)


def M(cid, name, args, make, **kw):
    case(cid, "module", name, args, make, **kw)


def L(cid, name, args, make, **kw):
    case(cid, "loss", name, args, make, **kw)


def module_cases():
    M("linear/basic", "linear", {"in": 4, "out": 3}, lambda g: [g.U([2, 4])])
    M("linear/no_bias", "linear", {"in": 5, "out": 2, "bias": False}, lambda g: [g.U([3, 5])])
    M("linear/rank3", "linear", {"in": 4, "out": 3}, lambda g: [g.U([2, 3, 4])])
    M("linear/batch1_out1", "linear", {"in": 6, "out": 1}, lambda g: [g.U([1, 6])])
    M("linear/empty_batch", "linear", {"in": 4, "out": 3}, lambda g: [g.U([0, 4])])
    M("identity/2d", "identity", {}, lambda g: [g.U([2, 3])])
    M("flatten/default", "flatten", {}, lambda g: [g.U([2, 3, 2, 2])])
    M("flatten/range", "flatten", {"start_dim": 0, "end_dim": 1}, lambda g: [g.U([2, 3, 4])])
    M("unflatten/basic", "unflatten", {"dim": 1, "sizes": [2, 3]}, lambda g: [g.U([2, 6])])
    M("step/2d", "step", {}, lambda g: [g.away([3, 4])])
    M("sigmoid/2d", "sigmoid", {}, lambda g: [g.U([3, 4], -4, 4)])
    M("sigmoid/logits_1e4", "sigmoid", {}, lambda g: [np.array([[1e4, -1e4, 0.5], [-3.0, 20.0, -1e4]], np.float32)])
    M("tanh/2d", "tanh", {}, lambda g: [g.U([3, 4])])
    M("relu/2d", "relu", {}, lambda g: [g.away([3, 4])])
    M("relu/size1", "relu", {}, lambda g: [g.away([1, 1])])
    M("leaky_relu/slope02", "leaky_relu", {"negative_slope": 0.2}, lambda g: [g.away([3, 4])])
    M("elu/alpha05", "elu", {"alpha": 0.5}, lambda g: [g.away([3, 4], lo=-3, hi=2)])
    M("gelu/none", "gelu", {"approximate": "none"}, lambda g: [g.U([3, 4], -3, 3)])
    M("gelu/tanh", "gelu", {"approximate": "tanh"}, lambda g: [g.U([3, 4], -3, 3)])
    M("softplus/beta2_thr1", "softplus", {"beta": 2.0, "threshold": 1.0},
      lambda g: [g.away([3, 4], kinks=(0.5,))])
    M("softmax/dim1", "softmax", {"dim": 1}, lambda g: [g.U([3, 4])])
    M("softmax/dim0_rank3", "softmax", {"dim": 0}, lambda g: [g.U([2, 3, 2])])
    M("log_softmax/last", "log_softmax", {"dim": -1}, lambda g: [g.U([3, 5])])
    M("dropout/eval", "dropout", {"p": 0.5, "training": False}, lambda g: [g.U([3, 4])])
    M("dropout/p0_train", "dropout", {"p": 0.0, "training": True}, lambda g: [g.U([3, 4])])
    M("sequential_tanh/basic", "sequential_tanh", {"in": 4, "hidden": 5, "out": 3}, lambda g: [g.U([2, 4])])
    # ReLU kinks: inputs are random, pre-activations almost surely far from 0 at this size.
    M("mlp/small_images", "mlp", {"in": 12, "hidden": [8, 6], "out": 4}, lambda g: [g.U([3, 1, 3, 4])])
    M("softmax_regression/small", "softmax_regression", {"in": 16, "classes": 5}, lambda g: [g.U([2, 1, 4, 4])])
    M("logreg/small", "logreg", {"in": 6}, lambda g: [g.U([4, 6])])


def loss_cases():
    # ---- regression ----
    for r in ("mean", "sum", "none"):
        L("mse/" + r, "mse", {"reduction": r}, lambda g: [g.U([3, 4]), g.U([3, 4])])
    L("mse/empty_sum", "mse", {"reduction": "sum"}, lambda g: [g.U([0, 3]), g.U([0, 3])])
    L("mse/size1", "mse", {"reduction": "mean"}, lambda g: [g.U([1]), g.U([1])])
    L("mse/target_grad", "mse", {"reduction": "mean"}, lambda g: [g.U([2, 3]), g.U([2, 3])], requires_grad=[True, True])

    def apart(g, shape, kinks):
        x = g.U(shape)
        return [x, (x - g.away(shape, kinks=kinks, lo=-3, hi=3)).astype(np.float32)]

    for r in ("mean", "sum", "none"):
        L("l1/" + r, "l1", {"reduction": r}, lambda g: apart(g, [3, 4], (0.0,)))
    L("smooth_l1/beta1_mean", "smooth_l1", {"reduction": "mean", "beta": 1.0}, lambda g: apart(g, [3, 4], (-1.0, 0.0, 1.0)))
    L("smooth_l1/beta05_none", "smooth_l1", {"reduction": "none", "beta": 0.5}, lambda g: apart(g, [3, 4], (-0.5, 0.0, 0.5)))
    L("smooth_l1/beta0_sum", "smooth_l1", {"reduction": "sum", "beta": 0.0}, lambda g: apart(g, [3, 4], (0.0,)))
    L("huber/delta1_mean", "huber", {"reduction": "mean", "delta": 1.0}, lambda g: apart(g, [3, 4], (-1.0, 1.0)))
    L("huber/delta2_none", "huber", {"reduction": "none", "delta": 2.0}, lambda g: apart(g, [3, 4], (-2.0, 2.0)))
    L("huber/delta1_sum", "huber", {"reduction": "sum", "delta": 1.0}, lambda g: apart(g, [2, 5], (-1.0, 1.0)))

    # ---- cross-entropy on class indices ----
    W5 = lambda g: {"weight": g.pos([5], 0.2, 2.0)}
    idx = lambda n, c: (lambda g: [g.U([n, c], -3, 3), g.ints([n], 0, c)])
    for r in ("mean", "sum", "none"):
        L("cross_entropy/idx_" + r, "cross_entropy", {"reduction": r}, idx(4, 5))
        L("cross_entropy/idx_weight_" + r, "cross_entropy", {"reduction": r}, idx(4, 5), buffers=W5)
        L("cross_entropy/idx_smoothing_" + r, "cross_entropy", {"reduction": r, "label_smoothing": 0.1}, idx(4, 5))

    def with_ignored(ignore, n=6, c=5):
        def make(g):
            t = g.ints([n], 0, c)
            t[[1, 4]] = ignore
            return [g.U([n, c], -3, 3), t]
        return make

    L("cross_entropy/idx_ignore_default_mean", "cross_entropy", {"reduction": "mean"}, with_ignored(-100))
    L("cross_entropy/idx_ignore_custom_weight_mean", "cross_entropy", {"reduction": "mean", "ignore_index": 2},
      with_ignored(2), buffers=W5)
    L("cross_entropy/idx_smoothing_weight_ignore_mean", "cross_entropy",
      {"reduction": "mean", "label_smoothing": 0.2, "ignore_index": 3}, with_ignored(3), buffers=W5)
    L("cross_entropy/idx_smoothing_weight_ignore_none", "cross_entropy",
      {"reduction": "none", "label_smoothing": 0.2}, with_ignored(-100), buffers=W5)
    L("cross_entropy/idx_smoothing_weight_sum", "cross_entropy", {"reduction": "sum", "label_smoothing": 0.3}, idx(4, 5), buffers=W5)
    L("cross_entropy/idx_spatial_mean", "cross_entropy", {"reduction": "mean"},
      lambda g: [g.U([2, 3, 2, 2], -3, 3), g.ints([2, 2, 2], 0, 3)])
    L("cross_entropy/idx_spatial_weight_smoothing_none", "cross_entropy", {"reduction": "none", "label_smoothing": 0.1},
      lambda g: [g.U([2, 5, 3], -3, 3), g.ints([2, 3], 0, 5)], buffers=W5)
    L("cross_entropy/idx_unbatched", "cross_entropy", {"reduction": "mean"}, lambda g: [g.U([5], -3, 3), np.array(2, np.int64)])
    L("cross_entropy/idx_batch1", "cross_entropy", {"reduction": "mean"}, idx(1, 3))
    L("cross_entropy/idx_empty_sum", "cross_entropy", {"reduction": "sum"}, lambda g: [g.U([0, 5]), g.ints([0], 0, 5)])
    L("cross_entropy/idx_one_class", "cross_entropy", {"reduction": "sum"}, lambda g: [g.U([3, 1]), np.zeros([3], np.int64)])
    L("cross_entropy/idx_logits_1e4", "cross_entropy", {"reduction": "mean"},
      lambda g: [np.array([[1e4, -1e4, 0, 3], [-1e4, -1e4, 1e4, 1e4], [1e4, 0, 0, -1e4]], np.float32),
                 np.array([1, 2, 0], np.int64)])
    L("cross_entropy/idx_logits_1e4_smoothing_none", "cross_entropy", {"reduction": "none", "label_smoothing": 0.1},
      lambda g: [np.array([[1e4, -1e4, 0, 3], [-1e4, -1e4, 1e4, 1e4]], np.float32), np.array([1, 0], np.int64)])

    # ---- cross-entropy on probabilities ----
    prob = lambda shape, axis: (lambda g: [g.U(shape, -3, 3), g.probs(shape, axis)])
    W4 = lambda g: {"weight": g.pos([4], 0.2, 2.0)}
    for r in ("mean", "sum", "none"):
        L("cross_entropy/prob_" + r, "cross_entropy", {"reduction": r}, prob([3, 4], 1))
    L("cross_entropy/prob_weight_sum", "cross_entropy", {"reduction": "sum"}, prob([3, 4], 1), buffers=W4)
    L("cross_entropy/prob_weight_smoothing_mean", "cross_entropy", {"reduction": "mean", "label_smoothing": 0.2},
      prob([3, 4], 1), buffers=W4)
    L("cross_entropy/prob_spatial_mean", "cross_entropy", {"reduction": "mean"}, prob([2, 3, 2], 1))
    L("cross_entropy/prob_unbatched", "cross_entropy", {"reduction": "mean"}, prob([4], 0))
    L("cross_entropy/prob_target_grad", "cross_entropy", {"reduction": "mean"}, prob([3, 4], 1), requires_grad=[True, True])
    L("cross_entropy/prob_logits_1e4", "cross_entropy", {"reduction": "mean"},
      lambda g: [np.array([[1e4, -1e4, 0, 3], [-1e4, 1e4, 0, 0]], np.float32), g.probs([2, 4], 1)])

    # ---- NLL on log-probabilities ----
    logp = lambda shape: (lambda g: [np.log(g.probs(shape, 1)).astype(np.float32)])
    for r in ("mean", "sum", "none"):
        L("nll/" + r, "nll", {"reduction": r}, lambda g: logp([4, 5])(g) + [g.ints([4], 0, 5)])
    L("nll/weight_mean", "nll", {"reduction": "mean"}, lambda g: logp([4, 5])(g) + [g.ints([4], 0, 5)], buffers=W5)
    L("nll/weight_ignore_mean", "nll", {"reduction": "mean", "ignore_index": 1},
      lambda g: [np.log(g.probs([6, 5], 1)).astype(np.float32), with_ignored(1)(g)[1]], buffers=W5)
    L("nll/spatial_weight_none", "nll", {"reduction": "none"},
      lambda g: logp([2, 5, 3])(g) + [g.ints([2, 3], 0, 5)], buffers=W5)

    # ---- binary cross-entropy ----
    bce_in = lambda shape: (lambda g: [g.U(shape, 0.05, 0.95), g.U(shape, 0, 1)])
    for r in ("mean", "sum", "none"):
        L("bce/" + r, "bce", {"reduction": r}, bce_in([3, 4]))
    L("bce/weight_mean", "bce", {"reduction": "mean"}, bce_in([3, 4]), buffers=lambda g: {"weight": g.pos([3, 4])})
    L("bce/weight_broadcast_none", "bce", {"reduction": "none"}, bce_in([3, 4]), buffers=lambda g: {"weight": g.pos([4])})
    L("bce/size1", "bce", {"reduction": "mean"}, bce_in([1]))
    L("bce/target_grad", "bce", {"reduction": "sum"}, bce_in([2, 3]), requires_grad=[True, True])
    # x exactly 0 or 1: logs clamp at -100, gradient denominators at 1e-12 (not differentiable there).
    L("bce/edges_clamped", "bce", {"reduction": "none"},
      lambda g: [np.array([0.0, 1.0, 0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 0.0, 1.0, 1.0], np.float32)],
      gradcheck=False)

    logit_in = lambda shape: (lambda g: [g.U(shape, -4, 4), (g.U(shape, 0, 1) > 0.5).astype(np.float32)])
    for r in ("mean", "sum", "none"):
        L("bce_with_logits/" + r, "bce_with_logits", {"reduction": r}, logit_in([3, 4]))
    L("bce_with_logits/weight_mean", "bce_with_logits", {"reduction": "mean"}, logit_in([3, 4]),
      buffers=lambda g: {"weight": g.pos([4])})
    L("bce_with_logits/pos_weight_mean", "bce_with_logits", {"reduction": "mean"}, logit_in([3, 4]),
      buffers=lambda g: {"pos_weight": g.pos([4], 0.5, 3.0)})
    L("bce_with_logits/weight_pos_weight_none", "bce_with_logits", {"reduction": "none"}, logit_in([3, 4]),
      buffers=lambda g: {"weight": g.pos([3, 4]), "pos_weight": g.pos([4], 0.5, 3.0)})
    L("bce_with_logits/soft_targets_sum", "bce_with_logits", {"reduction": "sum"},
      lambda g: [g.U([2, 5], -4, 4), g.U([2, 5], 0, 1)])
    L("bce_with_logits/empty_sum", "bce_with_logits", {"reduction": "sum"}, logit_in([0, 2]))
    L("bce_with_logits/size1", "bce_with_logits", {"reduction": "mean"}, logit_in([1, 1]))
    L("bce_with_logits/logits_1e4", "bce_with_logits", {"reduction": "none"},
      lambda g: [np.array([1e4, -1e4, 1e4, -1e4, 0.0], np.float32), np.array([0.0, 1.0, 1.0, 0.0, 0.5], np.float32)])
    L("bce_with_logits/logits_1e4_pos_weight_mean", "bce_with_logits", {"reduction": "mean"},
      lambda g: [np.array([[1e4, -1e4], [-1e4, 1e4]], np.float32), np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)],
      buffers=lambda g: {"pos_weight": np.array([2.0, 0.5], np.float32)})
    L("bce_with_logits/target_grad_pos_weight", "bce_with_logits", {"reduction": "mean"},
      lambda g: [g.U([2, 3], -4, 4), g.U([2, 3], 0, 1)], requires_grad=[True, True],
      buffers=lambda g: {"pos_weight": g.pos([3], 0.5, 3.0)})

    # ---- margins ----
    def margin_in(n, c, margin, unbatched=False):
        def make(g):
            for _ in range(1000):
                x = g.U([c] if unbatched else [n, c])
                t = g.ints([] if unbatched else [n], 0, c)
                x2 = x.reshape(-1, c)
                t2 = t.reshape(-1)
                z = margin - x2[np.arange(len(t2)), t2][:, None] + x2
                z[np.arange(len(t2)), t2] = 1.0
                if (np.abs(z) > 0.05).all():
                    return [x, t]
            raise RuntimeError("no sample away from the hinge")
        return make

    L("multi_margin/p1_mean", "multi_margin", {"p": 1, "margin": 1.0, "reduction": "mean"}, margin_in(4, 5, 1.0))
    L("multi_margin/p2_sum", "multi_margin", {"p": 2, "margin": 1.0, "reduction": "sum"}, margin_in(4, 5, 1.0))
    L("multi_margin/margin05_none", "multi_margin", {"p": 1, "margin": 0.5, "reduction": "none"}, margin_in(3, 4, 0.5))
    L("multi_margin/weight_mean", "multi_margin", {"p": 1, "margin": 1.0, "reduction": "mean"}, margin_in(4, 5, 1.0), buffers=W5)
    L("multi_margin/p2_weight_none", "multi_margin", {"p": 2, "margin": 1.0, "reduction": "none"}, margin_in(4, 5, 1.0), buffers=W5)
    L("multi_margin/unbatched", "multi_margin", {"p": 1, "margin": 1.0, "reduction": "mean"}, margin_in(1, 5, 1.0, unbatched=True))

    hinge = lambda shape, m: (lambda g: [g.away(shape, kinks=(m,), lo=-1, hi=3), g.signs(shape)])
    L("hinge_embedding/margin1_mean", "hinge_embedding", {"margin": 1.0, "reduction": "mean"}, hinge([3, 4], 1.0))
    L("hinge_embedding/margin2_none", "hinge_embedding", {"margin": 2.0, "reduction": "none"}, hinge([3, 4], 2.0))
    L("hinge_embedding/margin1_sum", "hinge_embedding", {"margin": 1.0, "reduction": "sum"}, hinge([5], 1.0))

    # ---- KL divergence (input: log-probabilities; target: probabilities or log-probabilities) ----
    kl = lambda shape: (lambda g: [np.log(g.probs(shape, 1)).astype(np.float32), g.probs(shape, 1)])
    for r in ("mean", "sum", "none", "batchmean"):
        L("kl_div/" + r, "kl_div", {"reduction": r}, kl([3, 4]))
    L("kl_div/log_target_batchmean", "kl_div", {"reduction": "batchmean", "log_target": True},
      lambda g: [np.log(g.probs([3, 4], 1)).astype(np.float32), np.log(g.probs([3, 4], 1)).astype(np.float32)])

    def zero_target(g):
        t = g.probs([2, 4], 1)
        t[0, 1] = 0.0
        t[1, 3] = 0.0
        return [np.log(g.probs([2, 4], 1)).astype(np.float32), t]

    L("kl_div/zero_target_batchmean", "kl_div", {"reduction": "batchmean"}, zero_target)


def models():
    """State-dict keys (in order), shapes and parameter counts of the PyTorch modules that the
    model zoo's models must reproduce."""
    zoo = {
        "mlp": nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)),
        "softmax": nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
        "logreg": LogReg(784),
    }
    return {
        name: {"state": [{"key": k, "shape": list(v.shape)} for k, v in m.state_dict().items()],
               "parameters": sum(p.numel() for p in m.parameters())}
        for name, m in zoo.items()
    }


# --------------------------------------------------------------------------
# Validation and output
# --------------------------------------------------------------------------
def validate(doc, gradcheck):
    ids = set()
    for rec in doc["cases"]:
        assert rec["id"] not in ids, rec["id"]
        ids.add(rec["id"])
        for d in [rec["output"]] + rec["inputs"] + list(rec["state"].values()):
            n = int(np.prod(d["shape"])) if d["shape"] else 1
            assert len(d["data"]) == n, rec["id"]
        m, xs, out = run_case(rec)
        expect = decode(rec["output"])
        assert out.shape == expect.shape and torch.equal(out.detach(), expect), rec["id"] + ": output not reproducible"
        for x, gr in zip(xs, rec["grads"]):
            if gr is not None:
                assert list(x.shape) == gr["shape"], rec["id"]
        for name, p in m.named_parameters():
            if rec["grad_output"] is not None:
                assert list(p.shape) == rec["param_grads"][name]["shape"], rec["id"]
        if gradcheck and rec["gradcheck"] and rec["grad_output"] is not None:
            m64, xs64, _ = run_case(rec, torch.float64)
            params = [p for _, p in m64.named_parameters()]
            n_in = len(xs64)
            wrt = [x for x in xs64 if x.requires_grad] + params

            def f(*ts):
                it = iter(ts)
                inputs = [next(it) if x.requires_grad else x for x in xs64]
                return m64(*inputs)

            assert n_in == len(rec["inputs"])
            assert torch.autograd.gradcheck(f, tuple(wrt), eps=1e-6, atol=1e-5, rtol=1e-3), rec["id"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out_path = os.path.abspath(args[0]) if args else DEFAULT_OUT
    gradcheck = "--no-gradcheck" not in sys.argv
    module_cases()
    loss_cases()
    doc = {"generator": GENERATOR, "torch_version": torch.__version__, "cases": CASES, "models": models()}
    text = "{\n" + ",\n".join([
        '"generator": ' + json.dumps(GENERATOR),
        '"torch_version": ' + json.dumps(torch.__version__),
        '"models": ' + json.dumps(doc["models"]),
        '"cases": [\n' + ",\n".join(json.dumps(c, separators=(",", ":")) for c in CASES) + "\n]",
    ]) + "\n}\n"
    folder = os.path.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".nn-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        with open(tmp) as f:
            validate(json.load(f), gradcheck)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, out_path)
    except BaseException:
        os.unlink(tmp)
        raise
    print("wrote %d cases to %s" % (len(CASES), out_path))


if __name__ == "__main__":
    main()
