#!/usr/bin/python3
"""Generate PyTorch reference data for DeepSharp's optimizer, scheduler and clipping tests.

Usage (Debian's python3 has torch 1.13; the pyenv python3 on PATH does not):

    /usr/bin/python3 scripts/gen_optim_fixtures.py [output_path]

Writes tests/fixtures/optim.json (relative to the repo root) atomically: a temp file in the same
folder, checked by parsing it back, then os.replace. The output is deterministic (fixed seeds,
single thread, no timestamps), so a rerun gives byte-identical output.

Format:
    {"generator", "torch_version",
     "problem":    {"x", "y", "W", "b", "u"}           flat row-major float64 values + shapes
     "optimizers": [{"id", "optimizer", "options", "groups", "float64": TRAJ, "float32": TRAJ}]
     "schedulers": [{"id", "scheduler", "args", "optimizer", "group_lrs", "metrics",
                     "lr": [[per group] per epoch], "momentum": [[per group] per epoch] or null}]
     "clip":       [{"id", "kind", "args", "dtype", "grads", "total_norm", "clipped"}]}

The optimization problem: parameters W [3,4], b [4] and u [2] (u never gets a gradient, so the
optimizer must skip it); loss = sum((tanh(x @ W + b) - y)^2) + 0.5 * sum(b^2) with fixed x [5,3],
y [5,4]. TRAJ = {"W": [[12 values] per step], "b": [[4 values] per step]} for steps 1..20.
"options" holds only the arguments passed to torch (the rest are torch's defaults, which the C#
options records must share). "groups", when present, lists [param indices, options] per group
and "options" are then the defaults of every group. Option names are torch's (betas as a list).
"""

import json
import math
import os
import sys
import tempfile

import torch

GENERATOR = "scripts/gen_optim_fixtures.py"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "optim.json")
STEPS = 20
EPOCHS = 30

torch.set_num_threads(1)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


# ---------------------------------------------------------------- the problem

def make_problem():
    g = torch.Generator().manual_seed(1234)
    return {
        "x": torch.randn(5, 3, generator=g, dtype=torch.float64),
        "y": torch.rand(5, 4, generator=g, dtype=torch.float64) * 2 - 1,
        "W": torch.randn(3, 4, generator=g, dtype=torch.float64) * 0.5,
        "b": torch.randn(4, generator=g, dtype=torch.float64) * 0.5,
        "u": torch.randn(2, generator=g, dtype=torch.float64),
    }


def loss_fn(x, y, W, b):
    return ((torch.tanh(x @ W + b) - y) ** 2).sum() + 0.5 * (b ** 2).sum()


OPTIMIZERS = {
    "SGD": torch.optim.SGD, "Adagrad": torch.optim.Adagrad, "RMSprop": torch.optim.RMSprop,
    "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW, "Adadelta": torch.optim.Adadelta,
}


def torch_kwargs(options):
    kw = dict(options)
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return kw


def run_optimizer(case, dtype):
    p = make_problem()
    x, y = p["x"].to(dtype), p["y"].to(dtype)
    params = [p[k].to(dtype).clone().requires_grad_() for k in ("W", "b", "u")]
    cls = OPTIMIZERS[case["optimizer"]]
    defaults = torch_kwargs(case["options"])
    defaults["foreach"] = False  # the single-tensor reference path
    if case["groups"] is None:
        opt = cls(params, **defaults)
    else:
        groups = [dict(params=[params[i] for i in idx], **torch_kwargs(o)) for idx, o in case["groups"]]
        opt = cls(groups, **defaults)
    W, b, u = params
    u0 = u.detach().clone()
    traj = {"W": [], "b": []}
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss_fn(x, y, W, b).backward()
        opt.step()
        traj["W"].append(flat(W))
        traj["b"].append(flat(b))
    assert torch.equal(u.detach(), u0), "a parameter without grad changed"
    return traj


