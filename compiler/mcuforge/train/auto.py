"""`--update auto`: the automatic sparse-update scheme (the paper's contribution analysis plus a
constrained selection).

1. Candidates: the bias of each of the last `max_layers` parameterised layers, and their weights
   at each ratio r in {1/8, 1/4, 1/2, 1} of the output channels.
2. Contribution of each candidate alone: a short fine-tuning run (`epochs` passes over the
   labelled samples, SGD with the step's lr / momentum) on the float32 golden training graph,
   measured as the drop of the mean loss on the held-out samples. (float32 for speed; the int8
   step follows it closely with QAS, which is the point of QAS.)
3. Cost of each candidate: the training SRAM of the scheme holding just that candidate
   (train/memory.py, our arena planner on the pruned graph in the requested quant mode), minus
   the cheapest candidate's; contributions are assumed additive, as the paper does.
4. Selection: a group knapsack (one ratio per weight tensor) by dynamic programming over the
   budget in 64-byte units, then the chosen scheme is planned for real and the lowest
   value-per-byte item dropped until it fits. A budget below the cheapest scheme fails naming
   the bytes.
"""
from __future__ import annotations

import math


import numpy as np

from ..errors import McuforgeError
from ..ir.graph import Graph
from .sparse import RATIOS, Trained, layers

UNIT = 64


def candidates(f: Graph, max_layers: int) -> list[Trained]:
    out = []
    for n in layers(f)[-max_layers:]:
        cout = f.tensors[n.inputs[1]].shape[0]
        if len(n.inputs) > 2 and n.inputs[2]:
            out.append(Trained(n.name, "bias", cout, cout))
        seen = set()
        for r in sorted(RATIOS):
            rows = max(1, math.ceil(r * cout))
            if rows not in seen:
                seen.add(rows)
                out.append(Trained(n.name, "weight", rows, cout, r))
    return out


def _samples(f: Graph, data, labels):
    from ..api import load_samples
    if data is None or labels is None:
        raise McuforgeError("--update auto needs labelled samples to measure each tensor's contribution: "
                            "pass auto_data / auto_labels (CLI: --auto-data X.npy --auto-labels Y.npy) "
                            "or give an --update SPEC")
    xs = [s[f.inputs[0]] for s in load_samples(data, f)]
    ys = np.asarray(np.load(labels) if isinstance(labels, str) else labels).reshape(-1).astype(np.int64)
    if len(xs) != len(ys):
        raise McuforgeError(f"auto: {len(xs)} samples but {len(ys)} labels")
    if len(xs) < 4:
        raise McuforgeError("auto: give at least 4 labelled samples")
    return xs, ys


def contribution(f: Graph, scheme: list[Trained], xs, ys, n_train: int, lr: float, momentum: float,
                 epochs: int, loss: str) -> float:
    from .build import assemble
    from .golden import TrainState
    g = assemble(f, None, scheme, quant="float32", loss=loss, lr=lr, momentum=momentum)
    st = TrainState(g)
    for _ in range(epochs):
        for x, y in zip(xs[:n_train], ys[:n_train]):
            st.step(x, y)
    return float(np.mean([st.gradients(x, y)[0] for x, y in zip(xs[n_train:], ys[n_train:])]))


def choose_scheme(f: Graph, q: Graph | None, quant: str = "int8", calib=None, loss: str = "xent",
                  sram_budget: int | None = None, lr: float = 0.01, momentum: float = 0.9, qas: bool = True,
                  master: bool = True, data=None, labels=None, epochs: int = 1, max_layers: int = 6, log=None) -> list[Trained]:
    from .build import assemble
    from .memory import training_sram
    xs, ys = _samples(f, data if data is not None else None, labels)
    n_train = max(2, (2 * len(xs)) // 3)
    cands = candidates(f, max_layers)
    base_g = assemble(f, None, [cands[0]], quant="float32", loss=loss, lr=lr, momentum=momentum)
    from .golden import TrainState
    st0 = TrainState(base_g)
    loss0 = float(np.mean([st0.gradients(x, y)[0] for x, y in zip(xs[n_train:], ys[n_train:])]))
    values, costs = [], []
    for c in cands:
        values.append(max(0.0, loss0 - contribution(f, [c], xs, ys, n_train, lr, momentum, epochs, loss)))
        costs.append(training_sram(assemble(f, q, [c], quant=quant, loss=loss, lr=lr, momentum=momentum,
                                            qas=qas, master=master))["total"])
        if log:
            log(f"auto: {c.kind} {c.layer} rows {c.rows}/{c.channels}: loss -{values[-1]:.4f}, {costs[-1]} B")
    base = min(costs)
    if sram_budget is None:
        sram_budget = max(costs) * len(cands)     # no budget: everything that helps
    if sram_budget < base:
        raise McuforgeError(f"no sparse-update scheme fits {sram_budget} bytes of SRAM: the cheapest "
                            f"(one tensor) needs {base} bytes, {base - sram_budget} over")
    chosen = _knapsack(cands, values, [c - base for c in costs], sram_budget - base)
    if not chosen:
        chosen = [int(np.argmin(costs))]
    while True:
        scheme = [cands[i] for i in sorted(chosen)]
        need = training_sram(assemble(f, q, scheme, quant=quant, loss=loss, lr=lr, momentum=momentum,
                                      qas=qas, master=master))["total"]
        if need <= sram_budget or len(chosen) == 1:
            break
        worst = min(chosen, key=lambda i: values[i] / max(1, costs[i] - base + UNIT))
        chosen.remove(worst)
    if need > sram_budget:
        raise McuforgeError(f"no sparse-update scheme fits {sram_budget} bytes of SRAM: the best single "
                            f"tensor needs {need} bytes, {need - sram_budget} over")
    return scheme


def _knapsack(cands, values, costs, budget) -> list[int]:
    """Group knapsack: at most one candidate per (layer, kind); maximise the summed value."""
    cap = max(0, budget // UNIT)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cands):
        groups.setdefault((c.layer, c.kind), []).append(i)
    best = np.zeros(cap + 1)
    pick: list[list[int]] = [[] for _ in range(cap + 1)]
    for members in groups.values():
        nb, npick = best.copy(), [list(p) for p in pick]
        for i in members:
            w = -(-max(0, costs[i]) // UNIT)
            if values[i] <= 0 or w > cap:
                continue
            for b in range(cap, w - 1, -1):
                v = best[b - w] + values[i]
                if v > nb[b]:
                    nb[b], npick[b] = v, pick[b - w] + [i]
        best, pick = nb, npick
    return pick[int(np.argmax(best))]



