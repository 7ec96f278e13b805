#!/usr/bin/env python3
"""Whole-model golden fixtures: PyTorch trains a model for a few steps from fixed initial weights
and records the loss after every step; the C# tests load the same weights and data and must
reproduce the losses.

  mlp: nn.Sequential(Linear(784,256), ReLU, Linear(256,128), ReLU, Linear(128,10)), torch.manual_seed(0)
       initial weights, the first 50*64 Fashion-MNIST training images (pixels / 255) in order,
       batch 64, cross-entropy, SGD(lr=0.05, momentum=0.9), 50 steps.

Writes tests/fixtures/golden_mlp_init.safetensors and tests/fixtures/golden_mlp.json.
Run with Debian's PyTorch: /usr/bin/python3 scripts/gen_golden_fixtures.py
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_safetensors_fixture import serialize, write_atomic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")


def load_idx(path):
    with gzip.open(path) as f:
        d = f.read()
    magic = struct.unpack(">I", d[:4])[0]
    if magic == 2051:
        n, r, c = struct.unpack(">III", d[4:16])
        return np.frombuffer(d, np.uint8, offset=16).reshape(n, 1, r, c).astype(np.float32) / 255
    return np.frombuffer(d, np.uint8, offset=8).astype(np.int64)


def golden_mlp():
    torch.set_num_threads(1)
    data = os.path.join(ROOT, "data", "fashion-mnist")
    x = torch.from_numpy(load_idx(os.path.join(data, "train-images-idx3-ubyte.gz")))
    y = torch.from_numpy(load_idx(os.path.join(data, "train-labels-idx1-ubyte.gz")))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    bs, steps = 64, 50
    for i in range(steps):
        xb = x[i * bs:(i + 1) * bs].view(bs, -1)
        loss = F.cross_entropy(model(xb), y[i * bs:(i + 1) * bs])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    write_atomic(os.path.join(FIX, "golden_mlp_init.safetensors"), serialize(init))
    doc = {"generator": "scripts/gen_golden_fixtures.py", "model": "mlp", "batch_size": bs, "steps": steps,
           "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}, "losses": losses,
           "final_weight_sum": float(sum(p.double().sum().item() for p in model.parameters()))}
    write_atomic(os.path.join(FIX, "golden_mlp.json"), json.dumps(doc, indent=1).encode())
    print(f"golden mlp: {steps} steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    golden_mlp()
