#!/usr/bin/env python3
"""GPT golden fixture (llm.c's test_gpt2 in miniature): a tiny nanoGPT-style model written in plain torch
(2 layers, 2 heads, width 16, context 8, vocab 11, bias on, dropout 0, GELU tanh, tied lm_head), its initial
weights under nanoGPT's state-dict names, a batch of tokens and targets, the logits, the loss and every
gradient of the first forward/backward, then 3 AdamW steps (lr 1e-2, betas (0.9, 0.95), weight decay 0.1 on
parameters with dim >= 2, none on the rest, gradient clipping at 1.0) with the loss before each step and the
parameters after the last one.

Writes tests/fixtures/gpt_golden.safetensors:
  init.<name>   initial parameters (lm_head.weight is the same tensor as transformer.wte.weight)
  tokens, targets   int64 [2, 8]
  logits        [2, 8, 11] float32;  loss  [] float32
  grad.<name>   gradient of every parameter after the first backward (tied weight: summed, stored once)
  losses        [3] float32, the loss before each AdamW step
  after.<name>  parameters after 3 steps
Run with Debian's PyTorch: /usr/bin/python3 scripts/gen_gpt_fixtures.py
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_safetensors_fixture import serialize, write_atomic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")

VOCAB, LAYERS, HEADS, WIDTH, CONTEXT = 11, 2, 2, 16, 8


class LayerNorm(nn.Module):
    def __init__(self, n, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(WIDTH, 3 * WIDTH, bias=True)
        self.c_proj = nn.Linear(WIDTH, WIDTH, bias=True)

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(WIDTH, dim=2)
        q = q.view(b, t, HEADS, c // HEADS).transpose(1, 2)
        k = k.view(b, t, HEADS, c // HEADS).transpose(1, 2)
        v = v.view(b, t, HEADS, c // HEADS).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(WIDTH, 4 * WIDTH, bias=True)
        self.c_proj = nn.Linear(4 * WIDTH, WIDTH, bias=True)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = LayerNorm(WIDTH, True)
        self.attn = CausalSelfAttention()
        self.ln_2 = LayerNorm(WIDTH, True)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(VOCAB, WIDTH), wpe=nn.Embedding(CONTEXT, WIDTH),
            h=nn.ModuleList([Block() for _ in range(LAYERS)]), ln_f=LayerNorm(WIDTH, True)))
        self.lm_head = nn.Linear(WIDTH, VOCAB, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * LAYERS))
            elif p.dim() >= 2:
                torch.nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith(".bias") and "ln_" not in name:
                # non-zero biases (nanoGPT zeroes them) so their gradients and updates are exercised
                torch.nn.init.normal_(p, 0.0, 0.02)
        # larger weights than nanoGPT's 0.02 would give: logits that are not all near zero
        with torch.no_grad():
            self.lm_head.weight.mul_(10)
            for b in self.transformer.h:
                b.ln_1.weight.add_(0.1 * torch.randn(WIDTH))
                b.ln_2.bias.add_(0.1 * torch.randn(WIDTH))

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(t)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def main():
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    model = GPT()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # includes lm_head.weight (tied)
    tokens = torch.randint(0, VOCAB, (2, CONTEXT + 1))
    x, y = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    out = {"init." + k: v for k, v in state.items()}
    out["tokens"], out["targets"] = x, y

    logits = model(x)
    loss = F.cross_entropy(logits.view(-1, VOCAB), y.view(-1))
    loss.backward()
    out["logits"], out["loss"] = logits.detach().clone(), loss.detach().clone()
    for name, p in model.named_parameters():  # tied: one entry (transformer.wte.weight)
        out["grad." + name] = p.grad.detach().clone()

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    losses = []
    model.zero_grad()
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).view(-1, VOCAB), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    out["losses"] = torch.tensor(losses, dtype=torch.float32)
    for k, v in model.state_dict().items():
        out["after." + k] = v.detach().clone()
    write_atomic(os.path.join(FIX, "gpt_golden.safetensors"), serialize(out, {"generator": "scripts/gen_gpt_fixtures.py"}))
    print(f"gpt golden: loss {out['loss'].item():.6f}, losses {losses}, {sum(p.numel() for p in model.parameters())} parameters")


if __name__ == "__main__":
    main()
