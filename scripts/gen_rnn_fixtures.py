#!/usr/bin/python3
"""Generate PyTorch reference fixtures for DeepSharp's sequence layers: Embedding, RNN/LSTM/GRU (multi-layer,
bidirectional, batch_first, packed variable lengths), the single-step cells, additive/Luong attention,
scaled dot-product attention, MultiheadAttention and TransformerEncoderLayer.

Usage (Debian's python3 has torch 1.13; the pyenv python3 on PATH does not):

    /usr/bin/python3 scripts/gen_rnn_fixtures.py [output_path] [--no-gradcheck]

Writes tests/fixtures/rnn.json (relative to the repo root) atomically: a temp file in the same folder is
written, validated (every case re-run from the parsed JSON must reproduce its outputs exactly, and the
float64 gradcheck must pass), then os.replace'd over the old one.

Deterministic: each case seeds numpy and torch with crc32(case id), so a rerun gives identical output and
adding a case leaves the others unchanged.

Format:
    {"generator", "torch_version", "cases": [CASE, ...]}
    CASE = {"id", "name", "args",
            "state_keys": [key, ...],            # module.state_dict() keys in PyTorch's order
            "state": {key: TENSOR},               # the same, with values
            "inputs": [TENSOR + "name" + "requires_grad"],
            "outputs": [TENSOR + "name"],         # e.g. output, h_n, c_n / output, weights
            "grad_outputs": [TENSOR],             # one per output; the loss is sum_i <output_i, grad_output_i>
            "grads": {input name: TENSOR},        # for inputs with requires_grad
            "param_grads": {parameter name: TENSOR},
            "gradcheck": bool}
    TENSOR = {"dtype": "float32"|"int64"|"bool", "shape": [...], "data": [flat row-major]}
The semantics of every name, its args and its inputs are in build() and run() below; the C# side mirrors them
in tests/DeepSharp.Tests/NN/RnnFixtures.cs. Recurrent cases with a "lengths" input run PyTorch on
pack_padded_sequence(enforce_sorted=False) and compare pad_packed_sequence(total_length=T).
"""

import json
import math
import os
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

GENERATOR = "scripts/gen_rnn_fixtures.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "rnn.json")

torch.set_num_threads(1)


