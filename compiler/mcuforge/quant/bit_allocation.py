"""Per-layer weight widths by integer programming (scipy.optimize.milp, HiGHS).

Variables: x[i, b] in {0, 1}, layer i at width b, sum_b x[i, b] = 1. For each pair of neighbouring
layers with inter-layer terms, y[p, b, b'] in [0, 1] stands for x[i, b] * x[j, b'] (linearised:
y <= x[i, b], y <= x[j, b'], y >= x[i, b] + x[j, b'] - 1; with binary x these force y exactly).

    minimise   sum_i,b cost[i, b] x[i, b] + sum_p,b,b' cross[p, b, b'] y[p, b, b']
    subject to sum_i,b bytes[i, b] x[i, b] <= flash budget - fixed bytes      (if given)
               sum_i,b instr[i, b] x[i, b] <= instruction budget - fixed part  (if given)

cost[i, b] = Omega_i(b) / 2 and cross are the predicted loss terms of quant.sensitivity.
The Pareto frontier of size vs predicted loss comes from solving at every distinct size budget
between the all-2-bit and the all-8-bit configuration."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import McuforgeError
from .sensitivity import Sensitivity


@dataclass
class Allocation:
    config: dict                 # layer name -> bits
    predicted_loss: float
    weight_bytes: int            # packed weight bytes of the chosen widths (+ fixed bytes)
    instructions: float | None = None
    flash_budget: int | None = None
    instr_budget: int | None = None
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"config": self.config, "predicted_loss": self.predicted_loss, "weight_bytes": self.weight_bytes,
                "instructions": self.instructions, "flash_budget": self.flash_budget,
                "instr_budget": self.instr_budget}


def allocate(sens: Sensitivity, flash_budget: int | None = None, instr_budget: int | None = None,
             instr_cost: dict | None = None, fixed_bytes: int = 0, fixed_instr: float = 0.0,
             interlayer: bool = True, widths=None, time_limit: float = 30.0) -> Allocation:
    """The configuration of least predicted loss within the budgets. instr_cost: {(layer, bits):
    predicted instructions} (needed with instr_budget). fixed_*: the parts no width changes
    (biases and multipliers; layers without weights)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    widths = tuple(widths or sens.widths)
    names = [l.name for l in sens.layers]
    var = {(n, b): k for k, (n, b) in enumerate((n, b) for n in names for b in widths)}
    pairs = [(p, bi, bj) for p, t in sens.pairs.items() for bi in widths for bj in widths] if interlayer else []
    nx_, ny = len(var), len(pairs)
    c = np.zeros(nx_ + ny)
    for (n, b), k in var.items():
        c[k] = sens.cost(n, b)
    for k, ((i, j), bi, bj) in enumerate(pairs):
        c[nx_ + k] = sens.pairs[(i, j)][(bi, bj)]
    # losses are tiny numbers (1e-5): scale them to O(1) so HiGHS's absolute gap (1e-6) does not
    # stop it early; ties (layers with no measurable sensitivity) go to the smaller configuration
    c = c / max(np.abs(c).max(initial=0.0), 1e-30)
    tie = 1e-6 / max(max(l.bytes.values()) for l in sens.layers)
    for (n, b), k in var.items():
        c[k] += tie * sens.layer(n).bytes[b]
    rows, lo, hi = [], [], []

    def row():
        return np.zeros(nx_ + ny)

    for n in names:
        r = row()
        for b in widths:
            r[var[(n, b)]] = 1
        rows.append(r), lo.append(1), hi.append(1)
    for k, ((i, j), bi, bj) in enumerate(pairs):
        y = nx_ + k
        for xv in (var[(i, bi)], var[(j, bj)]):
            r = row()
            r[y], r[xv] = 1, -1
            rows.append(r), lo.append(-np.inf), hi.append(0)
        r = row()
        r[y], r[var[(i, bi)]], r[var[(j, bj)]] = 1, -1, -1
        rows.append(r), lo.append(-1), hi.append(np.inf)
    if flash_budget is not None:
        r = row()
        for (n, b), k in var.items():
            r[k] = sens.layer(n).bytes[b]
        rows.append(r), lo.append(-np.inf), hi.append(flash_budget - fixed_bytes)
    if instr_budget is not None:
        if instr_cost is None:
            raise McuforgeError("an instruction budget needs per-layer instruction models (instr_cost)")
        r = row()
        for (n, b), k in var.items():
            r[k] = instr_cost[(n, b)]
        rows.append(r), lo.append(-np.inf), hi.append(instr_budget - fixed_instr)
    integrality = np.r_[np.ones(nx_), np.zeros(ny)]
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=integrality,
               bounds=Bounds(0, 1), options={"time_limit": time_limit, "mip_rel_gap": 1e-9})
    if res.x is None:
        smallest = fixed_bytes + sum(min(l.bytes[b] for b in widths) for l in sens.layers)
        least = None
        if instr_budget is not None:
            least = fixed_instr + sum(min(instr_cost[(n, b)] for b in widths) for n in names)
        raise McuforgeError(infeasible_message(flash_budget, smallest, instr_budget, least))
    config = {n: next(b for b in widths if res.x[var[(n, b)]] > 0.5) for n in names}
    alloc = Allocation(config, sens.predicted_loss(config, interlayer), fixed_bytes + config_bytes(sens, config),
                       flash_budget=flash_budget, instr_budget=instr_budget)
    if instr_cost is not None:
        alloc.instructions = fixed_instr + sum(instr_cost[(n, b)] for n, b in config.items())
    return alloc