def optimizer_cases():
    cases = []

    def case(id, optimizer, options, groups=None):
        c = {"id": id, "optimizer": optimizer, "options": options, "groups": groups}
        c["float64"] = run_optimizer(c, torch.float64)
        c["float32"] = run_optimizer(c, torch.float32)
        cases.append(c)

    case("sgd", "SGD", {"lr": 0.1})
    case("sgd_momentum", "SGD", {"lr": 0.05, "momentum": 0.9})
    case("sgd_dampening_wd", "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01})
    case("sgd_nesterov_wd", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1})
    case("sgd_maximize", "SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True})
    case("sgd_groups", "SGD", {"lr": 0.1, "momentum": 0.5},
         groups=[[[0], {}], [[1, 2], {"lr": 0.02, "momentum": 0.9, "nesterov": True}]])
    case("adagrad", "Adagrad", {})
    case("adagrad_all", "Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6})
    case("adagrad_maximize", "Adagrad", {"lr": 0.05, "maximize": True})
    case("rmsprop", "RMSprop", {})
    case("rmsprop_momentum", "RMSprop", {"lr": 0.005, "momentum": 0.9})
    case("rmsprop_centered", "RMSprop", {"centered": True})
    case("rmsprop_centered_momentum_wd", "RMSprop",
         {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5, "centered": True})
    case("rmsprop_maximize", "RMSprop", {"lr": 0.001, "maximize": True})
    case("adam", "Adam", {})
    case("adam_lr", "Adam", {"lr": 0.05})
    case("adam_amsgrad", "Adam", {"lr": 0.05, "amsgrad": True})
    case("adam_wd_betas_eps", "Adam", {"lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1})
    case("adam_amsgrad_wd_maximize", "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05, "maximize": True})
    case("adam_groups", "Adam", {"lr": 0.05},
         groups=[[[1], {"lr": 0.01, "amsgrad": True}], [[0, 2], {"betas": [0.5, 0.9]}]])
    case("adamw", "AdamW", {})
    case("adamw_lr_wd", "AdamW", {"lr": 0.05, "weight_decay": 0.1})
    case("adamw_amsgrad", "AdamW", {"lr": 0.05, "amsgrad": True, "betas": [0.85, 0.995]})
    case("adamw_maximize", "AdamW", {"lr": 0.01, "maximize": True})
    case("adadelta", "Adadelta", {})
    case("adadelta_all", "Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1})
    case("adadelta_maximize", "Adadelta", {"lr": 0.1, "maximize": True})
    return cases


# ---------------------------------------------------------------- schedulers

SCHEDULERS = {
    "StepLR": torch.optim.lr_scheduler.StepLR,
    "MultiStepLR": torch.optim.lr_scheduler.MultiStepLR,
    "ExponentialLR": torch.optim.lr_scheduler.ExponentialLR,
    "CosineAnnealingLR": torch.optim.lr_scheduler.CosineAnnealingLR,
    "LinearLR": torch.optim.lr_scheduler.LinearLR,
    "OneCycleLR": torch.optim.lr_scheduler.OneCycleLR,
    "ReduceLROnPlateau": torch.optim.lr_scheduler.ReduceLROnPlateau,
}


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group.get("momentum")


def scheduler_cases():
    cases = []

    def case(id, scheduler, args, optimizer="SGD", group_lrs=(0.1,), metrics=None, track_momentum=False):
        params = [torch.zeros(2, requires_grad=True) for _ in group_lrs]
        groups = [{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)]
        extra = {"momentum": 0.9} if optimizer == "SGD" else {}
        opt = OPTIMIZERS[optimizer](groups, **extra)
        sched = SCHEDULERS[scheduler](opt, **args)
        lrs, moms = [], []

        def record():
            lrs.append([g["lr"] for g in opt.param_groups])
            moms.append([momentum_of(g) for g in opt.param_groups])

        record()
        for epoch in range(EPOCHS):
            opt.step()
            if metrics is None:
                sched.step()
            else:
                sched.step(metrics[epoch])
            record()
        if scheduler != "ReduceLROnPlateau":
            assert sched.get_last_lr() == lrs[-1]
        cases.append({"id": id, "scheduler": scheduler, "args": args, "optimizer": optimizer,
                      "group_lrs": list(group_lrs), "metrics": metrics, "lr": lrs,
                      "momentum": moms if track_momentum else None})

    case("step", "StepLR", {"step_size": 5, "gamma": 0.5})
    case("step_default_gamma_groups", "StepLR", {"step_size": 3}, group_lrs=(0.1, 0.02))
    case("multistep", "MultiStepLR", {"milestones": [3, 7, 7, 12], "gamma": 0.3})
    case("exponential", "ExponentialLR", {"gamma": 0.9}, group_lrs=(0.5, 0.01))
    case("cosine", "CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001})
    case("cosine_default_eta", "CosineAnnealingLR", {"T_max": 7}, optimizer="Adam", group_lrs=(0.01,))
    case("linear_warmup", "LinearLR", {"start_factor": 0.25, "total_iters": 8})
    case("linear_defaults", "LinearLR", {})
    case("linear_decay", "LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 10}, group_lrs=(0.1, 0.3))
    case("onecycle_cos_sgd", "OneCycleLR", {"max_lr": 1.0, "total_steps": EPOCHS}, track_momentum=True)
    case("onecycle_linear_three_phase_adam", "OneCycleLR",
         {"max_lr": 0.01, "total_steps": EPOCHS, "anneal_strategy": "linear", "three_phase": True,
          "base_momentum": 0.8, "max_momentum": 0.9}, optimizer="Adam", group_lrs=(0.001,), track_momentum=True)
    case("onecycle_no_momentum_adagrad", "OneCycleLR",
         {"max_lr": 0.5, "total_steps": EPOCHS + 5, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0,
          "cycle_momentum": False}, optimizer="Adagrad", group_lrs=(0.1, 0.2))
    case("onecycle_rmsprop_groups", "OneCycleLR", {"max_lr": 0.2, "total_steps": EPOCHS, "pct_start": 0.4},
         optimizer="RMSprop", group_lrs=(0.1, 0.05), track_momentum=True)
    plateau = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.97, 0.5, 0.5, 0.5, 0.5, 0.49999, 0.6, 0.7, 0.2,
               0.2, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    case("plateau_min_rel", "ReduceLROnPlateau", {"patience": 2, "factor": 0.5, "cooldown": 1, "min_lr": 0.01, "threshold": 0.01},
         metrics=plateau)
    case("plateau_defaults", "ReduceLROnPlateau", {"patience": 1}, metrics=plateau, group_lrs=(0.1, 1e-8))
    accuracy = [0.1, 0.2, 0.25, 0.26, 0.26, 0.3, 0.3, 0.3, 0.3, 0.31, 0.4, 0.4, 0.4, 0.4, 0.4,
                0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    case("plateau_max_abs", "ReduceLROnPlateau",
         {"mode": "max", "threshold_mode": "abs", "threshold": 0.02, "patience": 1, "factor": 0.3, "min_lr": [0.001]},
         metrics=accuracy)
    return cases


# ---------------------------------------------------------------- clipping

def clip_cases():
    cases = []
    g = torch.Generator().manual_seed(99)
    base = [torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64) * 3,
            torch.randn(37, generator=g, dtype=torch.float64) * 0.1]

    def case(id, kind, args, dtype):
        params = []
        for t in base:
            p = torch.zeros_like(t, dtype=dtype, requires_grad=True)
            p.grad = t.to(dtype).clone()
            params.append(p)
        params.append(torch.zeros(2, dtype=dtype, requires_grad=True))  # no grad: skipped
        grads = [flat(p.grad) for p in params[:3]]
        total = None
        if kind == "norm":
            total = float(torch.nn.utils.clip_grad_norm_(params, **args))
        else:
            torch.nn.utils.clip_grad_value_(params, **args)
        cases.append({"id": id, "kind": kind, "args": args, "dtype": str(dtype).replace("torch.", ""),
                      "grads": grads, "total_norm": total, "clipped": [flat(p.grad) for p in params[:3]]})

    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        case(f"norm2_{name}", "norm", {"max_norm": 1.0}, dtype)
        case(f"norm2_noclip_{name}", "norm", {"max_norm": 100.0}, dtype)
        case(f"norm_inf_{name}", "norm", {"max_norm": 0.5, "norm_type": math.inf}, dtype)
        case(f"norm1_{name}", "norm", {"max_norm": 2.0, "norm_type": 1.0}, dtype)
        case(f"norm3_{name}", "norm", {"max_norm": 1.5, "norm_type": 3.0}, dtype)
        case(f"value_{name}", "value", {"clip_value": 0.3}, dtype)
    return cases


# ---------------------------------------------------------------- output

def encode(obj):
    """JSON with infinities as strings (the C# side maps them back)."""
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    problem = {k: {"shape": list(v.shape), "data": flat(v)} for k, v in make_problem().items()}
    data = {
        "generator": GENERATOR,
        "torch_version": torch.__version__,
        "problem": problem,
        "optimizers": optimizer_cases(),
        "schedulers": scheduler_cases(),
        "clip": clip_cases(),
    }
    text = json.dumps(encode(data), allow_nan=False, separators=(",", ":"))
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".optim.", suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.write("\n")
        with open(tmp) as f:
            assert json.load(f)["optimizers"], "fixture file did not round-trip"
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {out}: {len(data['optimizers'])} optimizer, {len(data['schedulers'])} scheduler, {len(data['clip'])} clip cases")


if __name__ == "__main__":
    main()
