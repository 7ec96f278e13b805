#!/usr/bin/env python3
"""Golden fixtures for DeepSharp's character language models (Models/CharRnn.cs, Training/Trainer.LanguageModels.cs).

PyTorch builds the char-rnn with the same state-dict names as DeepSharp's CharRnn:

    embed = nn.Embedding(V, E); rnn = nn.LSTM/nn.GRU(E, H, num_layers=2, batch_first=True); head = nn.Linear(H, V)

and trains it by truncated BPTT exactly as Trainer does for a CharRnn: the first 641 characters of
data/tinyshakespeare/input.txt (sorted-character vocabulary) are cut into B=4 parallel streams, batch k
is window k (T=8) of every stream, the final hidden state is carried into the next batch detached;
loss = cross-entropy over [B*T, V]; zero_grad, backward, clip_grad_norm_(0.4) (active on about half the steps), Adam(lr=1e-2); 20 steps
(one epoch). Then the streamed validation loss (no grad) over the next 161 characters.

Writes (atomically):
  tests/fixtures/charlstm_golden.json             tokens, hyper-parameters, losses, grad norms, val loss
  tests/fixtures/charlstm_golden_init.safetensors initial LSTM model weights
  tests/fixtures/charlstm_golden_gru_init.safetensors  the same for the GRU variant

Run with Debian's PyTorch: /usr/bin/python3 scripts/gen_seq_fixtures.py (deterministic: same bytes every run).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_safetensors_fixture import serialize, write_atomic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")

B, T, STEPS, E, H, LAYERS, LR, CLIP = 4, 8, 20, 8, 16, 2, 1e-2, 0.4
TRAIN_CHARS, VAL_CHARS = B * T * STEPS + 1, 161


class CharRnn(nn.Module):
    def __init__(self, vocab, cell):
        super().__init__()
        self.embed = nn.Embedding(vocab, E)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(E, H, num_layers=LAYERS, batch_first=True)
        self.head = nn.Linear(H, vocab)

    def forward(self, x, state):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def stream_batches(tokens, b, t):
    """DeepSharp's StreamBatches: b streams of (n-1)//b tokens; batch k is window k of every stream."""
    stream = (len(tokens) - 1) // b
    for k in range(stream // t):
        x = torch.stack([tokens[i * stream + k * t: i * stream + k * t + t] for i in range(b)])
        y = torch.stack([tokens[i * stream + k * t + 1: i * stream + k * t + t + 1] for i in range(b)])
        yield x, y


def run(cell, train, val, vocab, seed):
    torch.manual_seed(seed)
    model = CharRnn(vocab, cell)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    losses, norms, state = [], [], None
    for x, y in stream_batches(train, B, T):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
        state = detach(state)
        losses.append(loss.item())
    assert len(losses) == STEPS, len(losses)
    # Validation as Trainer.Evaluate(tokens): t = min(T, n-1), b = min(B, (n-1)//t), state carried, no grad.
    t = min(T, len(val) - 1)
    b = max(1, min(B, (len(val) - 1) // t))
    with torch.no_grad():
        state, total, count = None, 0.0, 0
        for x, y in stream_batches(val, b, t):
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)).item()
            count += 1
    return init, {"losses": losses, "grad_norms": norms, "val_loss": total / count}


def main():
    torch.set_num_threads(1)
    with open(os.path.join(ROOT, "data", "tinyshakespeare", "input.txt"), encoding="utf-8") as f:
        text = f.read(TRAIN_CHARS + VAL_CHARS)
    chars = sorted(set(text))
    ids = {c: i for i, c in enumerate(chars)}
    tokens = torch.tensor([ids[c] for c in text], dtype=torch.int64)
    train, val = tokens[:TRAIN_CHARS], tokens[TRAIN_CHARS:]
    doc = {"generator": "scripts/gen_seq_fixtures.py", "torch_version": torch.__version__,
           "vocabulary": "".join(chars), "train_tokens": train.tolist(), "val_tokens": val.tolist(),
           "batch_size": B, "sequence_length": T, "embedding_dim": E, "hidden_size": H, "num_layers": LAYERS,
           "optimizer": {"name": "adam", "lr": LR}, "clip_grad_norm": CLIP, "cases": {}}
    for cell, seed, file in (("lstm", 0, "charlstm_golden_init.safetensors"), ("gru", 1, "charlstm_golden_gru_init.safetensors")):
        init, result = run(cell, train, val, len(chars), seed)
        assert any(n > CLIP for n in result["grad_norms"]), f"{cell}: clipping never active"
        write_atomic(os.path.join(FIX, file), serialize(init))
        doc["cases"][cell] = dict(result, init=file)
        print(f"{cell}: loss {result['losses'][0]:.4f} -> {result['losses'][-1]:.4f}, val {result['val_loss']:.4f}, "
              f"clipped {sum(n > CLIP for n in result['grad_norms'])}/{STEPS} steps")
    write_atomic(os.path.join(FIX, "charlstm_golden.json"), (json.dumps(doc, indent=1) + "\n").encode())


if __name__ == "__main__":
    main()