# --------------------------------------------------------------------------
# Reference modules PyTorch has no class for (DeepSharp.NN.AdditiveAttention / LuongAttention).
# A bool mask marks key positions to IGNORE (as MultiheadAttention's key_padding_mask).
# --------------------------------------------------------------------------
def _attend(scores, values, mask, single):
    if mask is not None:
        scores = scores.masked_fill(mask.unsqueeze(1) if mask.dim() == 2 else mask, float("-inf"))
    weights = scores.softmax(-1)
    context = weights @ values
    if single:
        context, weights = context.squeeze(1), weights.squeeze(1)
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau: score(q, k) = v^T tanh(W_q q + W_k k)."""

    def __init__(self, dq, dk, hidden):
        super().__init__()
        self.w_q = nn.Linear(dq, hidden, bias=False)
        self.w_k = nn.Linear(dk, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, q, k, v=None, mask=None):
        single = q.dim() == 2
        if single:
            q = q.unsqueeze(1)
        scores = self.v(torch.tanh(self.w_q(q).unsqueeze(2) + self.w_k(k).unsqueeze(1))).squeeze(-1)
        return _attend(scores, k if v is None else v, mask, single)


class LuongAttention(nn.Module):
    """Luong: score = q^T k ("dot") or q^T W k ("general", W as Linear(dk, dq) named w)."""

    def __init__(self, score, dq, dk):
        super().__init__()
        self.score = score
        if score == "general":
            self.w = nn.Linear(dk, dq, bias=False)

    def forward(self, q, k, v=None, mask=None):
        single = q.dim() == 2
        if single:
            q = q.unsqueeze(1)
        keys = self.w(k) if self.score == "general" else k
        scores = q @ keys.transpose(-2, -1)
        return _attend(scores, k if v is None else v, mask, single)


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


# --------------------------------------------------------------------------
# Semantics: name + args -> module; module + named inputs -> named outputs. Single source of truth.
# --------------------------------------------------------------------------
def build(name, a):
    if name == "embedding":
        return nn.Embedding(a["num"], a["dim"], padding_idx=a.get("padding_idx"))
    if name in ("rnn", "lstm", "gru"):
        kw = dict(num_layers=a.get("layers", 1), bias=a.get("bias", True), batch_first=a.get("batch_first", False),
                  bidirectional=a.get("bidirectional", False))
        if name == "rnn":
            return nn.RNN(a["input"], a["hidden"], nonlinearity=a.get("nonlinearity", "tanh"), **kw)
        return (nn.LSTM if name == "lstm" else nn.GRU)(a["input"], a["hidden"], **kw)
    if name == "rnn_cell":
        return nn.RNNCell(a["input"], a["hidden"], bias=a.get("bias", True), nonlinearity=a.get("nonlinearity", "tanh"))
    if name == "lstm_cell":
        return nn.LSTMCell(a["input"], a["hidden"], bias=a.get("bias", True))
    if name == "gru_cell":
        return nn.GRUCell(a["input"], a["hidden"], bias=a.get("bias", True))
    if name == "additive_attention":
        return AdditiveAttention(a["query"], a["key"], a["hidden"])
    if name == "luong_attention":
        return LuongAttention(a["score"], a["query"], a["key"])
    if name == "sdpa":
        return Fn(None)
    if name == "mha":
        return nn.MultiheadAttention(a["embed"], a["heads"], bias=a.get("bias", True), batch_first=a.get("batch_first", False))
    if name == "transformer_encoder_layer":
        return nn.TransformerEncoderLayer(a["d_model"], a["nhead"], a["ff"], dropout=0.0, activation=a.get("activation", "relu"),
                                          batch_first=a.get("batch_first", False), norm_first=a.get("norm_first", False))
    raise ValueError(name)


def run(name, a, m, ins):
    """Returns [(output name, tensor), ...]."""
    if name == "embedding":
        return [("output", m(ins["input"]))]
    if name in ("rnn", "lstm", "gru"):
        x = ins["x"]
        hx = None
        if "h0" in ins:
            hx = (ins["h0"], ins["c0"]) if name == "lstm" else ins["h0"]
        if "lengths" in ins:
            bf = a.get("batch_first", False)
            packed = pack_padded_sequence(x, ins["lengths"], batch_first=bf, enforce_sorted=False)
            out, h = m(packed, hx)
            out, _ = pad_packed_sequence(out, batch_first=bf, total_length=x.shape[1 if bf else 0])
        else:
            out, h = m(x, hx)
        if name == "lstm":
            return [("output", out), ("h_n", h[0]), ("c_n", h[1])]
        return [("output", out), ("h_n", h)]
    if name in ("rnn_cell", "gru_cell"):
        return [("h", m(ins["x"], ins.get("hx")))]
    if name == "lstm_cell":
        h, c = m(ins["x"], (ins["hx"], ins["cx"]) if "hx" in ins else None)
        return [("h", h), ("c", c)]
    if name in ("additive_attention", "luong_attention"):
        ctx, w = m(ins["query"], ins["keys"], ins.get("values"), ins.get("mask"))
        return [("output", ctx), ("weights", w)]
    if name == "sdpa":
        out, w = F._scaled_dot_product_attention(ins["q"], ins["k"], ins["v"], ins.get("attn_mask"), 0.0, True,
                                                 a.get("is_causal", False))
        return [("output", out), ("weights", w)]
    if name == "mha":
        q = ins["query"]
        k = ins.get("key", q)
        v = ins.get("value", k)
        out, w = m(q, k, v, key_padding_mask=ins.get("key_padding_mask"), attn_mask=ins.get("attn_mask"),
                   need_weights=True, average_attn_weights=a.get("average", True))
        return [("output", out), ("weights", w)]
    if name == "transformer_encoder_layer":
        return [("output", m(ins["src"], ins.get("src_mask"), ins.get("src_key_padding_mask")))]
    raise ValueError(name)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
class Gen:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def U(self, shape, lo=-1.0, hi=1.0):
        return self.rng.uniform(lo, hi, size=tuple(shape)).astype(np.float32)

    def ints(self, shape, lo, hi):
        return self.rng.integers(lo, hi, size=tuple(shape)).astype(np.int64)

    def bools(self, shape, p_true):
        return self.rng.random(size=tuple(shape)) < p_true


def _enc_float(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def encode(t, **extra):
    t = t.detach()
    if t.dtype == torch.float32:
        dt, data = "float32", [_enc_float(v) for v in t.reshape(-1).double().tolist()]
    elif t.dtype == torch.int64:
        dt, data = "int64", [int(v) for v in t.reshape(-1).tolist()]
    elif t.dtype == torch.bool:
        dt, data = "bool", [bool(v) for v in t.reshape(-1).tolist()]
    else:
        raise TypeError(t.dtype)
    d = dict(extra)
    d.update({"dtype": dt, "shape": list(t.shape), "data": data})
    return d


def decode(d, float_dtype=torch.float32):
    if d["dtype"] == "float32":
        t = torch.tensor([float(v) for v in d["data"]], dtype=float_dtype)
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


def rebuild(rec, float_dtype=torch.float32):
    """The case's module with its state loaded, and its named inputs, from the JSON form."""
    m = build(rec["name"], rec["args"]).to(float_dtype)
    state = {k: decode(v, float_dtype) for k, v in rec["state"].items()}
    m.load_state_dict(state, strict=True)
    m.eval()
    ins = {}
    for d in rec["inputs"]:
        x = decode(d, float_dtype)
        if d["requires_grad"]:
            x.requires_grad_(True)
        ins[d["name"]] = x
    return m, ins