def infeasible_message(flash_budget, smallest, instr_budget, least) -> str:
    """No configuration meets the budget(s): name the smallest / fastest one that exists."""
    what = []
    if flash_budget is not None:
        what.append(f"flash budget {flash_budget} B (the smallest configuration needs {smallest} B: "
                    f"give --flash-budget {smallest} or more)")
    if instr_budget is not None:
        what.append(f"instruction budget {instr_budget} (the fastest configuration needs {least:.0f}: "
                    f"give --instr-budget {int(np.ceil(least))} or more)")
    return "no width configuration meets the " + " and the ".join(what)


def config_bytes(sens: Sensitivity, config: dict) -> int:
    return int(sum(sens.layer(n).bytes[b] for n, b in config.items()))


def pareto_frontier(sens: Sensitivity, interlayer: bool = True, fixed_bytes: int = 0,
                    max_points: int = 40) -> list[Allocation]:
    """Configurations on the frontier of (bytes, predicted loss): one ILP per size budget, budgets
    spaced between the smallest and the largest configuration; dominated points dropped."""
    widths = sens.widths
    lo = sum(min(l.bytes[b] for b in widths) for l in sens.layers)
    hi = sum(max(l.bytes[b] for b in widths) for l in sens.layers)
    budgets = np.unique(np.linspace(lo, hi, max_points).astype(int))
    points: dict = {}
    for budget in budgets:
        a = allocate(sens, flash_budget=int(budget) + fixed_bytes, fixed_bytes=fixed_bytes, interlayer=interlayer)
        points[tuple(sorted(a.config.items()))] = a
    pts = sorted(points.values(), key=lambda a: (a.weight_bytes, a.predicted_loss))
    front, best = [], np.inf
    for a in pts:
        if a.predicted_loss < best - 1e-15:
            front.append(a)
            best = a.predicted_loss
    return front


def plot_pareto(front: list[Allocation], path, others: dict | None = None, title: str = "",
                xlabel: str = "weight bytes", ylabel: str = "predicted loss increase"):
    """front: the ILP's frontier; others: label -> list of (bytes, value) points to overlay."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([a.weight_bytes for a in front], [a.predicted_loss for a in front], "o-", label="ILP frontier")
    for label, pts in (others or {}).items():
        pts = list(pts)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "x" if len(pts) > 3 else "s", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