def case(cid, name, args, make, gradcheck=True):
    """make(g) -> [(input name, numpy array), ...]; float inputs require grad unless named in args["no_grad"]."""
    assert cid not in _IDS, "duplicate id " + cid
    assert cid.startswith(name + "/"), cid
    _IDS.add(cid)
    seed = zlib.crc32(cid.encode("utf-8"))
    g = Gen(seed)
    torch.manual_seed(seed)
    m = build(name, args)
    m.eval()  # dropout is 0 everywhere; eval also matches how the C# side runs the cases
    ins = {}
    for key, arr in make(g):
        t = torch.from_numpy(np.array(arr, copy=True))
        if t.dtype == torch.float32 and key not in args.get("no_grad", []):
            t.requires_grad_(True)
        ins[key] = t
    outs = run(name, args, m, ins)
    rec = {
        "id": cid, "name": name, "args": args,
        "state_keys": list(m.state_dict().keys()),
        "state": {k: encode(v) for k, v in m.state_dict().items()},
        "inputs": [encode(t, name=k, requires_grad=t.requires_grad) for k, t in ins.items()],
        "outputs": [encode(o, name=k) for k, o in outs],
        "grad_outputs": [],
        "grads": {},
        "param_grads": {},
        "gradcheck": gradcheck,
    }
    tg = torch.Generator().manual_seed(seed)
    gouts = [torch.randn(o.shape, generator=tg, dtype=torch.float32) for _, o in outs]
    rec["grad_outputs"] = [encode(go) for go in gouts]
    grad_ins = [(k, t) for k, t in ins.items() if t.requires_grad]
    params = list(m.named_parameters())
    wrt = [t for _, t in grad_ins] + [p for _, p in params]
    diff = [(o, go) for (_, o), go in zip(outs, gouts) if o.requires_grad]
    grads = torch.autograd.grad([o for o, _ in diff], wrt, [go for _, go in diff], allow_unused=True)
    for i, (k, t) in enumerate(grad_ins + params):
        target = rec["grads"] if i < len(grad_ins) else rec["param_grads"]
        target[k] = encode(grads[i] if grads[i] is not None else torch.zeros_like(t))
    CASES.append(rec)


def lengths_of(*ls):
    return np.array(ls, np.int64)


def embedding_cases():
    case("embedding/basic", "embedding", {"num": 7, "dim": 3}, lambda g: [("input", g.ints([2, 3], 0, 7))])

    def padded(g):
        idx = g.ints([3, 4], 0, 6)
        idx[0, 1] = idx[2, 3] = idx[1, 0] = 2  # the padding row, several times
        idx[1, 2] = idx[2, 0] = 4               # a repeated row accumulates
        return [("input", idx)]

    # The padding row gets no gradient by design, so these two are not the true derivative (no gradcheck).
    case("embedding/padding_idx", "embedding", {"num": 6, "dim": 4, "padding_idx": 2}, padded, gradcheck=False)
    case("embedding/negative_padding_idx", "embedding", {"num": 5, "dim": 2, "padding_idx": -1},
         lambda g: [("input", np.array([[4, 0, 4], [1, 4, 3]], np.int64))], gradcheck=False)
    case("embedding/scalar_index", "embedding", {"num": 4, "dim": 3}, lambda g: [("input", np.array(3, np.int64))])
    case("embedding/empty", "embedding", {"num": 4, "dim": 3}, lambda g: [("input", np.zeros([0, 2], np.int64))])


def recurrent_cases():
    big = {"input": 3, "hidden": 4, "layers": 2, "batch_first": True, "bidirectional": True}
    B, T, I, H, LD = 3, 5, 3, 4, 4

    def packed(lstm):
        def make(g):
            xs = [("x", g.U([B, T, I])), ("h0", g.U([LD, B, H], -0.5, 0.5))]
            if lstm:
                xs.append(("c0", g.U([LD, B, H], -0.5, 0.5)))
            xs.append(("lengths", lengths_of(2, 5, 1)))  # unsorted, one full, one of length 1
            return xs
        return make

    case("lstm/2l_bi_bf_packed", "lstm", big, packed(True))
    case("gru/2l_bi_bf_packed", "gru", big, packed(False))
    case("rnn/tanh_2l_bi_bf_packed", "rnn", dict(big, nonlinearity="tanh"), packed(False))
    case("rnn/relu_2l_bi_bf_packed", "rnn", dict(big, nonlinearity="relu"), packed(False))
    # Default (zero) initial states, sequence-first, no lengths.
    case("lstm/1l_seq_first_default_states", "lstm", {"input": 2, "hidden": 3}, lambda g: [("x", g.U([4, 2, 2]))])
    case("gru/2l_seq_first_no_bias", "gru", {"input": 3, "hidden": 2, "layers": 2, "bias": False},
         lambda g: [("x", g.U([3, 2, 3])), ("h0", g.U([2, 2, 2]))])
    case("lstm/bi_seq_first_packed_no_states", "lstm", {"input": 2, "hidden": 3, "bidirectional": True},
         lambda g: [("x", g.U([4, 3, 2])), ("lengths", lengths_of(4, 1, 3))])
    case("rnn/tanh_unbatched", "rnn", {"input": 3, "hidden": 2, "layers": 2, "bidirectional": True},
         lambda g: [("x", g.U([4, 3])), ("h0", g.U([4, 2]))])
    case("lstm/unbatched_no_bias", "lstm", {"input": 2, "hidden": 3, "bias": False},
         lambda g: [("x", g.U([3, 2])), ("h0", g.U([1, 3])), ("c0", g.U([1, 3]))])


def cell_cases():
    case("rnn_cell/tanh", "rnn_cell", {"input": 3, "hidden": 4}, lambda g: [("x", g.U([2, 3])), ("hx", g.U([2, 4]))])
    case("rnn_cell/relu_no_bias", "rnn_cell", {"input": 3, "hidden": 4, "nonlinearity": "relu", "bias": False},
         lambda g: [("x", g.U([2, 3])), ("hx", g.U([2, 4]))])
    case("rnn_cell/no_state", "rnn_cell", {"input": 2, "hidden": 3}, lambda g: [("x", g.U([3, 2]))])
    case("lstm_cell/basic", "lstm_cell", {"input": 3, "hidden": 2},
         lambda g: [("x", g.U([2, 3])), ("hx", g.U([2, 2])), ("cx", g.U([2, 2]))])
    case("lstm_cell/no_state_no_bias", "lstm_cell", {"input": 3, "hidden": 2, "bias": False}, lambda g: [("x", g.U([2, 3]))])
    case("lstm_cell/unbatched", "lstm_cell", {"input": 2, "hidden": 3},
         lambda g: [("x", g.U([2])), ("hx", g.U([3])), ("cx", g.U([3]))])
    case("gru_cell/basic", "gru_cell", {"input": 3, "hidden": 4}, lambda g: [("x", g.U([2, 3])), ("hx", g.U([2, 4]))])
    case("gru_cell/unbatched_no_bias", "gru_cell", {"input": 3, "hidden": 2, "bias": False},
         lambda g: [("x", g.U([3])), ("hx", g.U([2]))])


def key_mask(g, b, s):
    """A key-padding mask (True = ignore) that leaves key 0 visible in every row (no fully masked rows)."""
    m = g.bools([b, s], 0.4)
    m[:, 0] = False
    return m


def attention_cases():
    case("additive_attention/masked", "additive_attention", {"query": 4, "key": 3, "hidden": 5},
         lambda g: [("query", g.U([2, 3, 4])), ("keys", g.U([2, 5, 3])), ("values", g.U([2, 5, 2])), ("mask", key_mask(g, 2, 5))])
    case("additive_attention/single_query_keys_as_values", "additive_attention", {"query": 3, "key": 3, "hidden": 4},
         lambda g: [("query", g.U([2, 3])), ("keys", g.U([2, 4, 3]))])
    case("luong_attention/dot_masked", "luong_attention", {"score": "dot", "query": 4, "key": 4},
         lambda g: [("query", g.U([2, 3, 4])), ("keys", g.U([2, 5, 4])), ("values", g.U([2, 5, 3])), ("mask", key_mask(g, 2, 5))])
    case("luong_attention/general", "luong_attention", {"score": "general", "query": 4, "key": 3},
         lambda g: [("query", g.U([2, 3, 4])), ("keys", g.U([2, 5, 3])), ("values", g.U([2, 5, 2]))])
    case("luong_attention/general_single_query", "luong_attention", {"score": "general", "query": 2, "key": 3},
         lambda g: [("query", g.U([3, 2])), ("keys", g.U([3, 4, 3])), ("mask", key_mask(g, 3, 4))])

    def sdpa(qs, ks, vs, mask=None):
        def make(g):
            xs = [("q", g.U(qs, -2, 2)), ("k", g.U(ks, -2, 2)), ("v", g.U(vs))]
            if mask is not None:
                xs.append(("attn_mask", mask(g)))
            return xs
        return make

    def attend_mask(g):
        m = g.bools([3, 5], 0.6)  # True = takes part in attention (PyTorch's SDPA convention)
        m[:, 2] = True
        return m

    case("sdpa/no_mask", "sdpa", {}, sdpa([2, 3, 4], [2, 5, 4], [2, 5, 6]))
    case("sdpa/bool_mask", "sdpa", {}, sdpa([2, 3, 4], [2, 5, 4], [2, 5, 3], attend_mask))
    case("sdpa/float_mask_4d", "sdpa", {"no_grad": ["attn_mask"]},
         sdpa([2, 2, 3, 4], [2, 2, 5, 4], [2, 2, 5, 3], lambda g: g.U([2, 1, 3, 5], -1, 1)))
    case("sdpa/causal_square", "sdpa", {"is_causal": True}, sdpa([2, 4, 3], [2, 4, 3], [2, 4, 2]))
    case("sdpa/causal_rectangular", "sdpa", {"is_causal": True}, sdpa([1, 3, 4], [1, 5, 4], [1, 5, 2]))

    E = 8

    def causal(n):
        return np.triu(np.ones([n, n], bool), 1)  # True = not allowed (MultiheadAttention's convention)

    case("mha/self_seq_first_bool_masks", "mha", {"embed": E, "heads": 2},
         lambda g: [("query", g.U([4, 3, E])), ("attn_mask", causal(4)), ("key_padding_mask", key_mask(g, 3, 4))])
    case("mha/cross_batch_first_float_attn_bool_padding", "mha", {"embed": E, "heads": 2, "batch_first": True, "no_grad": ["attn_mask"]},
         lambda g: [("query", g.U([2, 3, E])), ("key", g.U([2, 5, E])), ("value", g.U([2, 5, E])),
                    ("attn_mask", g.U([4, 3, 5], -1, 1)), ("key_padding_mask", key_mask(g, 2, 5))])
    case("mha/float_padding_kv_shared", "mha", {"embed": E, "heads": 4, "no_grad": ["key_padding_mask"]},
         lambda g: [("query", g.U([3, 2, E])), ("key", g.U([5, 2, E])), ("key_padding_mask", g.U([2, 5], -1, 1))])
    case("mha/no_bias_per_head_weights", "mha", {"embed": E, "heads": 2, "bias": False, "average": False},
         lambda g: [("query", g.U([3, 2, E]))])
    case("mha/unbatched", "mha", {"embed": E, "heads": 2}, lambda g: [("query", g.U([4, E])), ("key_padding_mask", np.array([False, False, True, False]))])

    case("transformer_encoder_layer/post_norm_relu_src_mask", "transformer_encoder_layer", {"d_model": E, "nhead": 2, "ff": 16},
         lambda g: [("src", g.U([5, 2, E])), ("src_mask", causal(5))])
    case("transformer_encoder_layer/pre_norm_gelu_batch_first_padding", "transformer_encoder_layer",
         {"d_model": E, "nhead": 2, "ff": 12, "activation": "gelu", "batch_first": True, "norm_first": True},
         lambda g: [("src", g.U([2, 5, E])), ("src_key_padding_mask", key_mask(g, 2, 5))])


# --------------------------------------------------------------------------
# Validation and output
# --------------------------------------------------------------------------
def validate(doc, gradcheck):
    ids = set()
    for rec in doc["cases"]:
        assert rec["id"] not in ids, rec["id"]
        ids.add(rec["id"])
        for d in rec["outputs"] + rec["inputs"] + list(rec["state"].values()) + rec["grad_outputs"]:
            n = int(np.prod(d["shape"])) if d["shape"] else 1
            assert len(d["data"]) == n, rec["id"]
        assert rec["state_keys"] == list(rec["state"].keys()), rec["id"]
        m, ins = rebuild(rec)
        outs = run(rec["name"], rec["args"], m, ins)
        assert [k for k, _ in outs] == [o["name"] for o in rec["outputs"]], rec["id"]
        for (_, o), e in zip(outs, rec["outputs"]):
            assert torch.equal(o.detach(), decode(e)), rec["id"] + ": output not reproducible"
        for k, gr in rec["grads"].items():
            assert list(ins[k].shape) == gr["shape"], rec["id"]
        for k, p in m.named_parameters():
            assert list(p.shape) == rec["param_grads"][k]["shape"], rec["id"]
        if gradcheck and rec["gradcheck"]:
            m64, ins64 = rebuild(rec, torch.float64)
            params = [p for _, p in m64.named_parameters()]
            names = [k for k, t in ins64.items() if t.requires_grad]
            wrt = [ins64[k] for k in names] + params
            if not wrt:
                continue

            def f(*ts):
                cur = dict(ins64)
                for k, t in zip(names, ts):
                    cur[k] = t
                return tuple(o for _, o in run(rec["name"], rec["args"], m64, cur) if o.requires_grad)

            try:
                ok = torch.autograd.gradcheck(f, tuple(wrt), eps=1e-6, atol=1e-5, rtol=1e-3)
            except Exception as e:
                raise AssertionError(rec["id"] + ": gradcheck failed") from e
            assert ok, rec["id"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out_path = os.path.abspath(args[0]) if args else DEFAULT_OUT
    gradcheck = "--no-gradcheck" not in sys.argv
    embedding_cases()
    recurrent_cases()
    cell_cases()
    attention_cases()
    text = "{\n" + ",\n".join([
        '"generator": ' + json.dumps(GENERATOR),
        '"torch_version": ' + json.dumps(torch.__version__),
        '"cases": [\n' + ",\n".join(json.dumps(c, separators=(",", ":")) for c in CASES) + "\n]",
    ]) + "\n}\n"
    folder = os.path.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".rnn-", suffix=".json", dir=folder)
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
